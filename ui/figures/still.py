"""A chart that stays as drawn: the figure half of a still chart (ui.widgets.export.still_figure_config: the other)."""

from __future__ import annotations

import plotly.graph_objects as go


def still_figure(figure: go.Figure) -> go.Figure:
    """The figure, made to stay as drawn: no drag to zoom or pan (dragmode off, every axis fixedrange), no hover
    labels, no legend click hiding a trace. With `still_figure_config` it reads as staticPlot did, and its camera
    still saves it.

    Changes the figure in place and returns it, for a figure built for this one chart (a copy would cost
    about 35 ms on a decoded grid with its outline, twice per rerun of the Decoder grid).
    """
    figure.update_layout(dragmode=False, hovermode=False, legend_itemclick=False, legend_itemdoubleclick=False)
    figure.update_xaxes(fixedrange=True)
    figure.update_yaxes(fixedrange=True)
    return figure
