"""Download buttons for what a page shows: image grids and strips (PNG), figures (PNG/SVG), test-set codes (CSV).

Grids are PNG bytes already (ui.state.derived), so their button costs one st.download_button. Figures are
saved by plotly.js in the browser (the modebar's camera, set up by `figure_config`): no server-side renderer
such as kaleido, and the file is the chart as the reader sees it, zoom included. A chart that must not move
(a decoded grid on its axes) keeps the camera alone (`still_figure_config` with `still_figure`). Every button
downloads without rerunning the page (on_click="ignore"); the codes CSV is only written when its button is clicked.

No torch here: app.py draws `figure_format_choice` in the sidebar, which must load without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from vae_core.serving.export import codes_csv, export_file_name, export_stem

FIGURE_FORMATS = {"png": "PNG", "svg": "SVG"}  # plotly.js toImage formats offered -> label
DEFAULT_FIGURE_FORMAT = "png"
FORMAT_KEY = "export_figure_format"  # session state: the format the charts' camera button saves in
PNG_SCALE = 2  # a figure's PNG at twice its on-screen size: sharp on a slide or a printed page
DOWNLOAD_ICON = ":material/download:"
# plotly.js config of a chart the reader should not move (a decoded grid on axes in z): the modebar keeps only
# the camera, and no scroll or double click zooms. staticPlot would also drop the camera, so the chart could
# not be saved with its outline and axes; `still_figure` turns off dragging and hover in the figure itself.
CAMERA_ONLY = {"modeBarButtons": [["toImage"]], "scrollZoom": False, "doubleClick": False}


def figure_format_choice() -> str:
    """The sidebar's choice of figure format ('png' or 'svg'); returns it. Drawn once per run by app.py."""
    st.sidebar.segmented_control(
        "Figure downloads",
        list(FIGURE_FORMATS),
        format_func=FIGURE_FORMATS.__getitem__,
        default=DEFAULT_FIGURE_FORMAT,
        required=True,
        key=FORMAT_KEY,
        help="The camera icon above a chart (shown on hover) saves it as this: PNG for slides, SVG to edit.",
    )
    return figure_format()


def figure_format() -> str:
    """The chosen figure format: 'png' until the sidebar says otherwise (pages run without it in some tests)."""
    chosen = st.session_state.get(FORMAT_KEY)
    return chosen if chosen in FIGURE_FORMATS else DEFAULT_FIGURE_FORMAT


def figure_config(dataset: str, model: str | None, page: str, what: str, **options: Any) -> dict[str, Any]:
    """st.plotly_chart's `config` for a chart whose camera button saves it as <data set>_<model>_<page>_<what>.

    options: other plotly.js config keys for this chart (scrollZoom=True, …). The format follows the
    sidebar; PNGs are scaled by PNG_SCALE (SVG is vector: scale only changes its stated size, so it stays 1).
    """
    image_format = figure_format()
    return {
        "displaylogo": False,
        **options,
        "toImageButtonOptions": {
            "format": image_format,
            "filename": export_stem(dataset, model, page, what),
            "scale": PNG_SCALE if image_format == "png" else 1,
        },
    }


def still_figure_config(dataset: str, model: str | None, page: str, what: str) -> dict[str, Any]:
    """figure_config(...) for a still chart (pair it with `still_figure`): its modebar holds the camera only."""
    return figure_config(dataset, model, page, what, **CAMERA_ONLY)


def image_download(
    png: bytes,
    dataset: str,
    model: str | None,
    page: str,
    what: str,
    *,
    key: str,
    label: str = "PNG",
    container: DeltaGenerator | None = None,
) -> None:
    """A button that downloads a grid or strip exactly as shown (the same PNG bytes), named from its context."""
    (container or st).download_button(
        label,
        data=png,
        file_name=export_file_name(dataset, model, page, what, "png"),
        mime="image/png",
        key=key,
        on_click="ignore",
        icon=DOWNLOAD_ICON,
        help="Download this image as a PNG file",
    )


def codes_download(
    codes: np.ndarray,
    labels: np.ndarray,
    dataset: str,
    model: str | None,
    page: str,
    *,
    key: str,
    label: str = "Test-set codes (CSV)",
    container: DeltaGenerator | None = None,
) -> None:
    """A button that downloads the test split's codes (N, D) with their labels as `index,label,z1,…,zD`.

    The CSV is written when the button is clicked (a deferred download), not on every rerun of the page:
    10 000 rows take 0.1–0.35 s to format (vae_core.serving.export.codes_csv), which a slider move should not pay.
    """
    (container or st).download_button(
        label,
        data=lambda: codes_csv(codes, labels),
        file_name=export_file_name(dataset, model, page, "test-codes", "csv"),
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=DOWNLOAD_ICON,
        help=f"Download the {len(codes):,} test images' codes (a VAE's are its posterior means μ) with their labels",
    )


def downloads_row() -> DeltaGenerator:
    """A row for a figure's download buttons, side by side under it (use as `with downloads_row(): ...`)."""
    return st.container(horizontal=True, gap="small")
