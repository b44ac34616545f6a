"""Interpolation's walk in headless Chromium, on the tiny zoo: moving t repaints in the browser with no message to
the server, the image at t = 1 is torch's decoding of z_B, and a new path reaches the component."""

from __future__ import annotations

import re

import numpy as np
import torch

from tests.app.test_latent_walk import first_of_class
from tests.app.test_pages import codes_of
from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import REPO_ROOT, chromium_page
from vae_core.engine.checkpoints import load_checkpoint

pytestmark = NEEDS_BROWSER

MAX_PIXEL_ERROR = 1e-3  # issue #10: the browser's image and torch's, for the same code
PIXELS_JS = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"

PIXEL_AT = """(canvas, [fx, fy]) => Array.from(canvas.getContext("2d").getImageData(
    Math.floor(fx * canvas.width), Math.floor(fy * canvas.height), 1, 1).data.slice(0, 3))"""
# The brightest pixel of a small box around a point: in the dark theme, a light glyph stroke (not the paper or a dot).
INK_NEAR = """(canvas, [x, y]) => {
    const d = canvas.getContext("2d").getImageData(Math.round(x) - 6, Math.round(y) - 14, 12, 14).data;
    let best = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > best[0] + best[1] + best[2])
      best = [d[i], d[i + 1], d[i + 2]];
    return best; }"""


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


def close(a, b, tolerance: int = 8) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


def test_moving_t_repaints_in_the_browser_and_a_new_path_reaches_the_component(app_env):
    from playwright.sync_api import expect, sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    sent: list[str] = []  # every websocket frame the page sends: Streamlit's BackMsgs (reruns, widget values)
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, url)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Interpolation").click()
        walk = page.locator(".vle-lw")
        walk.wait_for(timeout=60_000)
        wait_for_idle(page)
        expect(walk).to_have_attribute("data-t", "0.5", timeout=30_000)
        image, star, norms = (walk.locator(f"canvas.vle-lw-{part}") for part in ("img", "fg", "norms"))

        def drawn() -> tuple[str, str, str]:
            return tuple(c.evaluate("c => c.toDataURL()") for c in (image, star, norms))  # type: ignore[return-value]

        slider = walk.get_by_label("t", exact=True)
        slider.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        before, before_sent = drawn(), len(sent)
        decodes = int(walk.get_attribute("data-decodes"))
        slider.focus()
        for _ in range(10):  # 0.5 -> 1.0 in steps of 0.05
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        assert len(sent) == before_sent, "moving t sends nothing to the server"
        assert walk.get_attribute("data-t") == "1"
        assert int(walk.get_attribute("data-decodes")) - decodes >= 1
        at_one = drawn()
        assert [a != b for a, b in zip(at_one, before, strict=True)] == [True, True, True], (
            "the image, the star and the norms chart's t all moved"
        )
        assert walk.locator(".vle-lw-img-caption").inner_text() == "decoded z(t = 1.00), linear"
        codes = codes_of(app_env.vae_2d)
        z_a, z_b = first_of_class(codes, 1), first_of_class(codes, 7)  # the page's default digits
        assert walk.locator(".vle-lw-readout").inner_text().endswith(f"‖z(t)‖ = {np.linalg.norm(z_b):.2f}")

        # The image at t = 1 against torch's decoding of z_B (8-bit pixels, the decoder's 1e-3).
        model, _ = load_checkpoint(app_env.vae_2d)
        with torch.no_grad():
            expected = model.decode(torch.tensor(z_b[None], dtype=torch.float32)).numpy()[0, 0]
        pixels = np.array(image.evaluate(PIXELS_JS), dtype=np.float64).reshape(*expected.shape, 4)[..., 0]
        assert np.abs(pixels / 255.0 - expected).max() <= 1 / 255 + MAX_PIXEL_ERROR

        # A new path is a rerun of the path's fragment: new data for the component, the slider stays at t = 1.
        page.get_by_test_id("stRadio").filter(has_text="Path").get_by_text("Spherical", exact=True).click()
        expect(walk).to_have_attribute("data-method", "spherical", timeout=30_000)
        wait_for_idle(page)
        assert walk.get_attribute("data-t") == "1"
        assert walk.locator(".vle-lw-img-caption").inner_text() == "decoded z(t = 1.00), spherical"
        assert drawn()[2] != at_one[2], "the norms chart now highlights the spherical path"
        before_sent = len(sent)
        for _ in range(10):  # back to 0.5: on the spherical path now, ‖z(0.5)‖ = (‖z_A‖ + ‖z_B‖) / 2
            slider.focus()
            page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
        assert len(sent) == before_sent
        expected_norm = (np.linalg.norm(z_a) + np.linalg.norm(z_b)) / 2
        assert walk.locator(".vle-lw-readout").inner_text().endswith(f"‖z(t)‖ = {expected_norm:.2f}")
        # Its "Download PNG" links save the picture and the norms chart as shown, named after the view as the
        # plotly charts' cameras named them.
        from PIL import Image

        for link, canvas, ending in (
            ("a.vle-lw-picture-png", "canvas.vle-lw-fg", "_spherical-path-t0.50.png"),
            ("a.vle-lw-norms-png", "canvas.vle-lw-norms", "_spherical-norms-t0.50.png"),
        ):
            with page.expect_download() as download_info:
                walk.locator(link).click()
            download = download_info.value
            assert download.suggested_filename.endswith(ending), download.suggested_filename
            with Image.open(download.path()) as saved:
                box = walk.locator(canvas).bounding_box()
                assert saved.format == "PNG" and saved.size == (round(box["width"]), round(box["height"]))
        assert len(sent) == before_sent
        (REPO_ROOT / "artifacts" / "browser").mkdir(parents=True, exist_ok=True)
        walk.screenshot(path=str(REPO_ROOT / "artifacts" / "browser" / "interpolation_walk.png"))


def test_in_the_dark_theme_the_walk_is_drawn_on_the_themes_paper_in_its_ink(app_env):
    # As the pad: the picture and the norms chart take the app's background, the path its text colour.
    from playwright.sync_api import sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright, color_scheme="dark") as page:
        open_app(page, url)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Interpolation").click()
        walk = page.locator(".vle-lw")
        walk.wait_for(timeout=60_000)
        wait_for_idle(page)
        app = page.locator('[data-testid="stApp"]')
        background = app.evaluate("e => getComputedStyle(e).backgroundColor")
        text = app.evaluate("e => getComputedStyle(e).color")
        assert sum(rgb(background)) < 3 * 80, f"not the dark theme: {background}"
        picture = walk.locator("canvas.vle-lw-bg")
        page.wait_for_function("(c) => c.width > 0", arg=picture.element_handle())
        for canvas in (picture, walk.locator("canvas.vle-lw-norms")):
            corner = canvas.evaluate(PIXEL_AT, [0.002, 0.002])  # outside the plot area: paper only
            assert close(corner, rgb(background)), (corner, background)
        a_label = walk.get_attribute("data-a-label")  # where the "A" is written, in canvas pixels
        assert a_label is not None
        x, y = (float(v) for v in a_label.split(","))
        ink = picture.evaluate(INK_NEAR, [x, y])
        assert close(ink, rgb(text), tolerance=40), (ink, text)
