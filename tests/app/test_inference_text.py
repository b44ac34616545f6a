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
    assert "closes 45% ± 5%" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-10.5, -10.6)))
    assert "**above**" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-9.8, -9.85)))
    assert "**below** the ELBO" in text.iw_note(gap_report, IwEstimate(5000, (0, 1), (-11.2, -11.3)))


def test_mixture_sentence_follows_the_fits():
    far = divergences.TwoGaussianMixture(10.0, 0.5)
    a, b, forward = divergences.fit_reverse(far, "A"), divergences.fit_reverse(far, "B"), divergences.fit_forward(far)
    note = text.mixture_note(far, a, b, forward, "A")
    assert "sits on mode A" in note and "different local optimum" in note and "between the modes" in note
    close = divergences.TwoGaussianMixture(1.0, 0.5)
    fits = divergences.fit_reverse(close, "A"), divergences.fit_reverse(close, "B"), divergences.fit_forward(close)
    note = text.mixture_note(close, *fits, "A")
    assert "same q" in note and "between the modes" not in note


def _fits(target):
    return divergences.fit_reverse(target, "A"), divergences.fit_reverse(target, "B"), divergences.fit_forward(target)


@pytest.mark.parametrize("dim", [1, 2])
def test_degenerate_mixtures_get_sentences_that_fit_them(dim):
    """Issue 20 item 10: at separation 0 the page said "sits on mode A and ignores the other" and printed
    "KL(p ‖ q) = -0.000"; item 19: at separation 2, weight 0.5 it printed "107% of p's highest"."""
    single = divergences.TwoGaussianMixture(0.0, 0.7, dim=dim)
    note = text.mixture_note(single, *_fits(single), "A")
    assert "-0.0" not in note and "−0.0" not in note
    assert "ignores the other" not in note and "single Gaussian" in note
    merged = divergences.TwoGaussianMixture(2.0, 0.5, dim=dim)
    note = text.mixture_note(merged, *_fits(merged), "A")
    assert "ignores the other" not in note and "single maximum" in note
    shares = [int(p) for p in __import__("re").findall(r"(\d+)% of p's highest", note)]
    assert all(share <= 100 for share in shares), note


def test_kl_and_numbers_never_print_a_negative_zero():
    assert text.nats(-4e-7) == "0.000" and text.nats(0.0123) == "0.012"
    assert text.number(-0.001) == "0.00" and text.number(-1.234) == "−1.23"


def test_iw_sentence_quotes_the_mean_over_seeds_with_its_spread():
    """Issue 20 item 21: one seed's IW-5000 sat at the 99th percentile of 400 seeds; the page quotes the mean
    over its seeds with the spread, so the share of the gap closed is the mean's."""
    gap_report = report(-10.0, -11.0, 1.0)
    iw = IwEstimate(5000, (0, 1, 2, 3), (-10.2, -10.6, -10.5, -10.5))
    note = text.iw_note(gap_report, iw)
    mean = sum(iw.values) / 4
    assert f"closes {(mean + 11.0) / 1.0:.0%}" in note and "mean of 4 seeds" in note
    assert f"±{iw.spread:.2g}" in note
