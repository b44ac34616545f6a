"""The inference page's sentences decide their claims from the numbers (ui/figures/inference_text.py)."""

from __future__ import annotations

import pytest
import torch

from ui.figures import inference_text as text
from vae_core.lessons import divergences
from vae_core.lessons.posterior import ElboEstimate, GapReport, IwEstimate, PosteriorGrid


def report(log_px: float, elbo: float, kl_on_grid: float, error: float = 1e-3) -> GapReport:
    axis = torch.linspace(-1, 1, 3, dtype=torch.float64)
    grid = PosteriorGrid(axis, axis, torch.zeros(3, 3, dtype=torch.float64), log_px, error, 0.0, 9)
    return GapReport(None, grid, ElboEstimate(elbo, elbo + 1, 1.0, error, 24), kl_on_grid, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("error, shown", [(0.03, "−1.23"), (0.0004, "−1.235"), (0.0, "−1.235"), (2.0, "−1.2")])
def test_numbers_get_the_decimals_their_error_supports(error, shown):
    assert text.fmt(-1.23456, error) == shown


def test_gap_agreement_says_whether_the_two_ways_agree():
    assert "inside their quadrature error" in text.gap_agreement_note(report(-10.0, -11.0, 1.0005))
    assert "a little more" in text.gap_agreement_note(report(-10.0, -11.0, 1.004))
    assert "too coarse" in text.gap_agreement_note(report(-10.0, -11.0, 1.2))


def test_iw_sentence_follows_where_the_estimate_lies():
    gap_report = report(-10.0, -11.0, 1.0)
    assert "closes 50%" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-10.5, -10.6)))
    assert "**above**" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-9.9, -10.2)))
    assert "**below** the ELBO" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-11.2, -10.2)))


def test_mixture_sentence_follows_the_fits():
    far = divergences.TwoGaussianMixture(10.0, 0.5)
    a, b, forward = divergences.fit_reverse(far, "A"), divergences.fit_reverse(far, "B"), divergences.fit_forward(far)
    note = text.mixture_note(far, a, b, forward, "A")
    assert "sits on mode A" in note and "different local optimum" in note and "between the modes" in note
    close = divergences.TwoGaussianMixture(1.0, 0.5)
    fits = divergences.fit_reverse(close, "A"), divergences.fit_reverse(close, "B"), divergences.fit_forward(close)
    note = text.mixture_note(close, *fits, "A")
    assert "same q" in note and "between the modes" not in note
