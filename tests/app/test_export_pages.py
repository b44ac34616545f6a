"""AppTest of the export controls: every chart saves itself under a file name, in the sidebar's format, and
every image grid or strip has a PNG button whose file is that grid.

The browser's side (a click, the file saved) is checked in tests/app/test_export_browser.py. Here: the config
each st.plotly_chart sends, the download buttons each page draws, and the bytes behind each PNG button, read
from the media store AppTest gives its runs (kept across runs by the `media` fixture).
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.app import test_conditional_page as conditional_page
from ui.shell.lessons import LESSONS
from vae_core.serving.images import CELL_LINE

# that module's fixtures, for the conditional page's grids: a tiny CVAE trained once, the page opened on it
tiny_cvae, cvae_page = conditional_page.tiny_cvae, conditional_page.cvae_page

# Every page the app lists (ui.shell.lessons.LESSONS), the Train page last: it has no chart until a job runs.
APP_PAGES = [lesson.script for lesson in LESSONS.values()]
SAFE_STEM = re.compile(r"^[a-z0-9.\-]+(_[a-z0-9.\-]+)*$")  # vae_core.serving.export's parts joined by '_'


def chart_configs(at) -> dict[str, dict]:
    """key -> the plotly.js config each st.plotly_chart on the page sends to the browser."""
    return {chart.key: json.loads(chart.proto.config) for chart in at.get("plotly_chart")}


@pytest.fixture
def media(monkeypatch):
    """One media store for every run of the test's AppTests, so a button's file can be read after its run.

    AppTest builds a fresh MemoryMediaFileStorage per run and drops it when the run ends; sharing one keeps
    the files that the download buttons and st.image calls stored.
    """
    import streamlit.testing.v1.app_test as app_test_module
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storage = MemoryMediaFileStorage("/mock/media")
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", lambda endpoint: storage)
    return storage


def stored_image(media, url: str) -> tuple[np.ndarray, bool]:
    """(the image stored under a media URL as a (H, W) grey-level array, whether it is lossless: PNG, not JPEG).

    st.image passes PNG bytes through, but encodes a NumPy array as JPEG (Streamlit's "auto" format).
    """
    file = media.get_file(url.rsplit("/", 1)[-1])
    return np.asarray(Image.open(io.BytesIO(file.content)).convert("L")), file.mimetype == "image/png"


def png_download(media, button) -> tuple[str, np.ndarray]:
    """(file name, picture) of the file a download button hands out, which must be a PNG, decoded by Pillow."""
    file = media.get_file(button.url.rsplit("/", 1)[-1])
    assert file.content[:8] == b"\x89PNG\r\n\x1a\n", f"{button.id} does not download a PNG"
    return file.filename, np.asarray(Image.open(io.BytesIO(file.content)).convert("L"))


def figure_image(spec: dict) -> np.ndarray:
    """The picture a chart shows as its layout image (a decoded grid on its axes), decoded from its data URL."""
    (image,) = spec["layout"]["images"]
    header, payload = image["source"].split(",", 1)
    assert header == "data:image/png;base64", header
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("L"))


def page_pictures_and_buttons(at, media):
    """The page's pictures and download buttons in page order: ("picture", array, lossless) for each st.image
    and each chart's layout image, ("button", key, proto) for each download button."""
    found = []

    def walk(node) -> None:
        kind = getattr(node, "type", None)
        if kind == "image":
            found.extend(("picture", *stored_image(media, url)) for url in node.value)
        elif kind == "plotly_chart":
            spec = json.loads(node.proto.spec)
            if spec["layout"].get("images"):
                found.append(("picture", figure_image(spec), True))
        elif kind == "download_button":
            found.append(("button", node.proto.id.rsplit("-", 1)[-1], node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


def tiled(cells: list[np.ndarray], n_cols: int) -> np.ndarray:
    """Cells of one shape joined into rows of n_cols, with 1-px CELL_LINE lines between them: a grid by hand."""
    height = cells[0].shape[0]
    rows = []
    for start in range(0, len(cells), n_cols):
        row = cells[start : start + n_cols]
        line = np.full((height, 1), CELL_LINE, dtype=np.uint8)
        rows.append(np.concatenate([part for cell in row for part in (cell, line)][:-1], axis=1))
    line = np.full((1, rows[0].shape[1]), CELL_LINE, dtype=np.uint8)
    return np.concatenate([part for row in rows for part in (row, line)][:-1], axis=0)


def check_png_buttons(at, media, expected: dict[str, tuple[int, int]]) -> None:
    """Each button in `expected` (key -> (pictures, columns)) downloads the pictures shown just before it,
    tiled `columns` wide: the same size exactly, the same pixels (within JPEG's error where one was a JPEG)."""
    items = page_pictures_and_buttons(at, media)
    checked = set()
    for position, item in enumerate(items):
        if item[0] != "button" or item[1] not in expected:
            continue
        key, proto = item[1], item[2]
        n_pictures, n_cols = expected[key]
        assert proto.ignore_rerun, f"{key} reruns the page on click"
        pictures = [entry for entry in items[:position] if entry[0] == "picture"][-n_pictures:]
        assert len(pictures) == n_pictures, f"{key}: {len(pictures)} pictures shown before it"
        want = tiled([picture for _, picture, _ in pictures], n_cols)
        file_name, got = png_download(media, proto)
        assert file_name.endswith(".png") and SAFE_STEM.match(file_name[: -len(".png")]), file_name
        assert got.shape == want.shape, (key, got.shape, want.shape)
        if all(lossless for _, _, lossless in pictures):
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:  # a JPEG on screen: its 8x8 blocks blur the edges a little, never the picture as a whole
            assert np.abs(got.astype(int) - want.astype(int)).mean() < 8, key
        checked.add(key)
    assert checked == set(expected), f"buttons not found: {sorted(set(expected) - checked)}"


def download_buttons(at) -> dict[str, object]:
    """element id's key part -> DownloadButton proto, for every download button on the page."""
    return {button.proto.id.rsplit("-", 1)[-1]: button.proto for button in at.get("download_button")}


def test_every_chart_has_a_camera_that_saves_under_its_own_name_as_png_then_svg(open_page):
    at = open_page()
    stems: dict[str, str] = {}
    still: set[str] = set()
    for page in APP_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        specs = {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}
        for key, config in chart_configs(at).items():
            # staticPlot would hide the modebar, camera included: a chart that must stay still keeps the camera
            assert not config.get("staticPlot"), f"{page}: chart {key} cannot be saved"
            if "modeBarButtons" in config:
                assert config["modeBarButtons"] == [["toImage"]], (key, config["modeBarButtons"])
                assert config["scrollZoom"] is False and config["doubleClick"] is False, key
                layout = specs[key]["layout"]
                assert layout["dragmode"] is False and layout["hovermode"] is False, key
                assert layout["legend"]["itemclick"] is False and layout["legend"]["itemdoubleclick"] is False, key
                axes = [name for name in layout if re.fullmatch(r"[xy]axis\d*", name)]
                assert axes and all(layout[name]["fixedrange"] is True for name in axes), (key, axes)
                still.add(key)
            options = config.get("toImageButtonOptions")
            assert options is not None, f"{page}: chart {key} has no export options"
            assert options["format"] == "png" and options["scale"] == 2, (key, options)
            assert SAFE_STEM.match(options["filename"]), (key, options["filename"])
            assert config["displaylogo"] is False
            stems[key] = options["filename"]
    # At least the charts of the lessons that always draw one, each under its own name. (Interpolation's walk, its
    # scatter and norms, is drawn in the browser for an MLP decoder: tests/app/test_latent_walk_browser.py.)
    assert {"beta_rd", "beta_heatmap", "elbo_kl_chart"} <= set(stems), sorted(stems)
    # the charts once drawn with staticPlot: now still, with a camera
    assert {"grid_figure_ae", "grid_figure_vae"} <= still, sorted(still)
    assert len(set(stems.values())) == len(stems), "two charts would download under one name"
    assert stems["beta_rd"].startswith("digits_") and "_beta-tradeoff_" in stems["beta_rd"]

    at.sidebar.segmented_control(key="export_figure_format").set_value("svg").run()
    at.switch_page(LESSONS["latent_space"].script).run()
    configs = chart_configs(at)
    assert configs, "the latent page draws its scatters"
    for key, config in configs.items():
        assert config["toImageButtonOptions"]["format"] == "svg", key
        assert config["toImageButtonOptions"]["scale"] == 1, key  # vector: no scale-up
        assert config["scrollZoom"] is True, "the page's own options survive"


@pytest.mark.parametrize(
    "page, keys",
    [
        (LESSONS["decoder_grid"].script, {"grid_png_ae", "grid_png_vae", "grid_csv_ae", "grid_csv_vae"}),
        (LESSONS["latent_space"].script, {"latent_csv_Autoencoder", "latent_csv_VAE"}),
        # the strip's own "Download PNG" link, where the browser draws it: tests/app/test_decoded_rows_browser.py
        (LESSONS["interpolation"].script, {"interp_csv"}),
    ],
)
def test_grids_strips_and_codes_have_download_buttons_that_do_not_rerun_the_page(open_page, page, keys):
    at = open_page(page)
    assert not at.exception, at.exception
    buttons = download_buttons(at)
    assert keys <= set(buttons), sorted(buttons)
    for key in keys:
        assert buttons[key].ignore_rerun, f"{key} reruns the page on click"


MODEL_Z4 = ("selectbox", "sidebar_model", "shipped/digits-vae-z4")  # > 2-D: the Decoder grid's slice and samples


@pytest.mark.parametrize(
    "page, choice, expected",
    [
        # 3 rows (originals, PCA-k, AE) of 6 digits; the DAE's row: clean, noisy, DAE, plain AE
        (LESSONS["autoencoders"].script, None, {"ae_pca_rows_png": (18, 6)}),
        (LESSONS["denoising_autoencoders"].script, None, {"ae_dae_row_png": (4, 4)}),
        # the grids drawn as charts: the PNG is the chart's picture, without its axes
        # the original and both models' reconstructions, three st.image calls side by side
        (LESSONS["latent_space"].script, None, {"latent_row_png": (3, 3)}),
        (LESSONS["decoder_grid"].script, None, {"grid_png_ae": (1, 1), "grid_png_vae": (1, 1)}),
        (LESSONS["decoder_grid"].script, MODEL_Z4, {"grid_samples_png": (1, 1), "grid_slice_png": (1, 1)}),
        (LESSONS["interpolation"].script, None, {"interp_strip_png": (1, 1)}),
        # the posterior samples, shown as one st.image list; the AE's and the VAE's reconstructions, two columns
        (LESSONS["elbo_breakdown"].script, None, {"elbo_samples_png": (8, 8), "elbo_ae_pair_png": (2, 2)}),
        (LESSONS["inference"].script, None, {"inference_image_png": (1, 1)}),
    ],
)
def test_every_grid_and_strip_downloads_as_one_png_of_what_is_shown(
    open_page, media, server_side_decoding, page, choice, expected
):
    # server-side decoding: the Decoder grid's samples are then a PNG from the server (the browser-drawn grid
    # has its own button, tests/app/test_latent_pad_browser.py)
    at = open_page(page)
    if choice is not None:
        widget, key, value = choice
        getattr(at, widget)(key=key).set_value(value).run()
    assert not at.exception, at.exception
    check_png_buttons(at, media, expected)
    for key, config in chart_configs(at).items():  # and every chart shown keeps its camera
        assert SAFE_STEM.match(config["toImageButtonOptions"]["filename"]), key
    if choice == MODEL_Z4:
        assert chart_configs(at)["grid_slice_figure"]["modeBarButtons"] == [["toImage"]]


def test_the_conditional_pages_grids_each_download_as_the_png_shown(media, cvae_page):
    # one z decoded with every label; the 10 classes' latent grids, one button each; the style transfer row
    expected = {"cvae_same_z_png": (1, 1), "cvae_transfer_png": (1, 1)}
    expected |= {f"cvae_class_grid_png_{c}": (1, 1) for c in range(10)}
    check_png_buttons(cvae_page, media, expected)
