"""AppTest of the export controls: every chart with a modebar saves itself under a file name, in the sidebar's format.

The files themselves are checked in a real browser (tests/app/test_export_browser.py): AppTest has no server to
hand out downloads. Here: the config each st.plotly_chart sends, and the download buttons each page draws.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every page the app lists (app.py's PAGES), the Train page last: it has no chart until a job runs.
APP_PAGES = [f"pages/{name}.py" for name in re.findall(r'\("(\d+_\w+)\.py"', (REPO_ROOT / "app.py").read_text())]
SAFE_STEM = re.compile(r"^[a-z0-9.\-]+(_[a-z0-9.\-]+)*$")  # vae_core.export's parts joined by '_'


def chart_configs(at) -> dict[str, dict]:
    """key -> the plotly.js config each st.plotly_chart on the page sends to the browser."""
    return {chart.key: json.loads(chart.proto.config) for chart in at.get("plotly_chart")}


def download_buttons(at) -> dict[str, object]:
    """element id's key part -> DownloadButton proto, for every download button on the page."""
    return {button.proto.id.rsplit("-", 1)[-1]: button.proto for button in at.get("download_button")}


def test_every_chart_with_a_modebar_saves_under_its_own_name_as_png_then_svg(open_page):
    at = open_page()
    stems: dict[str, str] = {}
    for page in APP_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        for key, config in chart_configs(at).items():
            if config.get("staticPlot"):
                continue  # no modebar, no camera: these pages offer the grid's own PNG instead
            options = config.get("toImageButtonOptions")
            assert options is not None, f"{page}: chart {key} has no export options"
            assert options["format"] == "png" and options["scale"] == 2, (key, options)
            assert SAFE_STEM.match(options["filename"]), (key, options["filename"])
            assert config["displaylogo"] is False
            stems[key] = options["filename"]
    # At least the charts of the lessons that always draw one, each under its own name. (Interpolation's walk is
    # drawn in the browser for an MLP decoder, with its own PNG link: tests/app/test_latent_walk_browser.py.)
    assert {"beta_rd", "beta_heatmap", "elbo_kl_chart"} <= set(stems), sorted(stems)
    assert len(set(stems.values())) == len(stems), "two charts would download under one name"
    assert stems["beta_rd"].startswith("digits_") and "_beta-tradeoff_" in stems["beta_rd"]

    at.sidebar.segmented_control(key="export_figure_format").set_value("svg").run()
    at.switch_page("pages/2_latent_space.py").run()
    configs = chart_configs(at)
    assert configs, "the latent page draws its scatters"
    for key, config in configs.items():
        assert config["toImageButtonOptions"]["format"] == "svg", key
        assert config["toImageButtonOptions"]["scale"] == 1, key  # vector: no scale-up
        assert config["scrollZoom"] is True, "the page's own options survive"


@pytest.mark.parametrize(
    "page, keys",
    [
        ("pages/3_decoder_grid.py", {"grid_png_ae", "grid_png_vae", "grid_csv_ae", "grid_csv_vae"}),
        ("pages/2_latent_space.py", {"latent_csv_Autoencoder", "latent_csv_VAE"}),
        ("pages/4_interpolation.py", {"interp_strip_png", "interp_csv"}),
    ],
)
def test_grids_strips_and_codes_have_download_buttons_that_do_not_rerun_the_page(open_page, page, keys):
    at = open_page(page)
    assert not at.exception, at.exception
    buttons = download_buttons(at)
    assert keys <= set(buttons), sorted(buttons)
    for key in keys:
        assert buttons[key].ignore_rerun, f"{key} reruns the page on click"
