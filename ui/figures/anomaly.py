"""Plotly figures of an anomaly study (no Streamlit here): score histograms per set, ROC curves."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.figures.colours import NEUTRAL
from vae_core.lessons.anomaly import AnomalyStudy, RocCurve

IN_COLOUR = "#4E79A7"
OOD_COLOURS = ("#E15759", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#9C755F")
THRESHOLD_COLOUR = NEUTRAL
IMAGE_COLOUR = "#D62728"


def set_colours(study: AnomalyStudy) -> dict[str, str]:
    """One colour per set, the in-distribution set always blue."""
    colours, others = {}, iter(OOD_COLOURS)
    for scored in study.sets:
        colours[scored.key] = IN_COLOUR if scored.in_distribution else next(others, "#888888")
    return colours


def binned_densities(values: np.ndarray, low: float, high: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and densities (each bin's share of the images over its width) of values clipped to [low, high].

    Binned here rather than by plotly in the browser: a histogram trace sends every value, 10,000 per set at the
    page's largest setting (MBs per rerun, most of a rerun's time); the bars send 60.
    """
    counts, edges = np.histogram(np.clip(values, low, high), bins=n_bins, range=(low, high))
    return (edges[:-1] + edges[1:]) / 2, counts / (counts.sum() * (edges[1] - edges[0]))


def score_histograms(
    study: AnomalyStudy,
    key: str,
    axis_title: str,
    *,
    shown: list[str] | None = None,
    threshold: float | None = None,
    image_score: float | None = None,
    n_bins: int = 60,
) -> go.Figure:
    """Overlaid histograms (density) of one score for every set in `shown` (all when None), on shared bins.

    The range is clipped to the 0.5th–99.5th percentiles of the pooled scores so that one far set does not
    squeeze the others into a single bar; scores beyond count in the end bars (so every set's bars hold all its
    images), which the axis title says.
    """
    colours = set_colours(study)
    sets = [s for s in study.sets if shown is None or s.key in shown]
    pooled = np.concatenate([s.scores.values(key) for s in sets])
    low, high = np.percentile(pooled, [0.5, 99.5])
    if image_score is not None:
        low, high = min(low, image_score), max(high, image_score)
    if high <= low:
        high = low + 1.0
    fig = go.Figure()
    for scored in sets:
        centres, densities = binned_densities(scored.scores.values(key), low, high, n_bins)
        fig.add_trace(
            go.Bar(
                x=centres,
                y=densities,
                width=(high - low) / n_bins,
                name=scored.label,
                opacity=0.55,
                marker_color=colours[scored.key],
                marker_line_width=0,
                hovertemplate="%{x:.1f} nats: density %{y:.3g}",
            )
        )
    fig.update_layout(
        barmode="overlay",
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        yaxis_title="density",
        xaxis_title=f"{axis_title} (nats; 0.5th to 99.5th percentile shown, scores beyond counted in the end bars)",
    )
    if threshold is not None:
        fig.add_vline(
            x=float(np.clip(threshold, low, high)),
            line_color=THRESHOLD_COLOUR,
            line_dash="dash",
            annotation_text="threshold",
            annotation_position="top right",
        )
    if image_score is not None:
        fig.add_vline(
            x=image_score,
            line_color=IMAGE_COLOUR,
            line_width=3,
            annotation_text="your image",
            annotation_position="top left",
            annotation_yshift=-18,
        )
    return fig


# A ROC curve over two sets of 10,000 scores has up to 20,000 points; a chart 400-odd pixels wide shows no more than
# ROC_POINTS_DRAWN of them, so the others are left out of the drawing (the AUC is the whole curve's).
ROC_POINTS_DRAWN = 1000


def drawn_points(curve: RocCurve) -> tuple[np.ndarray, np.ndarray]:
    """At most ROC_POINTS_DRAWN + 1 of the curve's points, evenly spaced along its length, both ends among them.

    Between two points drawn, the points left out span less than 1/ROC_POINTS_DRAWN of the curve's length (at
    most 2 in rate units), so the line drawn strays from the curve by no more than that.
    """
    fpr, tpr = np.asarray(curve.fpr), np.asarray(curve.tpr)
    if len(fpr) <= ROC_POINTS_DRAWN + 1:
        return fpr, tpr
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))])
    index = np.searchsorted(along, np.linspace(0.0, along[-1], ROC_POINTS_DRAWN + 1))
    index = np.unique(np.concatenate([[0], np.minimum(index, len(fpr) - 1), [len(fpr) - 1]]))
    return fpr[index], tpr[index]


def roc_figure(curves: dict[str, RocCurve], title: str) -> go.Figure:
    """ROC curves (detection rate against false-positive rate), one per score, with the chance diagonal."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.5)", line={"color": "#AAAAAA", "dash": "dot"})
    )
    for label, curve in curves.items():
        fpr, tpr = drawn_points(curve)
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{label}: AUC {curve.auc:.3f}"))
    fig.update_layout(
        title=title,
        height=420,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "false-positive rate (test images flagged)", "range": [0, 1]},
        yaxis={"title": "detection rate (outliers flagged)", "range": [0, 1.01]},
        legend={"orientation": "v", "x": 1.02, "y": 0},
    )
    return fig
