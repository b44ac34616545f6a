"""Live training curves (no Streamlit here): reconstruction and KL (or the AE penalty) as training goes.

The training line has a point every few steps (vae_core.serving.jobs.CurvePoint: batch means since the last point);
the test markers, one per finished epoch, are the epoch's evaluation on the test split. For a VAE each point's
hover text also gives the β it was trained with, which rises during a KL warm-up.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vae_core.engine.results import EpochRecord, TermMeans
from vae_core.engine.vocabulary import KINDS
from vae_core.lessons.training_curves import KlDip
from vae_core.serving.jobs import CurvePoint

TRAIN_COLOUR, TEST_COLOUR = "#4E79A7", "#F28E2B"
DIP_COLOUR = "#9C9C9C"  # mid grey: the shaded KL dip, on the light and the dark theme alike
FONT_PX = 13  # figure text readable on a projector

# Kinds whose objective adds a penalty to the reconstruction: the penalty is a weight times a sum of absolute
# activations (sparse) or a squared Jacobian norm (contractive), not a log-likelihood, so it has no unit.
PENALTY_TITLES = {
    kind.name: f"{kind.penalty} {kind.penalty_formula} (no unit)" for kind in KINDS.values() if kind.penalty
}


def second_term(kind: str) -> tuple[Callable[[TermMeans | CurvePoint], float], str] | None:
    """(the term, panel title) of the second panel: KL for VAEs, the penalty of a sparse or contractive AE;
    None for kinds without a second term (a plain or denoising AE)."""
    if kind in KINDS and KINDS[kind].variational:
        return (lambda terms: terms.kl), "KL(q(z|x) ‖ p(z)) [nats]"
    if kind in PENALTY_TITLES:
        return (lambda terms: terms.regularizer), PENALTY_TITLES[kind]
    return None


def training_curves(
    history: list[EpochRecord],
    kind: str,
    curve: list[CurvePoint] | None = None,
    height: int = 360,
    dip: KlDip | None = None,
) -> go.Figure:
    """Reconstruction (and KL or penalty) against epochs: a training line every few steps, test per epoch.

    Without `curve` (a stored history) the training line is the per-epoch mean, plotted at each epoch's end.
    """
    second = second_term(kind)
    show_beta = kind in KINDS and KINDS[kind].variational
    titles = ("reconstruction −log p(x|z) [nats]",) + ((second[1],) if second else ())
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.12)
    terms = [(1, lambda t: t.recon)] + ([(2, second[0])] if second else [])
    train_rows: list[tuple[float, TermMeans | CurvePoint, float | None]]  # (epochs, terms, beta) per point
    if curve:
        train_rows = [(point.epochs, point, point.beta) for point in curve]
    else:
        train_rows = [(record.epoch, record.train, record.beta) for record in history]
    test_rows = [(record.epoch, record.test, record.beta) for record in history if record.test is not None]
    for split, rows, colour, mode in (
        ("train", train_rows, TRAIN_COLOUR, "lines"),
        ("test", test_rows, TEST_COLOUR, "lines+markers"),
    ):
        if not rows:
            continue
        xs = [x for x, _, _ in rows]
        betas = [beta for _, _, beta in rows]
        hover = f"{split}, epoch %{{x:.2f}}: %{{y:.2f}}" + (", β %{customdata:.3g}" if show_beta else "")
        for col, term in terms:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[term(t) for _, t, _ in rows],
                    customdata=betas if show_beta else None,
                    mode=mode if len(rows) > 1 else "markers",
                    name=split,
                    line=dict(color=colour),
                    marker=dict(size=8),
                    legendgroup=split,
                    showlegend=col == 1,
                    hovertemplate=hover + "<extra></extra>",
                ),
                row=1,
                col=col,
            )
    if dip is not None and second is not None:
        fig.add_vrect(
            x0=dip.first_epoch - 0.5,
            x1=dip.last_epoch + 0.5,
            row=1,
            col=2,
            fillcolor=DIP_COLOUR,
            opacity=0.25,
            line_width=0,
            annotation_text="KL dip",
            annotation_position="top left",
        )
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_annotations(font_size=FONT_PX + 1)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=dict(size=FONT_PX),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig
