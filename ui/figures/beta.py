"""Plotly figures of a β sweep (no Streamlit here): the rate-distortion plane and KL per dimension."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from vae_core.engine.vocabulary import INFORMATIVE_MEAN_KL, dim_name
from vae_core.lessons.sweeps import SweepPoint, kl_matrix, short_of_sweep, sweep_epochs

SHIPPED_COLOUR = "#4E79A7"
TRAINED_HERE_COLOUR = "#E15759"
SHORT_COLOUR = "#B07AA1"  # trained here with fewer epochs than the sweep: off its curve
ISO_COLOUR = "rgba(120, 120, 120, 0.55)"
FONT_PX = 13  # every text in these figures, at least 12 px so it reads on a projector


def iso_elbo_levels(points: list[SweepPoint], n_lines: int = 4) -> list[float]:
    """Round −ELBO values spanning the points' range (and a bit beyond) for the iso-lines."""
    values = [p.neg_elbo for p in points]
    low, high = min(values), max(values)
    span = max(high - low, 1e-3 * max(abs(high), 1.0))
    step = _nice_step(span / max(n_lines - 1, 1))
    first = math.floor(low / step) * step
    return [first + i * step for i in range(n_lines + 1) if first + i * step <= high + step]


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least raw."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def rate_distortion_figure(
    points: list[SweepPoint], height: int = 460, *, bound_name: str = "−ELBO", distortion_name: str = "E_q[−log p(x|z)]"
) -> go.Figure:
    """KL (rate, x) against reconstruction (distortion, y), one marker per β, with iso-lines of the bound.

    On a line recon + KL = c every point has the same ELBO; β = 1 training aims at the lowest such line,
    other β values buy one term with the other (Alemi et al. 2018, "Fixing a broken ELBO"). Points trained
    in the app with fewer epochs than the sweep are drawn apart (open diamonds): they lie off its curve.
    bound_name / distortion_name: the labels vae_core.engine.protocol.metric_names gives the sweep's models.
    """
    points = sorted(points, key=lambda p: p.beta)
    rates = np.array([p.kl for p in points])
    distortions = np.array([p.recon for p in points])
    x_pad = max(np.ptp(rates) * 0.15, 1.0)
    y_pad = max(np.ptp(distortions) * 0.15, 1.0)
    # KL is never negative, but a point at KL = 0 (a fully collapsed model) must not sit on the frame.
    x_range = (max(-0.3 * x_pad, rates.min() - x_pad), rates.max() + x_pad)
    y_range = (distortions.min() - y_pad, distortions.max() + y_pad)
    fig = go.Figure()
    for level in iso_elbo_levels(points):
        xs = np.array(x_range)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=level - xs,
                mode="lines",
                line=dict(color=ISO_COLOUR, dash="dot", width=1),
                name=f"{bound_name} = {level:g}",
                hoverinfo="name",
                showlegend=False,
            )
        )
        # Label each iso-line where it enters the plot on the left or at the top.
        x_label = max(x_range[0], level - y_range[1])
        if x_range[0] <= x_label <= x_range[1] and y_range[0] <= level - x_label <= y_range[1]:
            fig.add_annotation(
                x=x_label,
                y=level - x_label,
                text=f"{bound_name} {level:g}",
                showarrow=False,
                xanchor="left",
                yanchor="bottom",
                font=dict(size=FONT_PX, color="#666"),
            )
    epochs = sweep_epochs(points)
    # The sweep's curve joins the points trained like the sweep (not the extra points, which would zigzag).
    on_curve = [p for p in points if not p.trained_here]
    fig.add_trace(
        go.Scatter(
            x=[p.kl for p in on_curve],
            y=[p.recon for p in on_curve],
            mode="lines",
            line=dict(color="#BBBBBB", width=1),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    groups = (
        ("shipped", SHIPPED_COLOUR, "circle", lambda p: not p.trained_here),
        ("trained here", TRAINED_HERE_COLOUR, "diamond", lambda p: p.trained_here and not short_of_sweep(p, epochs)),
        (
            f"trained here, fewer epochs than the sweep's {epochs}: off its curve",
            SHORT_COLOUR,
            "diamond-open",
            lambda p: short_of_sweep(p, epochs),
        ),
    )
    for label, colour, symbol, belongs in groups:
        chosen = [p for p in points if belongs(p)]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.kl for p in chosen],
                y=[p.recon for p in chosen],
                mode="markers+text",
                name=label,
                text=[f"β={p.beta:g}" + (f" ({p.epochs} ep.)" if short_of_sweep(p, epochs) else "") for p in chosen],
                textposition="top right",
                textfont=dict(size=FONT_PX),
                marker=dict(size=12, color=colour, symbol=symbol, line=dict(width=2, color=colour)),
                customdata=[[p.neg_elbo, p.epochs, p.name] for p in chosen],
                hovertemplate="%{customdata[2]}<br>KL %{x:.2f} nats<br>recon %{y:.2f} nats<br>"
                f"{bound_name} %{{customdata[0]:.2f}} nats<br>%{{customdata[1]}} epochs<extra></extra>",
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=60),
        font=dict(size=FONT_PX),
        xaxis=dict(title="rate: KL(q(z|x) ‖ p(z)) [nats]", range=list(x_range)),
        yaxis=dict(title=f"distortion: {distortion_name} [nats]", range=list(y_range)),
        showlegend=any(p.trained_here for p in points),  # a legend only to tell the two apart
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
    )
    return fig


def kl_cell_text(kl: float) -> str:
    """A heat-map cell's number: "–" for a dimension that is not informative (mean KL at or below
    INFORMATIVE_MEAN_KL), else its KL to two significant digits at least, so that no informative cell reads 0
    (0.011 -> "0.011", 0.34 -> "0.34", 3.21 -> "3.2"). The cells with a number are the ones the caption counts."""
    if not kl > INFORMATIVE_MEAN_KL:
        return "–"
    return f"{kl:.1f}" if kl >= 1.0 else f"{kl:.2g}"


def kl_heatmap_figure(points: list[SweepPoint], height: int | None = None) -> go.Figure:
    """KL per latent dimension (rows) for each β (columns), in nats; near-zero cells are collapsed units."""
    points = sorted(points, key=lambda p: p.beta)
    matrix = np.array(kl_matrix(points))
    columns = [f"β={p.beta:g}" + (" *" if p.trained_here else "") for p in points]
    # Two points may share a β (shipped and trained here): keep columns distinct.
    columns = [c if columns.count(c) == 1 else f"{c} ({i})" for i, c in enumerate(columns)]
    rows = [dim_name(d) for d in range(matrix.shape[0])]
    fig = go.Figure(
        go.Heatmap(
            # The scale starts at 0 nats, so a collapsed dimension is white whatever the others carry.
            z=matrix,
            x=columns,
            y=rows,
            colorscale="Blues",
            zmin=0.0,
            zmax=max(float(matrix.max()), 1e-3),
            colorbar=dict(title="KL [nats]"),
            text=[[kl_cell_text(v) for v in row] for row in matrix],
            texttemplate="%{text}" if matrix.size <= 200 else None,
            textfont=dict(size=FONT_PX),
            hovertemplate="%{y}, %{x}: %{z:.3f} nats<extra></extra>",
        )
    )
    fig.update_layout(
        height=height or max(260, 30 * len(rows) + 130),
        margin=dict(l=10, r=10, t=30, b=10),
        font=dict(size=FONT_PX),
        xaxis=dict(title="β (sorted; * trained here)", type="category"),
        yaxis=dict(title="latent dimension", autorange="reversed", type="category"),
    )
    return fig
