"""Live training curves (no Streamlit here): reconstruction and KL (or the AE penalty) per epoch."""

from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vae_core.results import EpochRecord, TermMeans

TRAIN_COLOUR, TEST_COLOUR = "#4E79A7", "#F28E2B"


def second_term(variational: bool) -> tuple[Callable[[TermMeans], float], str]:
    """(the term, panel title) of the second panel: KL for VAEs, the penalty for the AE family."""
    if variational:
        return (lambda terms: terms.kl), "KL(q(z|x) ‖ p(z)) [nats]"
    return (lambda terms: terms.regularizer), "penalty (sparsity / contractive) [nats]"


def training_curves(history: list[EpochRecord], variational: bool, height: int = 340) -> go.Figure:
    """Two panels, reconstruction and KL/penalty, with train and test lines, one point per finished epoch."""
    second, title = second_term(variational)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("reconstruction −log p(x|z) [nats]", title),
                        horizontal_spacing=0.12)
    epochs = [record.epoch for record in history]
    for split, colour in (("train", TRAIN_COLOUR), ("test", TEST_COLOUR)):
        rows = [(r.epoch, r.train if split == "train" else r.test) for r in history]
        rows = [(epoch, terms) for epoch, terms in rows if terms is not None]
        if not rows:
            continue
        xs = [epoch for epoch, _ in rows]
        for col, term in ((1, lambda terms: terms.recon), (2, second)):
            fig.add_trace(go.Scatter(x=xs, y=[term(terms) for _, terms in rows], mode="lines+markers", name=split,
                                     line=dict(color=colour), legendgroup=split, showlegend=col == 1,
                                     hovertemplate=f"{split} epoch %{{x}}: %{{y:.2f}} nats<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1 if len(epochs) <= 15 else None)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
