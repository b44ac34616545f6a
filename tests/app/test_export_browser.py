"""The export buttons in a real browser: what they download is a valid PNG, SVG or CSV of what the page shows.

`streamlit run app.py` on the tiny zoo (digits, 8×8), driven by Debian's headless Chromium. On the Decoder grid
page the grid's PNG button, the VAE panel's camera (a still chart: the camera is its only button) and the codes'
CSV button; on the Latent space page the chart's camera button
(plotly.js saves the figure in the browser, PNG and then SVG after the sidebar's switch) and the codes' CSV.
The CSV's numbers are checked against an independent encode of the test split with the checkpoint.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import (
    chromium_page,
    exception_texts,
    open_app,
    running_app,
    wait_for_idle,
)
from tools.screenshots import open_page as open_nav_page
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset, measured_inputs
from vae_core.engine.protocol import protocol_of

pytestmark = NEEDS_BROWSER

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRID_CELLS = 15  # the Decoder grid page's default cells per side
GRID_CELL_PX = 24  # an 8×8 digit upscaled by 28 // 8 = 3 (the page asks for 28-px cells)


def download(page, selector: str) -> tuple[str, bytes]:
    """Click the element and return (suggested file name, bytes) of the download it starts."""
    with page.expect_download(timeout=30_000) as started:
        page.locator(selector).first.click()
    done = started.value
    with open(done.path(), "rb") as file:
        return done.suggested_filename, file.read()


def nav_href(page, slug: str) -> str:
    link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{slug}"]').first
    href = link.get_attribute("href")
    assert href, f"no navigation link to {slug}"
    return href


def independent_codes(checkpoint_path, test) -> np.ndarray:
    """The posterior means (codes) of the whole test split, from the checkpoint file, as the model is measured."""
    model, info = load_checkpoint(checkpoint_path)
    inputs = measured_inputs(test.images, protocol_of(info.train_config, info.model_config))
    with torch.no_grad():
        return model.encode(inputs).mean.numpy().astype(np.float32)


def check_codes_csv(data: bytes, expected_codes: np.ndarray, expected_labels: np.ndarray) -> None:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    latent_dim = expected_codes.shape[1]
    assert rows[0] == ["index", "label", *(f"z{d + 1}" for d in range(latent_dim))]
    body = rows[1:]
    assert len(body) == len(expected_codes), "one row per test image"
    assert [int(r[0]) for r in body] == list(range(len(body)))
    assert [int(r[1]) for r in body] == expected_labels.tolist()
    codes = np.array([[float(v) for v in r[2:]] for r in body], dtype=np.float32)
    np.testing.assert_allclose(codes, expected_codes, rtol=0, atol=1e-5)


def test_export_buttons_download_the_grid_png_the_figure_and_the_test_codes(app_env):
    from playwright.sync_api import sync_playwright

    test = load_dataset("digits", "test")
    labels = test.labels.numpy()
    vae_codes = independent_codes(app_env.vae_2d, test)
    ae_codes = independent_codes(app_env.ae_2d, test)

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, url)

        open_nav_page(page, nav_href(page, "decoder_grid"))
        assert exception_texts(page) == []
        name, png = download(page, ".st-key-grid_png_vae button")
        assert name.endswith(".png") and "decoder-grid" in name, name
        assert png[:8] == PNG_SIGNATURE
        side = GRID_CELLS * (GRID_CELL_PX + 1) - 1  # 1-px lines between the cells
        assert Image.open(io.BytesIO(png)).size == (side, side)
        # the grid as a chart, outline and axes included: a still chart whose modebar holds the camera alone
        chart = page.locator('[data-testid="stPlotlyChart"]').nth(1)
        chart.hover()
        assert chart.locator(".modebar-btn").count() == 1, "a still chart offers only its camera"
        box = chart.locator(".main-svg").first.bounding_box()
        ranges_js = "el => [el._fullLayout.xaxis.range, el._fullLayout.yaxis.range]"
        ranges = chart.locator(".js-plotly-plot").evaluate(ranges_js)
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=5)
        page.mouse.up()
        page.wait_for_timeout(300)  # plotly.js would redraw a zoomed box within a frame or two
        assert chart.locator(".js-plotly-plot").evaluate(ranges_js) == ranges, "a drag zoomed the still chart"
        name, png = download(page, '[data-testid="stPlotlyChart"] >> nth=1 >> [data-title="Download plot as a PNG"]')
        assert name.endswith("-figure.png") and "decoder-grid" in name, name
        assert Image.open(io.BytesIO(png)).size == pytest.approx((2 * box["width"], 2 * box["height"]), abs=4)
        name, data = download(page, ".st-key-grid_csv_vae button")
        assert name.endswith("_test-codes.csv"), name
        check_codes_csv(data, vae_codes, labels)

        open_nav_page(page, nav_href(page, "latent_space"))
        assert exception_texts(page) == []
        name, data = download(page, ".st-key-latent_csv_Autoencoder button")
        assert name.endswith(".csv") and "latent-space" in name, name
        check_codes_csv(data, ae_codes, labels)

        chart = page.locator('[data-testid="stPlotlyChart"]').first
        chart.hover()
        box = chart.locator(".main-svg").first.bounding_box()
        name, png = download(page, '[data-testid="stPlotlyChart"] >> nth=0 >> [data-title="Download plot as a PNG"]')
        assert name.endswith(".png") and "latent-space" in name, name
        assert png[:8] == PNG_SIGNATURE
        width, height = Image.open(io.BytesIO(png)).size
        # plotly.js renders the chart at its own size times the scale (2): a slide-sharp copy of what is shown
        assert (width, height) == pytest.approx((2 * box["width"], 2 * box["height"]), abs=4)

        page.locator('[data-testid="stSidebar"] button', has_text="SVG").click()
        wait_for_idle(page)
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        chart.hover()
        name, svg = download(page, '[data-testid="stPlotlyChart"] >> nth=0 >> [data-title="Download plot"]')
        assert name.endswith(".svg"), name
        assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg
        assert exception_texts(page) == []
