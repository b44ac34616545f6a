"""Figures for the ELBO page (plotly; no Streamlit): the posterior against the prior, KL per dimension, β."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae_core.elbo_report import ElboBreakdown
from vae_core.vocabulary import INFORMATIVE_IMAGE_KL, dim_name

PRIOR_COLOUR = "rgba(120, 120, 120, 0.18)"
POSTERIOR_COLOUR = "#1f77b4"
IDLE_COLOUR = "#9a9a9a"
MAX_LABELLED_DIMS = 20  # beyond this, every fifth dimension is labelled
KL_COLOUR = "#d62728"


def informative(breakdown: ElboBreakdown) -> np.ndarray:
    """Dimensions whose posterior carries at least INFORMATIVE_IMAGE_KL nats about this image (bool, (D,))."""
    return breakdown.kl_per_dim >= INFORMATIVE_IMAGE_KL


def posterior_figure(breakdown: ElboBreakdown) -> go.Figure:
    """mu_d ± sigma_d of q(z|x) per latent dimension, over the prior's mean 0 ± 1 (grey band).

    Dimensions that carry information are blue; those left on the prior are grey.
    """
    dims = np.arange(len(breakdown.posterior_mean))
    active = informative(breakdown)
    fig = go.Figure()
    fig.add_hrect(y0=-1, y1=1, fillcolor=PRIOR_COLOUR, line_width=0, layer="below")
    fig.add_hline(y=0, line_color="grey", line_width=1)
    for chosen, colour, name in ((active, POSTERIOR_COLOUR, "informative"), (~active, IDLE_COLOUR, "on the prior")):
        if not chosen.any():
            continue
        fig.add_trace(go.Scatter(
            x=dims[chosen], y=breakdown.posterior_mean[chosen], mode="markers", name=name,
            marker=dict(color=colour, size=8),
            error_y=dict(type="data", array=breakdown.posterior_std[chosen], thickness=2, width=4, color=colour),
            customdata=np.stack([breakdown.posterior_std[chosen], breakdown.kl_per_dim[chosen]], axis=1),
            text=[dim_name(d) for d in dims[chosen]],
            hovertemplate="%{text}: μ = %{y:.2f}, σ = %{customdata[0]:.2f}<br>KL = %{customdata[1]:.2f} nats"
                          "<extra></extra>",
        ))
    fig.update_layout(title="q(z|x): μ ± σ per dimension; grey band: prior", yaxis_title="z", height=320,
                      margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
    _dimension_ticks(fig, dims)
    return fig


def kl_per_dim_figure(breakdown: ElboBreakdown) -> go.Figure:
    """KL(q(z_d|x) || p(z_d)) per dimension, in nats: the information each dimension carries about x."""
    dims = np.arange(len(breakdown.kl_per_dim))
    fig = go.Figure(go.Bar(
        x=dims, y=breakdown.kl_per_dim, marker_color=KL_COLOUR, text=[dim_name(d) for d in dims],
        textposition="none", hovertemplate="%{text}: KL = %{y:.3f} nats<extra></extra>",
    ))
    fig.update_layout(title=f"KL per dimension (total {breakdown.kl:.2f} nats)", yaxis_title="nats", height=320,
                      margin=dict(l=10, r=10, t=40, b=10))
    _dimension_ticks(fig, dims)
    return fig


def objective_figure(breakdown: ElboBreakdown, betas: np.ndarray | list[float]) -> go.Figure:
    """recon + beta * KL against beta for this image and this (fixed) posterior; the chosen beta marked."""
    betas = np.asarray(betas, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=betas, y=breakdown.objective_at(betas), mode="lines", name="recon + β·KL",
                             line=dict(color=POSTERIOR_COLOUR)))
    fig.add_trace(go.Scatter(x=betas, y=np.full_like(betas, breakdown.recon), mode="lines", name="recon alone",
                             line=dict(color="grey", dash="dot")))
    fig.add_trace(go.Scatter(x=[breakdown.beta], y=[breakdown.objective], mode="markers",
                             name=f"β = {breakdown.beta:g}",
                             marker=dict(color=KL_COLOUR, size=11)))
    fig.add_vline(x=1.0, line_dash="dash", line_color="grey", annotation_text="β = 1: −ELBO",
                  annotation_position="top left")
    fig.update_layout(title="recon + β·KL for this image as β changes", xaxis_title="β",
                      yaxis_title="nats", height=320, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=-0.4))
    return fig


def _dimension_ticks(fig: go.Figure, dims: np.ndarray) -> None:
    """Label the x axis z₁, z₂, ...; every fifth one only when there are many."""
    shown = dims if len(dims) <= MAX_LABELLED_DIMS else dims[::5]
    fig.update_xaxes(tickmode="array", tickvals=shown, ticktext=[dim_name(d) for d in shown])
