"""The decoded grid as a plotly figure (no Streamlit here): the tiled images on axes labelled with their z values,
and an outline of where the model's test codes lie drawn over them.

The figure's coordinates are cell units (cell i's centre at i): quantile axes are not evenly spaced in z, but
the cells are drawn square, so the tick labels carry the z values and the outline is placed in the same units.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from vae_core.engine.vocabulary import dim_name
from vae_core.lessons.latent_paths import CodeDensity

OUTLINE_COLOUR = "#F28E2B"  # orange: "the orange outline" in the page's captions
OUTLINE_COLOUR_NAME = "orange"
HOLE_VEIL = "rgba(242, 142, 43, 0.28)"  # the outline's orange, faint: cells under it are holes
FONT_PX = 13  # every text in the figure at least 12 px (it is read on projectors)


def axis_ticks(axis: np.ndarray, max_ticks: int = 6) -> tuple[list[int], list[str]]:
    """Cell indices to label and their z values: the first, the last and evenly spread ones in between."""
    n = len(axis)
    picks = sorted({round(i) for i in np.linspace(0, n - 1, min(n, max_ticks))})
    return picks, [f"{axis[i]:.1f}" for i in picks]


def decoded_grid_figure(
    grid_png: bytes,
    x_axis: np.ndarray,
    y_axis: np.ndarray,
    density: CodeDensity | None,
    *,
    height_px: int = 340,
    title: str = "",
    axis_titles: tuple[str, str] = (dim_name(0), dim_name(1)),
) -> go.Figure:
    """The decoded grid (a PNG tiled in image order: the top row has the largest y) on axes in z, with the
    outline of the region holding density.mass of the test codes in OUTLINE_COLOUR (none when density is None)."""
    n_x, n_y = len(x_axis), len(y_axis)
    fig = go.Figure()
    fig.add_layout_image(
        dict(
            source="data:image/png;base64," + base64.b64encode(grid_png).decode("ascii"),
            xref="x",
            yref="y",
            x=-0.5,
            y=n_y - 0.5,
            sizex=n_x,
            sizey=n_y,
            sizing="stretch",
            layer="below",
            xanchor="left",
            yanchor="top",
        )
    )
    if density is not None:
        # the holes (density below the level) under a faint orange veil, then the outline itself
        fig.add_trace(
            go.Heatmap(
                x=density.x,
                y=density.y,
                z=(density.density < density.level).astype(np.float32),
                name="holes",
                colorscale=[[0.0, "rgba(0, 0, 0, 0)"], [1.0, HOLE_VEIL]],
                zmin=0.0,
                zmax=1.0,
                showscale=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Contour(
                x=density.x,
                y=density.y,
                z=density.density,
                name=f"{density.mass:.0%} of the test codes",
                contours=dict(start=density.level, end=density.level, size=1.0, coloring="lines"),
                colorscale=[[0.0, OUTLINE_COLOUR], [1.0, OUTLINE_COLOUR]],  # coloring="lines" takes the scale's colour
                line=dict(width=3),
                showscale=False,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    x_ticks, x_text = axis_ticks(x_axis)
    y_ticks, y_text = axis_ticks(y_axis)
    font = dict(size=FONT_PX)
    fig.update_layout(
        title=dict(text=title, x=0.02, font=dict(size=FONT_PX + 2)),
        height=height_px,
        margin=dict(l=48, r=4, t=36 if title else 4, b=44),
        font=font,
        plot_bgcolor="white",
        dragmode=False,
        xaxis=dict(
            title=axis_titles[0],
            range=[-0.5, n_x - 0.5],
            tickvals=x_ticks,
            ticktext=x_text,
            showgrid=False,
            zeroline=False,
            tickfont=font,
            constrain="domain",
        ),
        yaxis=dict(
            title=axis_titles[1],
            range=[-0.5, n_y - 0.5],
            tickvals=y_ticks,
            ticktext=y_text,
            showgrid=False,
            zeroline=False,
            tickfont=font,
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
        ),
    )
    return fig
