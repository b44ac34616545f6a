"""Plotly figures of the latent space (no Streamlit here): the scatter, the prior's circles, paths.

The scatter uses WebGL (go.Scattergl) so all 10 000 test points stay smooth; each point's customdata is its
index in the test split, which is how a click is turned back into an image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures.colours import NEUTRAL
from vae_core.engine.vocabulary import dim_name
from vae_core.lessons.latent_paths import circle

# Ten well-separated colours (Tableau 10), one per class, the same on every page.
CLASS_COLOURS = (
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
PRIOR_COLOUR = NEUTRAL  # near-black circles vanished on the dark theme
PATH_COLOUR = "#111111"
CURRENT_COLOUR = "#C2007A"  # magenta (no class has it): the current point z(t) on the interpolation page
CURRENT_COLOUR_NAME = "magenta"


def class_colour(label: int) -> str:
    return CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]


def latent_scatter(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str = "",
    axis_titles: tuple[str, str] = (dim_name(0), dim_name(1)),
    prior_centre: Sequence[float] | None = None,
    axis_range: tuple[tuple[float, float], tuple[float, float]] | None = None,
    marker_size: float = 4.0,
    height: int = 520,
    indices: np.ndarray | None = None,
) -> go.Figure:
    """Codes as a WebGL scatter, one trace per class; optional 1σ/2σ prior circles.

    indices: the test-split index of each point, when the points are a subset (a capped t-SNE); None: point i
    is test image i.

    prior_centre: where N(0, I) is centred in this view ((0, 0) for a 2-D latent); None draws no circles.
    """
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels)
    assert points.ndim == 2 and points.shape[1] == 2, f"points must be (N, 2), got {points.shape}"
    assert len(points) == len(labels), "one label per point"
    fig = go.Figure()
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        name = class_names[int(label)] if int(label) < len(class_names) else str(label)
        fig.add_trace(
            go.Scattergl(
                x=points[idx, 0],
                y=points[idx, 1],
                mode="markers",
                name=name,
                customdata=idx if indices is None else np.asarray(indices)[idx],
                marker=dict(size=marker_size, color=class_colour(label), opacity=0.7),
                hovertemplate=f"{name} · test image #%{{customdata}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )
    if prior_centre is not None:
        add_prior_circles(fig, prior_centre)
        # Out of the legend (its dashes say which is which, the captions name them): two panels with and without
        # circles then get the same legend, so the same plot area and, on the same range, the same scale.
        fig.update_traces(showlegend=False, selector={"mode": "lines"})
    layout: dict[str, Any] = dict(
        title=dict(text=title, x=0.02),
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(title=axis_titles[0], zeroline=False),
        legend=dict(itemsizing="constant", title="class"),
        yaxis=dict(title=axis_titles[1], zeroline=False, scaleanchor="x", scaleratio=1),
        dragmode="pan",
        clickmode="event+select",
    )
    if axis_range is not None:
        # constrain="domain": equal scales shrink the plot area instead of widening one range, so the range shown
        # is the one given (it holds the points), and panels of one size on one range share pixels per unit.
        layout["xaxis"].update(range=list(axis_range[0]), constrain="domain")
        layout["yaxis"].update(range=list(axis_range[1]), constrain="domain")
    fig.update_layout(**layout)
    return fig


def add_prior_circles(
    fig: go.Figure, centre: Sequence[float] = (0.0, 0.0), radii: Sequence[float] = (1.0, 2.0)
) -> None:
    """Dashed circles at 1σ and 2σ of N(0, I) (they hold 39% and 86% of its mass in 2-D).

    WebGL traces, like the points: a browser draws WebGL above SVG, so SVG circles would hide under the cloud.
    """
    for radius, dash in zip(radii, ("dash", "dot", "longdash"), strict=False):
        xs, ys = circle(radius)
        fig.add_trace(
            go.Scattergl(
                x=xs + centre[0],
                y=ys + centre[1],
                mode="lines",
                name=f"prior {radius:g}σ",
                line=dict(color=PRIOR_COLOUR, width=2.5, dash=dash),
                hoverinfo="skip",
            )
        )


def path_traces(
    path_points: np.ndarray, current_point: Sequence[float] | None = None, name: str = "path"
) -> list[go.Scattergl]:
    """An interpolation path (N, 2) with its ends marked A and B and, optionally, the current point z(t).

    WebGL traces, like the scatter's points: a browser draws WebGL above SVG, and WebGL traces in the order
    they are added, so traces added after the points are drawn on top of all 10 000 of them.
    """
    path_points = np.asarray(path_points, dtype=np.float32)
    ends = path_points[[0, -1]]
    traces = [
        go.Scattergl(
            x=path_points[:, 0],
            y=path_points[:, 1],
            mode="lines",
            name=name,
            line=dict(color=PATH_COLOUR, width=3),
            hoverinfo="skip",
        ),
        go.Scattergl(
            x=ends[:, 0],
            y=ends[:, 1],
            mode="markers+text",
            text=["A", "B"],
            textposition="top center",
            textfont=dict(size=16, color=PATH_COLOUR),
            name="A, B",
            showlegend=False,
            hoverinfo="skip",
            marker=dict(size=14, color="white", line=dict(width=3, color=PATH_COLOUR)),
        ),
    ]
    if current_point is not None:
        traces.append(
            go.Scattergl(
                x=[current_point[0]],
                y=[current_point[1]],
                mode="markers",
                name="z(t)",
                marker=dict(size=20, symbol="star", color=CURRENT_COLOUR, line=dict(width=1.5, color=PATH_COLOUR)),
                hoverinfo="skip",
                showlegend=True,
            )
        )
    return traces


def add_path(
    fig: go.Figure | dict, path_points: np.ndarray, current_point: Sequence[float] | None = None, name: str = "path"
) -> None:
    """Draw path_traces on a figure, or on a figure's dict (as ui.state.derived caches them), in place, on top
    of what is already there."""
    traces = path_traces(path_points, current_point, name)
    if isinstance(fig, dict):
        fig.setdefault("data", []).extend(trace.to_plotly_json() for trace in traces)
    else:
        fig.add_traces(traces)


def trusted_figure(fig: Mapping[str, Any]) -> go.Figure:
    """A go.Figure of a figure dict built from plotly's own objects (as ui.state.derived caches them), not re-validated.

    st.plotly_chart validates a dict by rebuilding it as a Figure, 25-45 ms for the 10 000-point scatter on
    every whole-script rerun; a Figure it takes as it is. The dicts here come from Figure.to_dict() and
    path_traces, so a second validation checks nothing new. `_validate=False` is plotly's own switch for
    this (plotly.express builds its figures with it).
    """
    return go.Figure(fig, _validate=False)


def shared_range(
    point_sets: Sequence[np.ndarray], include_prior: bool = False, margin: float = 0.05, tail: float = 0.001
) -> tuple[tuple[float, float], tuple[float, float]]:
    """One (x, y) range that holds every point set (and the 2σ circle if asked), with a margin.

    tail: the share of points cut off at each end in each dimension, so that a few far outliers do not shrink
    the rest to a speck (the tail and 1 − tail quantiles bound the range); 0 holds every point.
    """
    stacked = np.concatenate([np.asarray(p, dtype=np.float64) for p in point_sets])
    low = np.quantile(stacked, tail, axis=0)
    high = np.quantile(stacked, 1.0 - tail, axis=0)
    if include_prior:
        low, high = np.minimum(low, -2.0), np.maximum(high, 2.0)
    pad = (high - low) * margin + 1e-6
    return (float(low[0] - pad[0]), float(high[0] + pad[0])), (float(low[1] - pad[1]), float(high[1] + pad[1]))


def selected_index(event: Mapping[str, Any] | None) -> int | None:
    """The test-set index of the first clicked point of a plotly selection event, or None.

    Only scatter points carry customdata; clicks on circles or paths are ignored.
    """
    if not event:
        return None
    selection = event.get("selection") or {}
    for point in selection.get("points") or []:
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)):
            custom = custom[0] if custom else None
        if isinstance(custom, (int, float)) and not isinstance(custom, bool):
            return int(custom)
    return None


LERP_COLOUR = "#4E79A7"  # blue: the linear path's norms
SLERP_COLOUR = "#F28E2B"  # orange: the spherical path's norms
FONT_PX = 13  # figure text at least 12 px


def norms_figure(
    ts: np.ndarray,
    lerp_norms: np.ndarray,
    slerp_norms: np.ndarray,
    t: float,
    method: str,
    code_norm: float,
    prior_norm: float | None,
    height: int = 260,
) -> go.Figure:
    """‖z(t)‖ against t for the linear and the spherical path between the same two codes, the current t marked,
    and dotted reference levels: the test codes' mean norm and (VAEs) the prior's."""
    fig = go.Figure()
    for name, norms, colour in (("linear", lerp_norms, LERP_COLOUR), ("spherical", slerp_norms, SLERP_COLOUR)):
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=norms,
                mode="lines",
                name=f"{name} path",
                line=dict(color=colour, width=4 if name == method else 2),
            )
        )
    current = slerp_norms if method == "spherical" else lerp_norms
    fig.add_trace(
        go.Scatter(
            x=[t],
            y=[float(np.interp(t, ts, current))],
            mode="markers",
            name="z(t)",
            marker=dict(size=16, symbol="star", color=CURRENT_COLOUR, line=dict(width=1.5, color=PATH_COLOUR)),
        )
    )
    levels = [("test codes' mean ‖z‖", code_norm)]
    if prior_norm is not None:
        levels.append(("prior's mean ‖z‖", prior_norm))
    above = len(levels) == 1 or levels[0][1] >= levels[1][1]  # each label on the side away from the other line
    for (label, level), dash, position in zip(
        levels, ("dot", "dash"), (("top left", "bottom right") if above else ("bottom left", "top right")), strict=False
    ):
        fig.add_hline(
            y=level,
            line=dict(color="#555555", dash=dash, width=1.5),
            annotation_text=label,
            annotation_position=position,
            annotation_font_size=FONT_PX,
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        font=dict(size=FONT_PX),
        xaxis=dict(title="t", range=[0, 1]),
        yaxis=dict(title="‖z(t)‖", rangemode="tozero"),
        legend=dict(orientation="h", y=1.15, x=1, xanchor="right"),
    )
    return fig
