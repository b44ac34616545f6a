"""Figures for the inference page: the true posterior beside q(z|x), mean-field fits, the two KL directions.

Pure plotly / NumPy (no Streamlit); the numbers come from vae_core.lessons.posterior and vae_core.lessons.divergences.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.figures.colours import NEUTRAL
from vae_core.lessons.divergences import GaussianFit, MeanFieldComparison, TwoGaussianMixture, gaussian_log_prob
from vae_core.lessons.posterior import DiagonalGaussian, PosteriorGrid, mass_levels

# density from the paper (transparent) to mid grey: it reads on the light and the dark theme, where "Greys" painted
# a white rectangle on dark
POSTERIOR_COLOURSCALE = [[0.0, "rgba(140, 140, 140, 0)"], [1.0, "rgba(140, 140, 140, 1)"]]
ENCODER_COLOUR = "#1f77b4"  # q(z|x), the encoder's Gaussian
Q_STAR_COLOUR = "#d62728"  # q*, the best Gaussian for this one image
TARGET_COLOUR = NEUTRAL
REVERSE_COLOUR = "#1f77b4"  # fits that minimise KL(q ‖ p)
FORWARD_COLOUR = "#ff7f0e"  # fits that minimise KL(p ‖ q)
MASS_FRACTIONS = (0.5, 0.9, 0.99)  # the posterior's contour lines enclose these fractions of its mass
FIGURE_HEIGHT = 430


def _layout(
    fig: go.Figure, *, x_title: str, y_title: str, equal_axes: bool = False, height: int = FIGURE_HEIGHT
) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def gaussian_ellipse(
    mean: np.ndarray, cov: np.ndarray, n_sigma: float, n_points: int = 120
) -> tuple[np.ndarray, np.ndarray]:
    """The n_sigma contour of N(mean, cov) in 2-D as a closed polyline."""
    angle = np.linspace(0.0, 2 * np.pi, n_points)
    values, vectors = np.linalg.eigh(np.asarray(cov, dtype=float))
    circle = np.stack([np.cos(angle), np.sin(angle)])
    points = vectors @ (np.sqrt(np.maximum(values, 0))[:, None] * circle) * n_sigma
    return mean[0] + points[0], mean[1] + points[1]


def mass_radius(mass: float) -> float:
    """The Mahalanobis radius of the ellipse holding `mass` of a 2-D Gaussian: r² ~ χ²₂, whose CDF is
    1 − exp(−r²/2), so r = √(−2 ln(1 − mass)) (0.5: 1.18σ, 0.9: 2.15σ, 0.99: 3.03σ)."""
    if not 0.0 < mass < 1.0:
        raise ValueError(f"a mass fraction lies strictly between 0 and 1, got {mass}")
    return float(np.sqrt(-2.0 * np.log1p(-mass)))


def _ellipse_traces(q: DiagonalGaussian, name: str, colour: str, dash: str = "solid") -> list[go.Scatter]:
    """q's ellipses holding MASS_FRACTIONS of its mass, the levels p(z|x)'s contours are drawn at, so that the
    two are compared like for like (1σ/2σ ellipses hold only 39 % and 86 % in 2-D)."""
    traces = []
    for mass, width in zip(MASS_FRACTIONS, (2.5, 1.8, 1.2), strict=True):
        x, y = q.ellipse(mass_radius(mass))
        traces.append(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=f"{name}: {mass:.0%} of mass",
                line=dict(color=colour, width=width, dash=dash if mass == MASS_FRACTIONS[0] else "dot"),
                legendgroup=name,
                showlegend=mass == MASS_FRACTIONS[0],
            )
        )
    mean = q.mean.detach().double().numpy()
    traces.append(
        go.Scatter(
            x=[mean[0]],
            y=[mean[1]],
            mode="markers",
            name=f"{name} mean",
            legendgroup=name,
            showlegend=False,
            marker=dict(color=colour, size=8, symbol="x"),
        )
    )
    return traces


def posterior_figure(
    grid: PosteriorGrid, q: DiagonalGaussian, q_star: DiagonalGaussian | None = None, view: str = "q"
) -> go.Figure:
    """p(z|x) as filled contours of its density, with lines enclosing 50/90/99 % of its mass, and q's ellipses.

    view "q" zooms on the region that holds q's 99 % ellipse and the posterior's 99 % line; "grid" shows the
    whole grid.
    """
    density = grid.posterior().numpy()
    z1, z2 = grid.z1.numpy(), grid.z2.numpy()
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            x=z1,
            y=z2,
            z=density.T,
            colorscale=POSTERIOR_COLOURSCALE,
            zsmooth="best",
            showscale=False,
            name="p(z|x)",
            hovertemplate="z₁ %{x:.3f}<br>z₂ %{y:.3f}<br>p(z|x) %{z:.3g}<extra></extra>",
            zmin=0,
            zmax=float(density.max()),
        )
    )
    levels = mass_levels(grid, MASS_FRACTIONS)
    for fraction, level in zip(MASS_FRACTIONS, levels, strict=True):
        fig.add_trace(
            go.Contour(
                x=z1,
                y=z2,
                z=density.T,
                showscale=False,
                name="p(z|x): " + " / ".join(f"{m:.0%}" for m in MASS_FRACTIONS) + " of mass",
                contours=dict(start=level, end=level, size=1, coloring="none"),
                line=dict(color="#2ca02c", width=1.5),
                hoverinfo="skip",
                showlegend=fraction == MASS_FRACTIONS[0],
            )
        )
    for trace in _ellipse_traces(q, "q(z|x)", ENCODER_COLOUR):
        fig.add_trace(trace)
    if q_star is not None:
        for trace in _ellipse_traces(q_star, "q*", Q_STAR_COLOUR, dash="dash"):
            fig.add_trace(trace)
    if view == "q":
        box = _zoom_box(grid, levels[-1], [q] + ([q_star] if q_star is not None else []))
        fig.update_xaxes(range=box[0])
        fig.update_yaxes(range=box[1])
    return _layout(fig, x_title="z₁", y_title="z₂", equal_axes=True)


def _zoom_box(grid: PosteriorGrid, level: float, qs: list[DiagonalGaussian]) -> list[list[float]]:
    """Axis ranges holding the density's `level` superlevel set and each q's outermost ellipse, padded by 10 %."""
    density = grid.posterior().numpy()
    inside = density >= level
    z1, z2 = grid.z1.numpy(), grid.z2.numpy()
    lows = np.array([z1[inside.any(1)].min(), z2[inside.any(0)].min()])
    highs = np.array([z1[inside.any(1)].max(), z2[inside.any(0)].max()])
    for q in qs:
        mean, std = q.mean.detach().double().numpy(), q.std.detach().double().numpy()
        reach = mass_radius(MASS_FRACTIONS[-1]) * std
        lows = np.minimum(lows, mean - reach)
        highs = np.maximum(highs, mean + reach)
    pad = 0.1 * (highs - lows)
    return [[float(lows[i] - pad[i]), float(highs[i] + pad[i])] for i in range(2)]


def mean_field_figure(comparison: MeanFieldComparison) -> go.Figure:
    """The correlated target's 1σ/2σ ellipses and both mean-field fits' (axis-aligned) ones."""
    fig = go.Figure()
    mean = comparison.target_mean
    for n_sigma in (1, 2):
        for cov, name, colour, dash in (
            (comparison.target_cov, "target p", TARGET_COLOUR, "solid"),
            (comparison.reverse.covariance, "reverse KL(q‖p) fit", REVERSE_COLOUR, "solid"),
            (comparison.forward.covariance, "forward KL(p‖q) fit", FORWARD_COLOUR, "dash"),
        ):
            add_ellipse(fig, mean, cov, n_sigma, name=name, colour=colour, dash=dash)
    reach = 2.3 * float(np.sqrt(np.diag(comparison.target_cov)).max())
    fig.update_xaxes(range=[-reach, reach])
    fig.update_yaxes(range=[-reach, reach])
    return _layout(fig, x_title="z₁", y_title="z₂", equal_axes=True)


def variance_ratio_figure(rhos: np.ndarray, ratios: np.ndarray, current_rho: float, current_ratio: float) -> go.Figure:
    """Var_q / Var_p of the reverse-KL mean-field fit against the correlation, the current ρ marked."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=rhos, y=ratios, mode="lines", name="reverse KL: 1 − ρ²", line=dict(color=REVERSE_COLOUR, width=2.5)
        )
    )
    fig.add_trace(
        go.Scatter(
            x=rhos,
            y=np.ones_like(rhos),
            mode="lines",
            name="forward KL: 1",
            line=dict(color=FORWARD_COLOUR, width=2, dash="dash"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[current_rho],
            y=[current_ratio],
            mode="markers",
            name=f"ρ = {current_rho:.2f}",
            marker=dict(color=REVERSE_COLOUR, size=11),
        )
    )
    fig.update_yaxes(range=[0, 1.08])
    return _layout(fig, x_title="correlation ρ of the target", y_title="fitted variance ÷ true marginal variance")


def mixture_figure_1d(
    target: TwoGaussianMixture, fits: list[tuple[str, GaussianFit, str, str]], grid_axis: np.ndarray
) -> go.Figure:
    """The 1-D mixture's density and each fitted Gaussian's, over the grid's range."""
    z = grid_axis
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=z,
            y=np.exp(target.log_prob(z[:, None])),
            mode="lines",
            name="target p",
            line=dict(color=TARGET_COLOUR, width=3),
            fill="tozeroy",
            fillcolor="rgba(80,80,80,0.12)",
        )
    )
    for name, fit, colour, dash in fits:
        density = np.exp(gaussian_log_prob(z[:, None], fit.mean, fit.cov))
        fig.add_trace(
            go.Scatter(x=z, y=density, mode="lines", name=name, line=dict(color=colour, width=2.5, dash=dash))
        )
    mean, cov = target.moments()
    reach = 3.2 * np.sqrt(cov[0, 0])
    fig.update_xaxes(range=[float(mean[0] - reach), float(mean[0] + reach)])
    return _layout(fig, x_title="z", y_title="density")


