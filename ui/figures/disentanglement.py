"""Figures and words of the disentanglement lesson (no Streamlit here): the metric trade-off against β, the
factor x latent mutual-information maps, the latent traversals, and what the numbers say about the claim."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vae_core.engine.vocabulary import dim_name, kind_label
from vae_core.lessons.disentanglement import ClaimCheck, ModelPoint

MIG_COLOUR = "#4E79A7"
FACTOR_VAE_COLOUR = "#F28E2B"
RECON_COLOUR = "#9C9C9C"
FONT_PX = 13  # every text in these figures, at least 12 px so it reads on a projector
KIND_SYMBOLS = {"vae": "circle", "tcvae": "diamond"}


def point_label(point: ModelPoint) -> str:
    """'VAE β = 4', 'β-TCVAE β = 6'."""
    return f"{kind_label(point.kind)} β = {point.beta:g}"


def tradeoff_figure(points: list[ModelPoint], height: int = 430) -> go.Figure:
    """MIG and the FactorVAE score of every model against β (log axis, left, 0..1), the reconstruction cost on
    the right axis: what each β buys in disentanglement and pays in reconstruction. VAEs are joined by lines
    (β varied alone); β-TCVAEs are diamonds without a line (another objective)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for kind in ("vae", "tcvae"):
        members = sorted((p for p in points if p.kind == kind), key=lambda p: p.beta)
        if not members:
            continue
        betas = [p.beta for p in members]
        mode = "lines+markers" if kind == "vae" else "markers"
        symbol = KIND_SYMBOLS.get(kind, "circle")
        label = kind_label(kind)
        series = (
            ("MIG", [p.report.mig for p in members], MIG_COLOUR, False),
            ("FactorVAE score", [p.report.factor_vae_score for p in members], FACTOR_VAE_COLOUR, False),
            ("reconstruction (nats)", [p.recon for p in members], RECON_COLOUR, True),
        )
        for name, values, colour, secondary in series:
            fig.add_trace(
                go.Scatter(
                    x=betas,
                    y=values,
                    mode=mode,
                    name=f"{name}: {label}",
                    marker={"symbol": symbol, "size": 11, "color": colour},
                    line={"color": colour, "dash": "dot" if secondary else "solid"},
                    hovertemplate=f"{label} β = %{{x:g}}<br>{name} %{{y:.3f}}<extra></extra>",
                ),
                secondary_y=secondary,
            )
    fig.update_xaxes(type="log", title="β (log scale)", tickvals=sorted({p.beta for p in points}))
    fig.update_yaxes(title="MIG, FactorVAE score", range=[0, 1.02], secondary_y=False)
    fig.update_yaxes(title="reconstruction E_q[−log p(x|z)], nats", secondary_y=True, showgrid=False)
    fig.update_layout(
        height=height,
        font={"size": FONT_PX},
        margin={"l": 60, "r": 60, "t": 30, "b": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def mi_heatmaps_figure(point: ModelPoint, reference: np.ndarray, height: int = 380) -> go.Figure:
    """The model's normalised MI map (factors x dimensions, dimensions by KL, largest first) beside what a
    disentangled model's looks like (one bright cell per row)."""
    order = point.dims_by_kl()
    matrix = point.report.matrix()[:, order]
    factors = list(point.report.factor_names)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.62, 0.38],
        subplot_titles=(f"{point_label(point)}: I(factor; z_j) / H(factor)", "a disentangled model"),
        horizontal_spacing=0.08,
    )
    fig.add_trace(
        go.Heatmap(
            z=matrix,
            x=[f"{dim_name(d)} ({point.kl_per_dim[d]:.1f})" for d in order],
            y=factors,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            text=np.round(matrix, 2),
            texttemplate="%{text:.2f}",
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
            colorbar={"title": "MI / H"},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=reference,
            x=[f"d{j + 1}" for j in range(reference.shape[1])],
            y=factors,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            showscale=False,
            hovertemplate="%{y} · %{x}: %{z:.0f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, row=1, col=2)  # the same factors as on the left
    fig.update_xaxes(title_text="dimension (its KL in nats), largest KL first", row=1, col=1)
    fig.update_layout(height=height, font={"size": FONT_PX}, margin={"l": 70, "r": 20, "t": 50, "b": 60})
    return fig


def traversal_figure(images: np.ndarray, dims: list[int], kl_per_dim: tuple[float, ...], span: float) -> go.Figure:
    """Decoded traversals (rows, steps, H, W) as one picture: a row per dimension (labelled with its KL), the
    columns z_d from -span to +span."""
    rows, steps, h, w = images.shape
    pad = 1
    canvas = np.ones((rows * (h + pad) - pad, steps * (w + pad) - pad))
    for r in range(rows):
        for c in range(steps):
            canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[r, c]
    grey = (255 * (1 - canvas)).astype(np.uint8)  # dark shapes on white, as the page's other images
    fig = go.Figure(go.Image(z=np.stack([grey] * 3, axis=-1), hoverinfo="skip"))
    values = np.linspace(-span, span, steps)
    fig.update_xaxes(
        tickvals=[c * (w + pad) + w / 2 for c in range(steps)],
        ticktext=[f"{v:+.1f}" for v in values],
        title="z_d (prior standard deviations)",
    )
    fig.update_yaxes(
        tickvals=[r * (h + pad) + h / 2 for r in range(rows)],
        ticktext=[f"{dim_name(d)} · KL {kl_per_dim[d]:.2f}" for d in dims],
    )
    fig.update_layout(height=50 + 44 * rows, font={"size": FONT_PX}, margin={"l": 110, "r": 10, "t": 10, "b": 45})
    return fig


def claim_story(check: ClaimCheck) -> str:
    """What the numbers say about "a larger β gives more independent, more interpretable dimensions": computed from
    the zoo's numbers, so it follows them when the models change."""
    vaes = check.vaes
    trail = ", ".join(f"{p.report.mig:.2f} (β = {p.beta:g})" for p in vaes)
    scores = ", ".join(f"{p.report.factor_vae_score:.2f}" for p in vaes)
    small, large = vaes[0], vaes[-1]
    if check.holds:
        verdict = "**Here the claim holds**: MIG and the FactorVAE score both rise at every step up in β."
    elif not check.largest_beta_beats_smallest:
        verdict = "**Here the claim does not hold**: the largest β has no higher MIG than the smallest."
    else:
        fvae_gain = large.report.factor_vae_score > small.report.factor_vae_score
        verdict = (
            "**Here the claim holds only in part**: by MIG the largest β is more disentangled than the smallest"
            + ("" if check.mig_rises_with_beta else ", but MIG does not rise at every step")
            + "; by the FactorVAE score "
            + ("it is too" if fvae_gain else "it is not")
            + ("." if check.factor_vae_rises_with_beta else " (the score does not rise at every step).")
        )
    story = (
        f"{verdict} MIG of the VAEs by β: {trail}; their FactorVAE scores: {scores}. "
        f"The price: reconstruction goes from {small.recon:.1f} nats (β = {small.beta:g}) to {large.recon:.1f} "
        f"(β = {large.beta:g}), {check.recon_cost:+.1f} nats per image"
        f", and the active dimensions from {small.report.active_dims} to {large.report.active_dims}."
    )
    best = check.best
    best_vae = max(vaes, key=lambda p: p.report.mig)
    if best.kind == "tcvae":
        story += (
            f" The best MIG of all is the β-TCVAE's ({best.report.mig:.2f} at β = {best.beta:g}, reconstruction "
            f"{best.recon:.1f} nats); the best VAE's is {best_vae.report.mig:.2f} (β = {best_vae.beta:g}) at "
            f"{best_vae.recon:.1f} nats"
            + (
                ": weighting only the total correlation bought more independence for less reconstruction."
                if best.recon < best_vae.recon
                else "."
            )
        )
    elif check.tcvaes:
        tc = check.tcvaes[0]
        story += f" The β-TCVAE (β = {tc.beta:g}) reaches MIG {tc.report.mig:.2f} at {tc.recon:.1f} nats."
    return story
