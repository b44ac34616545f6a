"""Plotly figures of the autoencoder-family lesson (no Streamlit here).

Each builder takes plain arrays (numpy or torch) and returns a go.Figure; the numbers come from
vae_core.lessons.autoencoders.numbers, computed by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures.colours import NEUTRAL

DATA_COLOUR = "rgba(110, 110, 110, 0.45)"
MANIFOLD_COLOUR = NEUTRAL
PCA_COLOUR = "#59A14F"  # green: survives the README palette, unlike orange next to red
LINEAR_COLOUR = "#4E79A7"
NONLINEAR_COLOUR = "#E15759"
PLAIN_COLOUR = "#4E79A7"  # the plain autoencoder, wherever it is compared
VARIANT_COLOUR = "#E15759"  # the regularised one (sparse, denoising, contractive)
INPUT_COLOUR = "#9C9C9C"  # the noisy input itself


X_TITLE_PX = 50  # room under the plot for the x-axis tick labels and title
LEGEND_ROWS_PX = 48  # room under those for a legend of up to two rows


def _array(values) -> np.ndarray:
    return values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)


def _layout(
    fig: go.Figure, title: str, height: int, x_title: str = "", y_title: str = "", equal_axes: bool = False
) -> go.Figure:
    # The legend goes under the plot: above it, it collides with the title. Under an x-axis title it is pinned to
    # the figure's bottom edge (yref "container") below a margin that holds the tick labels and the title, and
    # the figure grows by that margin: placed in plot units (y = -0.15) it sat on the x-axis title.
    below = X_TITLE_PX + LEGEND_ROWS_PX if x_title else 0
    fig.update_layout(
        title=title,
        height=height + below,
        margin={"l": 10, "r": 10, "t": 40, "b": 10 + below},
        legend=(
            {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0}
            if x_title
            else {"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0}
        ),
        template="plotly_white",
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def toy_reconstruction_figure(
    points, clean, pca_line, linear_recon, nonlinear_curve, *, title: str = "", height: int = 420
) -> go.Figure:
    """2-D toy data with the true curve, PCA's line, the linear AE's reconstructions and the non-linear AE's
    learned curve (its decoder over a line of codes)."""
    points, clean = _array(points), _array(clean)
    order = np.argsort(clean[:, 0] + 1e-3 * clean[:, 1]) if clean.shape[0] else np.zeros(0, dtype=np.intp)
    fig = go.Figure(
        [
            go.Scatter(
                x=points[:, 0], y=points[:, 1], mode="markers", name="data", marker={"size": 4, "color": DATA_COLOUR}
            ),
            go.Scatter(
                x=_array(pca_line)[:, 0],
                y=_array(pca_line)[:, 1],
                mode="lines",
                name="PCA line",
                line={"color": PCA_COLOUR, "width": 6},
            ),
            go.Scatter(
                x=_array(linear_recon)[:, 0],
                y=_array(linear_recon)[:, 1],
                mode="markers",
                name="linear AE reconstructions",
                marker={"size": 4, "color": LINEAR_COLOUR},
            ),
            go.Scatter(
                x=_array(nonlinear_curve)[:, 0],
                y=_array(nonlinear_curve)[:, 1],
                mode="lines",
                name="non-linear AE: decoded codes",
                line={"color": NONLINEAR_COLOUR, "width": 3},
            ),
        ]
    )
    if len(order):
        fig.add_trace(
            go.Scatter(
                x=clean[order, 0],
                y=clean[order, 1],
                mode="markers",
                name="true manifold",
                marker={"size": 2, "color": MANIFOLD_COLOUR},
                visible="legendonly",
            )
        )
    return _layout(fig, title, height, "x₁", "x₂", equal_axes=True)


def toy_reconstruction_figure_3d(
    points, linear_recon, nonlinear_recon, *, title: str = "", height: int = 460
) -> go.Figure:
    """3-D toy data with the linear AE's reconstructions (a plane) and the non-linear AE's (the roll)."""
    traces = []
    for values, name, colour, size in (
        (points, "data", DATA_COLOUR, 2),
        (linear_recon, "linear AE", LINEAR_COLOUR, 2),
        (nonlinear_recon, "non-linear AE", NONLINEAR_COLOUR, 2),
    ):
        values = _array(values)
        traces.append(
            go.Scatter3d(
                x=values[:, 0],
                y=values[:, 1],
                z=values[:, 2],
                mode="markers",
                name=name,
                marker={"size": size, "color": colour},
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(scene={"aspectmode": "data"})
    return _layout(fig, title, height)


def kl_penalty_figure(rho_hat, kl_values, rho: float, *, height: int = 300) -> go.Figure:
    """KL(ρ‖ρ̂) against ρ̂, with its zero at ρ marked."""
    fig = go.Figure(
        [
            go.Scatter(
                x=_array(rho_hat),
                y=_array(kl_values),
                mode="lines",
                name="KL(ρ‖ρ̂)",
                line={"color": VARIANT_COLOUR, "width": 3},
            )
        ]
    )
    fig.add_vline(x=rho, line={"color": MANIFOLD_COLOUR, "dash": "dash"}, annotation_text=f"ρ = {rho:g}")
    return _layout(
        fig,
        f"The KL sparsity penalty of one unit, ρ = {rho:g}",
        height,
        "average activation ρ̂ of the unit",
        "KL(ρ ‖ ρ̂), nats",
    )


def activation_bars_figure(activations: dict[str, np.ndarray], threshold: float, *, height: int = 320) -> go.Figure:
    """Hidden activations of one image, one bar per unit, for each labelled model, with the threshold."""
    colours = (PLAIN_COLOUR, VARIANT_COLOUR)
    fig = go.Figure(
        [
            go.Bar(x=np.arange(len(values)), y=_array(values), name=label, marker_color=colours[i % 2], opacity=0.8)
            for i, (label, values) in enumerate(activations.items())
        ]
    )
    fig.add_hline(
        y=threshold, line={"color": MANIFOLD_COLOUR, "dash": "dot"}, annotation_text=f"threshold {threshold:g}"
    )
    fig.update_layout(barmode="overlay", bargap=0)
    return _layout(fig, "Hidden-layer activations for this digit", height, "hidden unit", "activation")


def histogram_figure(
    series: dict[str, np.ndarray],
    *,
    title: str,
    x_title: str,
    marker: float | None = None,
    marker_label: str = "",
    log_x: bool = False,
    bins: int = 40,
    height: int = 320,
) -> go.Figure:
    """Overlaid histograms (one per labelled series) on shared bins, with an optional vertical marker."""
    arrays = {label: _array(values).astype(float) for label, values in series.items()}
    if log_x:
        arrays = {label: np.log10(np.maximum(values, 1e-12)) for label, values in arrays.items()}
    joined = np.concatenate(list(arrays.values()))
    edges = np.linspace(joined.min(), joined.max() + 1e-9, bins + 1)
    colours = (PLAIN_COLOUR, VARIANT_COLOUR, INPUT_COLOUR)
    fig = go.Figure()
    centres = 0.5 * (edges[1:] + edges[:-1])
    for i, (label, values) in enumerate(arrays.items()):
        counts, _ = np.histogram(values, edges)
        fig.add_trace(
            go.Bar(x=centres, y=counts, name=label, opacity=0.6, marker_color=colours[i % 3], width=np.diff(edges))
        )
    if marker is not None:
        fig.add_vline(x=marker, line={"color": MANIFOLD_COLOUR, "dash": "dash"}, annotation_text=marker_label)
    fig.update_layout(barmode="overlay")
    # log_x: the bins are even in log10 of the values, drawn on a linear axis of log10 (bars keep their width)
    return _layout(fig, title, height, f"log₁₀ {x_title}" if log_x else x_title, "count")


def denoising_curve_figure(
    levels: Sequence[float],
    errors: dict[str, Sequence[float]],
    current: float | None,
    *,
    x_title: str,
    height: int = 320,
) -> go.Figure:
    """Mean squared error against the clean digit, one line per model (and the noisy input)."""
    colours = {0: PLAIN_COLOUR, 1: VARIANT_COLOUR, 2: INPUT_COLOUR}
    fig = go.Figure(
        [
            go.Scatter(
                x=list(levels),
                y=list(values),
                mode="lines+markers",
                name=label,
                line={"color": colours[i % 3], "dash": "dot" if i == 2 else "solid"},
            )
            for i, (label, values) in enumerate(errors.items())
        ]
    )
    if current is not None:
        fig.add_vline(x=current, line={"color": MANIFOLD_COLOUR, "dash": "dash"})
    return _layout(fig, "Error against the clean digit, test images", height, x_title, "‖x − x̂‖² per image")


def vector_field_figure(grid, field, points, *, steps: int, title: str = "", height: int = 460) -> go.Figure:
    """Arrows r(x̃) − x̃ from each point of a steps × steps grid (segments with a dot at the tip), over the data.

    Drawn to scale would bury the picture (far from the data the arrows span the plot), so all arrows are
    scaled by one factor that makes the longest 0.9 grid steps: directions and relative lengths are kept.
    """
    grid, field = _array(grid), _array(field)
    step = float(min(np.ptp(grid[:, 0]), np.ptp(grid[:, 1]))) / max(steps - 1, 1)
    longest = float(np.linalg.norm(field, axis=1).max())
    scale = 0.9 * step / longest if longest > 0 else 1.0
    tips = grid + scale * field
    xs = np.column_stack([grid[:, 0], tips[:, 0], np.full(len(grid), np.nan)]).ravel()
    ys = np.column_stack([grid[:, 1], tips[:, 1], np.full(len(grid), np.nan)]).ravel()
    points = _array(points)
    fig = go.Figure(
        [
            go.Scatter(
                x=points[:, 0],
                y=points[:, 1],
                mode="markers",
                name="training points",
                marker={"size": 3, "color": DATA_COLOUR},
            ),
            go.Scatter(
                x=xs, y=ys, mode="lines", name=f"r(x̃) − x̃, × {scale:.2g}", line={"color": VARIANT_COLOUR, "width": 1.5}
            ),
            go.Scatter(
                x=tips[:, 0],
                y=tips[:, 1],
                mode="markers",
                name="arrow tips",
                showlegend=False,
                marker={"size": 4, "color": VARIANT_COLOUR},
            ),
        ]
    )
    return _layout(fig, title, height, "x₁", "x₂", equal_axes=True)


def response_figure(
    offsets, responses: dict[str, np.ndarray], *, title: str, x_title: str, height: int = 320
) -> go.Figure:
    """How far the reconstruction moves for an input moved by s, one line per labelled model, with y = s."""
    offsets = _array(offsets)
    colours = (PLAIN_COLOUR, VARIANT_COLOUR, LINEAR_COLOUR, NONLINEAR_COLOUR)
    fig = go.Figure(
        [
            go.Scatter(
                x=offsets,
                y=offsets,
                mode="lines",
                name="identity (slope 1)",
                line={"color": INPUT_COLOUR, "dash": "dot"},
            )
        ]
    )
    for i, (label, values) in enumerate(responses.items()):
        fig.add_trace(
            go.Scatter(
                x=offsets,
                y=_array(values),
                mode="lines",
                name=label,
                line={"color": colours[i % 4], "width": 3, "dash": "solid" if i < 2 else "dash"},
            )
        )
    return _layout(fig, title, height, x_title, "reconstruction moves by")