def mixture_figure_2d(
    target: TwoGaussianMixture, fits: list[tuple[str, GaussianFit, str, str]], axes: tuple[np.ndarray, np.ndarray]
) -> go.Figure:
    """The 2-D mixture's density as filled contours and each fit's 1σ/2σ ellipses."""
    z1, z2 = axes
    mesh = np.stack(np.meshgrid(z1, z2, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(target.log_prob(mesh)).reshape(len(z1), len(z2))
    fig = go.Figure()
    fig.add_trace(
        go.Contour(
            x=z1,
            y=z2,
            z=density.T,
            colorscale=POSTERIOR_COLOURSCALE,
            showscale=False,
            name="target p",
            contours=dict(coloring="heatmap"),
            line=dict(width=0),
            hoverinfo="skip",
            ncontours=12,
        )
    )
    for name, fit, colour, dash in fits:
        for n_sigma in (1, 2):
            add_ellipse(fig, fit.mean, fit.cov, n_sigma, name=name, colour=colour, dash=dash)
    mean, cov = target.moments()
    reach = 2.6 * np.sqrt(cov[0, 0])
    fig.update_xaxes(range=[float(mean[0] - reach), float(mean[0] + reach)])
    fig.update_yaxes(range=[float(-reach), float(reach)])
    return _layout(fig, x_title="z₁", y_title="z₂", equal_axes=True)


def add_ellipse(fig: go.Figure, mean, cov, n_sigma: int, *, name: str, colour: str, dash: str) -> None:
    """A Gaussian's n-sigma ellipse as a line trace; the 1-sigma one is bold and carries the legend entry."""
    x, y = gaussian_ellipse(mean, cov, n_sigma)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name=name,
            legendgroup=name,
            showlegend=n_sigma == 1,
            line=dict(color=colour, width=2.5 if n_sigma == 1 else 1.2, dash=dash),
        )
    )
