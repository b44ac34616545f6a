"""Every chart of the app is drawn by `plot` or `plot_in`: st.plotly_chart, with projector mode's type and height."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui.figures.projector import for_projector
from ui.shell.projector import projector_on


def plot_in(
    where: DeltaGenerator, figure: go.Figure | Mapping[str, Any], *, key: str, config: Mapping[str, Any], **options: Any
) -> Any:
    """Draw figure with where.plotly_chart (options as there); in projector mode every text is at least 18 px and
    the chart fits the first 1280×720 screen. Returns what plotly_chart returns (the selection, where asked)."""
    if projector_on():
        figure = for_projector(figure)
    return where.plotly_chart(figure, key=key, config=dict(config), **options)


def plot(figure: go.Figure | Mapping[str, Any], *, key: str, config: Mapping[str, Any], **options: Any) -> Any:
    """plot_in at the page's current place."""
    return plot_in(st.container(), figure, key=key, config=config, **options)
