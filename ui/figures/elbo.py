"""Figures for the ELBO page (plotly; no Streamlit): the posterior against the prior, KL per dimension, the IW
estimate against K, β. Each colour has its name next to it (COLOUR_NAMES), for the captions that name them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae_core.engine.vocabulary import INFORMATIVE_IMAGE_KL, dim_name
from vae_core.lessons.elbo_report import ElboBreakdown, IwCurve

PRIOR_COLOUR = "rgba(120, 120, 120, 0.18)"
POSTERIOR_COLOUR = "#1f77b4"  # informative dimensions, in both the posterior and the KL plot; the IW mean
IDLE_COLOUR = "#9a9a9a"  # dimensions on the prior; one seed's IW estimates
KL_COLOUR = "#d62728"  # the chosen β; the −ELBO line
COLOUR_NAMES = {POSTERIOR_COLOUR: "blue", IDLE_COLOUR: "grey", KL_COLOUR: "red"}
FONT = dict(size=14)  # at least 12 px everywhere, so the figures read on a projector
MAX_LABELLED_DIMS = 20  # beyond this, every fifth dimension is labelled


def informative(breakdown: ElboBreakdown) -> np.ndarray:
    """Informative dimensions for this image (vae_core.engine.vocabulary): KL(q(z_d|x) || p(z_d)) >=
    INFORMATIVE_IMAGE_KL (bool, (D,))."""
    return breakdown.kl_per_dim >= INFORMATIVE_IMAGE_KL


def posterior_figure(breakdown: ElboBreakdown) -> go.Figure:
    """mu_d ± sigma_d of q(z|x) per latent dimension, over the prior's mean 0 ± 1 (grey band).

    Dimensions that carry information are blue; those left on the prior are grey.
    """
    dims = np.arange(len(breakdown.posterior_mean))
    is_informative = informative(breakdown)
    fig = go.Figure()
    fig.add_hrect(y0=-1, y1=1, fillcolor=PRIOR_COLOUR, line_width=0, layer="below")
    fig.add_hline(y=0, line_color="grey", line_width=1)
    for chosen, colour, name in (
        (is_informative, POSTERIOR_COLOUR, "informative"),
        (~is_informative, IDLE_COLOUR, "on the prior"),
    ):
        if not chosen.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=dims[chosen],
                y=breakdown.posterior_mean[chosen],
                mode="markers",
                name=name,
                marker=dict(color=colour, size=8),
                error_y=dict(type="data", array=breakdown.posterior_std[chosen], thickness=2, width=4, color=colour),
                customdata=np.stack([breakdown.posterior_std[chosen], breakdown.kl_per_dim[chosen]], axis=1),
                text=[dim_name(d) for d in dims[chosen]],
                hovertemplate="%{text}: μ = %{y:.2f}, σ = %{customdata[0]:.2f}<br>KL = %{customdata[1]:.2f} nats"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title="q(z|x): μ ± σ per dimension; grey band: prior",
        yaxis_title="z",
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        showlegend=False,
        font=FONT,
    )
    _dimension_ticks(fig, dims)
    return fig


def kl_per_dim_figure(breakdown: ElboBreakdown) -> go.Figure:
    """KL(q(z_d|x) || p(z_d)) per dimension, in nats: what this image's code costs in each dimension.

    Coloured like the posterior plot: informative dimensions blue, those on the prior grey.
    """
    dims = np.arange(len(breakdown.kl_per_dim))
    colours = np.where(informative(breakdown), POSTERIOR_COLOUR, IDLE_COLOUR)
    fig = go.Figure(
        go.Bar(
            x=dims,
            y=breakdown.kl_per_dim,
            marker_color=list(colours),
            text=[dim_name(d) for d in range(len(dims))],
            textposition="none",
            hovertemplate="%{text}: KL = %{y:.3f} nats<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"KL per dimension (total {breakdown.kl:.2f} nats)",
        yaxis_title="nats",
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
    )
    _dimension_ticks(fig, dims)
    return fig


def objective_figure(breakdown: ElboBreakdown, betas: np.ndarray | list[float]) -> go.Figure:
    """recon + beta * KL against beta for this image and this (fixed) posterior; the chosen beta marked."""
    betas = np.asarray(betas, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=betas,
            y=breakdown.objective_at(betas),
            mode="lines",
            name="recon + β·KL",
            line=dict(color=POSTERIOR_COLOUR),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=betas,
            y=np.full_like(betas, breakdown.recon),
            mode="lines",
            name="recon alone",
            line=dict(color="grey", dash="dot"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[breakdown.beta],
            y=[breakdown.objective],
            mode="markers",
            name=f"β = {breakdown.beta:g}",
            marker=dict(color=KL_COLOUR, size=11),
        )
    )
    fig.add_vline(
        x=1.0, line_dash="dash", line_color="grey", annotation_text="β = 1: −ELBO", annotation_position="top left"
    )
    fig.update_layout(
        title="recon + β·KL for this image as β changes",
        xaxis_title="β",
        yaxis_title="nats",
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        legend=dict(orientation="h", yanchor="bottom", y=-0.45),
    )
    return fig


def iw_curve_figure(curve: IwCurve, neg_elbo: float, chosen_k: int) -> go.Figure:
    """-IW_K against K (log axis): each seed's nested estimates (grey lines), their mean ± sd (blue), the −ELBO
    of the terms above (red, dashed), the chosen K marked."""
    ks = np.asarray(curve.ks, dtype=np.float64)
    fig = go.Figure()
    for row, seed in zip(curve.iw_nll, curve.seeds, strict=True):
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=row,
                mode="lines",
                line=dict(color=IDLE_COLOUR, width=1),
                opacity=0.7,
                name=f"seed {seed}",
                showlegend=False,
                hovertemplate=f"seed {seed}, K = %{{x}}: %{{y:.2f}} nats<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=curve.mean,
            mode="lines+markers",
            name=f"mean of {len(curve.seeds)} seeds ± sd",
            line=dict(color=POSTERIOR_COLOUR, width=3),
            marker=dict(size=8),
            error_y=dict(type="data", array=curve.spread, thickness=2, width=5, color=POSTERIOR_COLOUR),
            hovertemplate="K = %{x}: %{y:.2f} nats (mean)<extra></extra>",
        )
    )
    fig.add_hline(
        y=neg_elbo,
        line_dash="dash",
        line_color=KL_COLOUR,
        annotation_text="−ELBO",
        annotation_position="top right",
        annotation_font=dict(color=KL_COLOUR, size=14),
    )
    fig.add_vline(x=chosen_k, line_dash="dot", line_color="grey")
    fig.update_xaxes(
        type="log", title="K, importance samples", tickvals=list(curve.ks), ticktext=[f"{k:g}" for k in curve.ks]
    )
    fig.update_layout(
        title="−IW_K, the estimate of −log p(x), against K",
        yaxis_title="nats",
        height=360,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        legend=dict(orientation="h", yanchor="bottom", y=-0.45),
    )
    return fig


def _dimension_ticks(fig: go.Figure, dims: np.ndarray) -> None:
    """Label the x axis z₁, z₂, ...; every fifth one only when there are many."""
    shown = dims if len(dims) <= MAX_LABELLED_DIMS else dims[::5]
    fig.update_xaxes(tickmode="array", tickvals=shown, ticktext=[dim_name(d) for d in shown])
