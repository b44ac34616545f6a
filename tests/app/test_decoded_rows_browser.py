"""The browser's rows of decoded images (ui/widgets/js/decoded_rows.js) in headless Chromium: its path maths is
vae_core.lessons.latent_paths.interpolate's, moving the slider repaints torch's decodings with no message to the
server, and letting it go puts the value in the address, from which a reload opens the same view.

The path test runs ui/widgets/js/latent_paths.js on a blank page (no server); the others drive the real app on the
tiny zoo. A slider is moved as a drag moves it: `input` events while it moves, one `change` when it is let go.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch

from tests.app.test_decoded_rows import draws
from tests.app.test_latent_walk import first_of_class
from tests.app.test_pages import codes_of
from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import REPO_ROOT, chromium_page
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.lessons.latent_paths import INTERPOLATIONS, interpolate
from vae_core.serving.images import CELL_LINE

pytestmark = NEEDS_BROWSER

PATHS_JS = REPO_ROOT / "ui" / "widgets" / "js" / "latent_paths.js"
MAX_PIXEL_ERROR = 1e-3  # issue #10: the browser's image and torch's, for the same code
PIXELS_JS = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
MOVE_JS = "(input, value) => { input.value = String(value); input.dispatchEvent(new Event('input', {bubbles: true})); }"
LET_GO_JS = "input => input.dispatchEvent(new Event('change', {bubbles: true}))"


def test_the_browsers_paths_are_pythons():
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(0)
    pairs = [
        rng.normal(size=(2, d)).astype(np.float32) * rng.uniform(0.3, 3.0) for d in (2, 3, 8, 16) for _ in range(5)
    ]
    a = rng.normal(size=4).astype(np.float32)
    # the fall-backs to the straight line: a zero end, the same direction, the opposite one
    pairs += [np.stack([np.zeros(4, np.float32), a]), np.stack([a, 2 * a]), np.stack([a, -0.5 * a])]
    cases = [(pair, n, method) for pair in pairs for n in (5, 9, 15) for method in INTERPOLATIONS]
    source = PATHS_JS.read_text()
    with sync_playwright() as playwright, chromium_page(playwright) as page:
        page.set_content("<html><body></body></html>")
        found = json.loads(
            page.evaluate(
                """([source, cases]) => {
                    const { vleInterpolate, vleLinspace } = new Function(
                        source + "\\nreturn { vleInterpolate, vleLinspace };")();
                    const path = ([a, b, n, method]) => vleInterpolate(a, b, vleLinspace(n), method);
                    return JSON.stringify(cases.map(path));
                }""",
                [source, [[p[0].tolist(), p[1].tolist(), n, m] for p, n, m in cases]],
            )
        )
    for (pair, n, method), path in zip(cases, found, strict=True):
        expected = interpolate(pair[0], pair[1], np.linspace(0.0, 1.0, n), method)
        np.testing.assert_allclose(path, expected, atol=1e-5, rtol=1e-5, err_msg=f"{method}, {n} steps, {pair}")


def row_cells(canvas, n: int, side: int, factor: int) -> np.ndarray:
    """A row canvas's n cells as (n, side, side) grey levels in [0, 1], one pixel per image pixel; its lines checked."""
    cell = side * factor
    pixels = np.array(canvas.evaluate(PIXELS_JS), dtype=np.float64).reshape(cell, n * (cell + 1) - 1, 4)[..., 0]
    assert (pixels[:, cell :: cell + 1] == CELL_LINE).all(), "cells parted by CELL_LINE lines"
    columns = [c * (cell + 1) + x * factor for c in range(n) for x in range(side)]
    return pixels[::factor][:, columns].reshape(side, n, side).transpose(1, 0, 2) / 255.0


def decoded(path, codes: np.ndarray) -> np.ndarray:
    model, _ = load_checkpoint(path)
    with torch.no_grad():
        return model.decode(torch.from_numpy(np.asarray(codes, np.float32))).numpy()[:, 0]


