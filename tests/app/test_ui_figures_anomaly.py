"""The anomaly page's figures: its histogram bars against a count by hand, its ROC drawing against the whole curve."""

import numpy as np
import plotly.graph_objects as go

from ui.figures.anomaly import ROC_POINTS_DRAWN, binned_densities, drawn_points, roc_figure
from vae_core.lessons.anomaly import roc


def test_binned_densities_count_each_clipped_value_in_its_bin():
    rng = np.random.default_rng(0)
    values = rng.normal(100.0, 20.0, size=5000)
    low, high, n_bins = 70.0, 140.0, 60
    centres, densities = binned_densities(values, low, high, n_bins)
    width = (high - low) / n_bins
    # by hand: clip, then bin index floor((v - low) / width), the right edge in the last bin
    index = np.minimum(np.floor((np.clip(values, low, high) - low) / width).astype(int), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    np.testing.assert_allclose(densities, counts / (len(values) * width), rtol=1e-12)
    np.testing.assert_allclose(centres, low + width * (np.arange(n_bins) + 0.5))
    assert abs(np.sum(densities) * width - 1.0) < 1e-12


def test_a_long_roc_curve_is_drawn_with_at_most_the_drawn_points_its_ends_kept():
    rng = np.random.default_rng(1)
    curve = roc(rng.normal(size=10_000), rng.normal(0.7, size=10_000))
    assert len(curve.fpr) > ROC_POINTS_DRAWN + 1
    fpr, tpr = drawn_points(curve)
    assert len(fpr) <= ROC_POINTS_DRAWN + 1
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (curve.fpr[0], curve.tpr[0], curve.fpr[-1], curve.tpr[-1])
    # every point drawn is a point of the curve, in the curve's order
    pairs = {(float(a), float(b)) for a, b in zip(curve.fpr, curve.tpr, strict=True)}
    assert all((float(a), float(b)) in pairs for a, b in zip(fpr, tpr, strict=True))
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # every point of the curve lies within 2/ROC_POINTS_DRAWN of the line drawn (its nearest drawn segment)
    starts = np.stack([fpr[:-1], tpr[:-1]], axis=1)
    ends = np.stack([fpr[1:], tpr[1:]], axis=1)
    for point in np.stack([curve.fpr, curve.tpr], axis=1)[::7]:
        d = ends - starts
        t = np.clip(np.einsum("ij,ij->i", point - starts, d) / np.maximum(np.einsum("ij,ij->i", d, d), 1e-300), 0, 1)
        nearest = np.min(np.linalg.norm(starts + t[:, None] * d - point, axis=1))
        assert nearest <= 2 / ROC_POINTS_DRAWN
    fig = roc_figure({"score": curve}, "test against outliers")
    (drawn,) = [t for t in fig.data if isinstance(t, go.Scatter) and t.name.startswith("score")]
    np.testing.assert_array_equal(drawn.x, fpr)
    assert drawn.name == f"score: AUC {curve.auc:.3f}"


def test_a_short_roc_curve_is_drawn_whole():
    curve = roc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.5, 0.9, 0.2]))
    fpr, tpr = drawn_points(curve)
    np.testing.assert_array_equal(fpr, curve.fpr)
    np.testing.assert_array_equal(tpr, curve.tpr)
