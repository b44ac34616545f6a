"""The browser decoder in headless Chromium: it matches torch on the shipped models, and the live pad decodes
under the pointer without a single message to the server.

The match test runs ui/widgets/js/mlp_decoder.js on a blank page (no server) with each shipped checkpoint's payload;
the pad test drives the real app on the tiny zoo.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import REPO_ROOT, chromium_page
from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.serving.decoder_export import export_decoder

pytestmark = NEEDS_BROWSER

DECODER_JS = REPO_ROOT / "ui" / "widgets" / "js" / "mlp_decoder.js"
# Every shipped 2-D model (the pad's), and one of each larger-latent shape (the sliders'): 2, 8, 16 and 50 dimensions.
# The pad decodes unconditional models; the conditional VAEs (which need a label) have their own page.
SHIPPED = sorted(
    p
    for p in (REPO_ROOT / "checkpoints").glob("*.safetensors")
    if ("-z2" in p.name or p.stem in ("digits-vae-z8-beta1", "mnist-vae-z16-beta1", "mnist-vae-default"))
    and not read_checkpoint_info(p).model_config.needs_labels
)
MAX_PIXEL_ERROR = 1e-3  # issue #10: the browser's image and torch's, for the same codes
JS_DECODE = """([source, payload, codes]) => {
    const { vleLoadDecoder, vleDecode } = new Function(source + "\\nreturn { vleLoadDecoder, vleDecode };")();
    const net = vleLoadDecoder(payload);
    // one JSON string: Playwright passes a long list of numbers back one object each, which takes seconds
    return JSON.stringify(codes.map((z) => Array.from(vleDecode(net, z))));
}"""


def codes_for(latent_dim: int) -> np.ndarray:
    """A grid over [-4, 4]² (2-D) or prior draws at temperatures up to 2.5, plus far-out codes: float32 values."""
    rng = np.random.default_rng(0)
    if latent_dim == 2:
        grid = np.stack(np.meshgrid(np.linspace(-4, 4, 9), np.linspace(-4, 4, 9)), -1).reshape(-1, 2)
    else:
        grid = rng.normal(size=(60, latent_dim)) * rng.uniform(0.2, 2.5, size=(60, 1))
    return np.concatenate([grid, rng.normal(scale=8.0, size=(8, latent_dim))]).astype(np.float32)


def test_the_browser_decoder_matches_torch_on_the_shipped_models():
    from playwright.sync_api import sync_playwright

    assert SHIPPED, "no shipped checkpoints"
    source = DECODER_JS.read_text()
    worst: dict[str, float] = {}
    with sync_playwright() as playwright, chromium_page(playwright) as page:
        page.set_content("<html><body></body></html>")
        for path in SHIPPED:
            model, info = load_checkpoint(path)
            if model.config.arch != "mlp":
                continue
            codes = codes_for(model.config.latent_dim)
            with torch.no_grad():
                expected = model.decode(torch.from_numpy(codes)).numpy().reshape(len(codes), -1)
            got = np.array(
                json.loads(page.evaluate(JS_DECODE, [source, export_decoder(model).to_payload(), codes.tolist()]))
            )
            worst[info.name] = float(np.abs(got - expected).max())
    print("max abs pixel difference per model:", {k: f"{v:.1e}" for k, v in worst.items()})
    assert len(worst) == len(SHIPPED) >= 10, worst
    assert max(worst.values()) <= MAX_PIXEL_ERROR, worst


def pad_image(page, pad) -> str:
    return pad.locator("canvas.vle-lp-img").evaluate("canvas => canvas.toDataURL()")


def test_dragging_on_the_pad_decodes_in_the_browser_and_sends_nothing_to_the_server(app_env):
    from playwright.sync_api import sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    sent: list[str] = []  # every websocket frame the page sends: Streamlit's BackMsgs (reruns, widget values)
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, url)
        page.goto(f"{url}/latent_space")
        pads = page.locator(".vle-lp")
        pads.nth(1).wait_for(timeout=60_000)  # AE and VAE, both 2-D in the tiny zoo
        wait_for_idle(page)
        assert [pads.nth(i).get_attribute("data-fingerprint") for i in range(2)] != [None, None]
        pad = pads.first
        plane = pad.locator("canvas.vle-lp-fg")
        plane.scroll_into_view_if_needed()
        box = plane.bounding_box()
        page.mouse.move(box["x"] + 10, box["y"] + 10)
        page.wait_for_timeout(200)
        before_image, before_sent = pad_image(page, pad), len(sent)
        before_decodes = int(pad.get_attribute("data-decodes"))

        page.mouse.down()
        for step in range(40):  # a diagonal drag across the plane
            page.mouse.move(box["x"] + 10 + 4.5 * step, box["y"] + 10 + 4.5 * step)
            page.wait_for_timeout(16)
        page.wait_for_timeout(200)
        during = len(sent) - before_sent
        page.mouse.up()
        page.wait_for_timeout(300)

        assert during == 0, f"{during} messages went to the server during the drag"
        assert len(sent) == before_sent, "releasing a drag sends nothing either"
        assert int(pad.get_attribute("data-decodes")) - before_decodes >= 10, "the pad decoded as the pointer moved"
        assert pad_image(page, pad) != before_image, "the displayed image changed"

        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a click does reach Python
        index = pad.get_attribute("data-clicked")
        page.get_by_text(f"Test image #{index},").wait_for(timeout=30_000)
        assert len(sent) > before_sent


def test_the_interpolation_knobs_decode_in_the_browser_too(app_env):
    from playwright.sync_api import sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    sent: list[str] = []
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, url)
        page.goto(f"{url}/latent_space")
        page.locator(".vle-lp").nth(1).wait_for(timeout=60_000)  # this session has been sent the VAE's decoder
        wait_for_idle(page)
        # As if the page had lost it (a run cut short): the knobs must ask for it once and get it again.
        page.evaluate("() => { const v = globalThis.__vle; v.have.clear(); v.nets.clear(); v.codes.clear(); }")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Interpolation").click()
        knobs = page.locator(".vle-ls")
        knobs.wait_for(timeout=60_000)
        wait_for_idle(page)
        page.wait_for_function("() => globalThis.__vle.have.size > 0", timeout=30_000)
        wait_for_idle(page)
        assert knobs.locator(".vle-ls-status").inner_text() == ""
        image = knobs.locator("canvas.vle-ls-img")
        z1 = knobs.get_by_label("z₁", exact=True)
        z1.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        before_image, before_sent = image.evaluate("c => c.toDataURL()"), len(sent)
        z1.focus()
        for _ in range(30):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        assert len(sent) == before_sent, "moving a knob sends nothing to the server"
        assert image.evaluate("c => c.toDataURL()") != before_image
        assert "Moved: z₁" in knobs.locator(".vle-ls-moved").inner_text()
        knobs.get_by_role("button", name="Reset to the start code").click()
        page.wait_for_timeout(200)
        assert image.evaluate("c => c.toDataURL()") == before_image
        assert len(sent) == before_sent
        (REPO_ROOT / "artifacts" / "browser").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO_ROOT / "artifacts" / "browser" / "interpolation_knobs.png"), full_page=True)


def test_the_decoder_grid_samples_decode_in_the_browser(app_env):
    # The grid-size and temperature sliders of a larger latent's sample grid repaint in the browser, with no
    # message to the server, and the grid shows torch's decoding of z = τ·ε for the seed's draws ε.
    from playwright.sync_api import expect, sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle
    from ui.state.derived import prior_codes

    sent: list[str] = []
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, url)
        page.goto(f"{url}/decoder_grid")
        wait_for_idle(page)
        model_picker = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
        model_picker.click()
        page.get_by_role("option", name="digits-vae-z4").click()
        grid = page.locator(".vle-sg")
        grid.wait_for(timeout=60_000)
        wait_for_idle(page)
        expect(grid).to_have_attribute("data-grid", "10", timeout=30_000)
        image = grid.locator("canvas.vle-sg-img")
        before_image, before_sent = image.evaluate("c => c.toDataURL()"), len(sent)
        assert "100 codes z ~ N(0, 1² I) with seed 0" in grid.locator(".vle-sg-caption").inner_text()

        temperature = grid.get_by_label("Temperature τ")
        temperature.focus()
        for _ in range(10):  # 1.0 -> 0.5 in steps of 0.05
            page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
        size = grid.get_by_label("Grid size")
        size.focus()
        for _ in range(2):
            page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
        assert len(sent) == before_sent, "moving the sliders sends nothing to the server"
        assert grid.get_attribute("data-grid") == "8" and float(grid.get_attribute("data-temperature")) == 0.5
        assert image.evaluate("c => c.toDataURL()") != before_image
        assert "64 codes z ~ N(0, 0.5² I)" in grid.locator(".vle-sg-caption").inner_text()

        # The canvas against torch: cell k decodes 0.5 * the seed's k-th draw (8-bit pixels, the decoder's 1e-3),
        # each pixel a 3×3 block (28 px cells // 8) and the cells parted by 1-px CELL_LINE grey lines (issue 20 item 8).
        from vae_core.serving.images import CELL_LINE

        side = 8 * 25 - 1
        canvas = np.array(
            image.evaluate("c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"),
            dtype=np.float64,
        ).reshape(side, side, 4)[..., 0]  # grey: the red channel
        assert (canvas[24::25, :] == CELL_LINE).all() and (canvas[:, 24::25] == CELL_LINE).all()
        keep = np.array([r for r in range(side) if r % 25 < 24 and (r % 25) % 3 == 0])
        pixels = canvas[np.ix_(keep, keep)]
        model, _ = load_checkpoint(app_env.vae_4d)
        codes = torch.from_numpy(prior_codes(16 * 16, 4, seed=0)[:64]) * 0.5
        with torch.no_grad():
            expected = model.decode(codes).numpy()[:, 0]  # (64, 8, 8)
        cells = pixels.reshape(8, 8, 8, 8).transpose(0, 2, 1, 3).reshape(64, 8, 8)
        assert np.abs(cells / 255.0 - expected).max() <= 0.5 / 255 + MAX_PIXEL_ERROR
        # Its "Download PNG" saves the grid as shown: 8 cells of 24 px and their lines, named after the view.
        with page.expect_download() as download_info:
            grid.get_by_text("Download PNG").click()
        download = download_info.value
        assert download.suggested_filename.endswith("_samples-seed0-8x8-tau0.50.png"), download.suggested_filename
        from PIL import Image

        with Image.open(download.path()) as saved:
            assert saved.format == "PNG" and saved.size == (side, side)
        assert len(sent) == before_sent