def test_the_samples_per_beta_move_in_the_browser_and_a_link_restores_them(app_env):
    from playwright.sync_api import expect, sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    sent: list[str] = []  # every websocket frame the page sends: Streamlit's BackMsgs (reruns, widget values)
    sweep = sorted(app_env.sweep, key=lambda p: load_checkpoint(p)[1].model_config.beta)
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, f"{url}/beta_tradeoff")
        rows = page.locator(".vle-dr")
        rows.wait_for(timeout=60_000)
        wait_for_idle(page)
        expect(rows).to_have_attribute("data-count", "10", timeout=30_000)
        slider = rows.get_by_role("slider", name="Samples per β")
        canvases = rows.locator("canvas.vle-dr-img")
        assert canvases.count() == 3
        before_sent = len(sent)
        for n in (11, 12, 13):  # a drag from 10 to 13
            slider.evaluate(MOVE_JS, n)
        expect(rows).to_have_attribute("data-count", "13", timeout=5_000)
        page.wait_for_timeout(300)
        assert len(sent) == before_sent, "moving the slider sends nothing to the server"
        assert "The same 13 codes z ~ N(0, I) (seed 0)" in rows.locator(".vle-dr-caption").inner_text()
        # Each row against torch: model k decodes the first 13 of the seed's 16 draws (8-bit pixels, the
        # decoder's 1e-3), 8-px digits drawn 5 times as large, as the server's grid_png draws them.
        for k, path in enumerate(sweep):
            cells = row_cells(canvases.nth(k), 13, 8, 5)
            assert np.abs(cells - decoded(path, draws(16, 3, seed=0)[:13])).max() <= 0.5 / 255 + MAX_PIXEL_ERROR

        slider.evaluate(LET_GO_JS)  # let go: the one message, and the address follows
        page.wait_for_function("() => location.search.includes('beta_n_samples=13')", timeout=10_000)
        assert len(sent) > before_sent
        wait_for_idle(page)
        with page.expect_download() as download_info:
            rows.get_by_text("Download PNG").first.click()
        assert download_info.value.suggested_filename.endswith("_beta-tradeoff_samples-seed0-n13.png")

        link = page.url
        page.goto(link)  # a link: a new session opens on the same view
        page.wait_for_selector(".vle-dr", timeout=60_000)
        wait_for_idle(page)
        expect(rows).to_have_attribute("data-count", "13", timeout=30_000)
        assert slider.input_value() == "13"
        page.get_by_role("button", name="Reset this page").click()
        expect(rows).to_have_attribute("data-count", "10", timeout=30_000)
        page.wait_for_function("() => !location.search.includes('beta_n_samples')", timeout=10_000)
        wait_for_idle(page)
        slider.evaluate(MOVE_JS, 13)  # the value sent before the reset: sent again, and back in the address
        slider.evaluate(LET_GO_JS)
        page.wait_for_function("() => location.search.includes('beta_n_samples=13')", timeout=10_000)
        assert not page.locator('[data-testid="stException"]').count()


def test_the_strips_steps_move_in_the_browser_on_either_path(app_env):
    from playwright.sync_api import expect, sync_playwright

    from tools.app_browser import open_app, running_app, wait_for_idle

    codes = codes_of(app_env.vae_2d)
    z_a, z_b = first_of_class(codes, 1), first_of_class(codes, 7)  # the page's default digits
    sent: list[str] = []
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, f"{url}/interpolation?interp_steps=7")
        strip = page.locator(".vle-dr")
        strip.wait_for(timeout=60_000)
        wait_for_idle(page)
        expect(strip).to_have_attribute("data-count", "7", timeout=30_000)
        slider, canvas = strip.get_by_role("slider", name="Steps in the strip"), strip.locator("canvas.vle-dr-img")
        for method in INTERPOLATIONS:
            if method != "linear":
                page.get_by_test_id("stRadio").filter(has_text="Path").get_by_text(method.capitalize()).click()
                wait_for_idle(page)
                page.wait_for_timeout(300)
            before_sent = len(sent)
            for n in (6, 5, 6, 8, 11):
                slider.evaluate(MOVE_JS, n)
                page.wait_for_timeout(50)
            expect(strip).to_have_attribute("data-count", "11", timeout=5_000)
            page.wait_for_timeout(300)
            assert len(sent) == before_sent, "moving the slider sends nothing to the server"
            path = interpolate(z_a, z_b, np.linspace(0.0, 1.0, 11), method)
            cells = row_cells(canvas, 11, 8, 7)  # 8-px digits at 56 px cells
            assert np.abs(cells - decoded(app_env.vae_2d, path)).max() <= 0.5 / 255 + MAX_PIXEL_ERROR, method
            assert strip.locator(".vle-dr-caption").inner_text().startswith("11 evenly spaced steps from ")
            with page.expect_download() as download_info:
                strip.get_by_text("Download PNG").click()
            assert download_info.value.suggested_filename.endswith(f"_interpolation_{method}-strip-11steps.png")
        slider.evaluate(LET_GO_JS)
        page.wait_for_function("() => location.search.includes('interp_steps=11')", timeout=10_000)
        assert parse_qs(urlsplit(page.url).query)["interp_method"] == ["Spherical"]
        page.locator('[data-testid="stSidebarNav"] a', has_text="Decoder grid").click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Decoder grid")')
        wait_for_idle(page)
        left = set(parse_qs(urlsplit(page.url).query))
        assert not {"interp_steps", "interp_method"} & left, "they leave with their page"
        assert not page.locator('[data-testid="stException"]').count()
