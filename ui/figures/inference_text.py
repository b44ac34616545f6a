"""The inference page's sentences, built from the numbers they describe (no Streamlit, no hard-coded results).

Every claim a caption makes (which number is larger, whether two agree, where a fit sits) is decided here
from the values passed in, so a caption stays true for any model, image or slider setting.
"""

from __future__ import annotations

import math

import numpy as np

from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, DataProtocol, metric_names
from vae_core.lessons.divergences import GaussianFit, MeanFieldComparison, TwoGaussianMixture
from vae_core.lessons.posterior import AmortisationReport, DiagonalGaussian, GapReport, IwEstimate, PosteriorShape

MAX_DECIMALS = 3
NEAR_GAUSSIAN_NATS = 0.05  # KL(p(z|x) ‖ its moment-matched Gaussian) below this: "close to Gaussian"


def decimals_for(error: float, least: int = 1, most: int = MAX_DECIMALS) -> int:
    """Decimals down to the error's first significant digit, between least and most."""
    if not math.isfinite(error) or error <= 0:
        return most
    return int(np.clip(-math.floor(math.log10(error)), least, most))


def fmt(value: float, error: float, least: int = 1, most: int = MAX_DECIMALS) -> str:
    """value with the decimals its error supports, typographic minus."""
    return f"{value:.{decimals_for(error, least, most)}f}".replace("-", "−")


def evidence_label(protocol: DataProtocol) -> str:
    """What ∫ p(x|z) p(z) dz may be called: log p(x) only where p(x|z) is a density of what the model is fed."""
    return "log p(x)" if protocol.is_likelihood else "log ∫ p(x|z) p(z) dz"


def protocol_note(protocol: DataProtocol, dataset: str, gaussian_sigma: float) -> str:
    """One sentence on what the model is fed and so what its numbers are (vae_core.engine.protocol's cases)."""
    if protocol is DataProtocol.BINARIZED:
        return (
            f"This model was trained with dynamic binarisation, so each {dataset} test image is shown as in the "
            f"model card's test protocol: the test set's one fixed binarisation (seed {EVAL_BINARIZATION_SEED}; "
            "each pixel 1 with probability equal to its intensity), scored as binary pixels."
        )
    if protocol is DataProtocol.GREY_BERNOULLI:
        caveat = metric_names(protocol, variational=True).caveat or ""
        return (
            f"{caveat} So ∫ p(x|z) p(z) dz is not log p(x) of anything here; the identity "
            "log ∫ p(x|z) p(z) dz = ELBO + KL(q ‖ p(z|x)) holds all the same, for any positive p(x|z), and "
            "p(z|x) ∝ p(x|z) p(z) is still the posterior the encoder approximates."
        )
    return (
        f"This model has a Gaussian decoder with a fixed σ = {gaussian_sigma:g} per pixel: log p(x) is a "
        "log-density of the grey-level image, in nats of a continuous density."
    )


def gap_agreement_note(report: GapReport, evidence: str = "log p(x)") -> str:
    difference = abs(report.gap_from_bounds - report.kl_on_grid)
    allowed = report.gap_error
    if difference <= allowed:
        verdict = (
            f"the two ways of computing the gap differ by {difference:.1g} nats, inside their quadrature "
            f"error estimates ({allowed:.1g})."
        )
    elif difference <= 3 * allowed:
        verdict = (
            f"the two ways of computing the gap differ by {difference:.1g} nats, a little more than their "
            f"error estimates ({allowed:.1g}), which are rough: each compares a sum with a coarser one."
        )
    else:
        verdict = (
            f"the two ways of computing the gap differ by {difference:.1g} nats, well beyond their quadrature "
            f"error estimates ({allowed:.1g}): the grid is too coarse for this image."
        )
    return f"**{evidence} = ELBO + KL(q ‖ p(z|x))** for this image: {verdict}"


def number(value: float, decimals: int = 2) -> str:
    """value to `decimals` with a typographic minus, and never a "−0.00": what rounds to 0 is shown as 0."""
    shown = round(value, decimals)
    return f"{0.0 if shown == 0 else shown:.{decimals}f}".replace("-", "−")


def nats(value: float, decimals: int = 3) -> str:
    """A divergence in nats to `decimals`. A KL is never negative: a quadrature value a hair below 0 is 0."""
    return number(max(value, 0.0), decimals)


def iw_note(report: GapReport, iw: IwEstimate, evidence: str = "log p(x)") -> str:
    """IW_K read as the mean over its seeds with their spread (one draw can lie in a tail: Monte Carlo)."""
    gap = report.gap_from_bounds
    n = len(iw.values)
    closed = (iw.mean - report.elbo.elbo) / gap if gap > 0 else math.nan
    closed_error = iw.mean_error / gap if gap > 0 else math.nan
    spread = (
        f"mean of {n} seeds; one seed's estimate varies by ±{iw.spread:.2g} nats (standard deviation), "
        f"their mean by ±{iw.mean_error:.2g}"
    )
    above = iw.mean - report.log_px
    if above > report.grid.log_px_error + 2 * iw.mean_error:
        return (
            f"IW-{iw.k} ({spread}) lies **above** {evidence} by {above:.2g} nats: an IW estimate is random, and "
            "only its expectation is a lower bound. With q(z|x) as the proposal it is noisy wherever q is far "
            "from p(z|x), and a few seeds can miss that its expectation lies below."
        )
    if iw.mean < report.elbo.elbo - 2 * iw.mean_error:
        return (
            f"IW-{iw.k} ({spread}) lies **below** the ELBO here, by {report.elbo.elbo - iw.mean:.2g} nats: "
            f"only its expectation is guaranteed to lie between the ELBO and {evidence}."
        )
    if not math.isfinite(closed):
        share = "none"
    elif closed_error >= 0.005:
        share = f"{closed:.0%} ± {closed_error:.0%}"
    else:
        share = f"{closed:.0%}"
    return (
        f"ELBO ≤ IW-{iw.k} ≤ {evidence} here: the importance-weighted estimate closes {share} of the "
        f"{gap:.2f}-nat gap ({spread})."
    )


def shape_note(shape: PosteriorShape, q: DiagonalGaussian) -> str:
    kl = shape.kl_from_gaussian
    gaussian = (
        "close to a Gaussian"
        if kl < NEAR_GAUSSIAN_NATS
        else "visibly not Gaussian (curved, skewed or with several modes)"
    )
    q_std = q.std.detach().double().numpy()
    ratio = q_std / shape.std.numpy()
    return (
        f"p(z|x) has correlation {shape.correlation:+.2f}, which a diagonal q cannot express, and is {gaussian}: "
        f"KL(p(z|x) ‖ the Gaussian with its mean and covariance) = {kl:.2g} nats. q's standard deviations are "
        f"{ratio[0]:.2f}× and {ratio[1]:.2f}× the posterior's, and its mean lies {shape.q_offset:.1f} posterior "
        "standard deviations from the posterior mean."
    )


def q_star_note(report: AmortisationReport) -> str:
    approximation, amortisation = report.approximation_gap, report.amortisation_gap
    if amortisation > approximation:
        larger, why = (
            "amortisation",
            (
                "most of it is the price of one encoder shared by all images: a Gaussian "
                "fitted to this image alone does better"
            ),
        )
    else:
        larger, why = "approximation", "most of it is the shape of p(z|x), which no diagonal Gaussian matches"
    other = fmt(report.elbo_other_start, report.elbo_star.error)
    if report.q_star_start == "encoder, unchanged":
        return (
            f"No fitted Gaussian beat the encoder's q for this image (the best fit reached an ELBO of {other}), "
            f"so q* is q(z|x): the amortisation gap is 0 and the whole gap, {approximation:.2f} nats, is the "
            "approximation gap."
        )
    start = "the encoder's q" if report.q_star_start == "encoder" else "p(z|x)'s mean and variances"
    return (
        f"q* (fitted from {start}; the other start reached an ELBO of {other}) splits the "
        f"gap into an approximation gap of {approximation:.2f} and an amortisation gap of {amortisation:.2f} "
        f"nats: the {larger} gap is the larger here, so {why}."
    )


def mean_field_note(comparison: MeanFieldComparison) -> str:
    rho = float(comparison.target_cov[0, 1] / np.sqrt(comparison.target_cov[0, 0] * comparison.target_cov[1, 1]))
    ratio = float(comparison.variance_ratio[0])
    if abs(rho) < 1e-9:
        return (
            "At ρ = 0 the target already factorises: both fits equal it, the variances are right, and both "
            f"KLs are {comparison.reverse.kl_reverse:.3f} nats. Move the slider to correlate z₁ and z₂."
        )
    return (
        f"At ρ = {rho:.2f} the reverse-KL fit's variances are {ratio:.2f} of the true marginal variances "
        f"(1 − ρ² = {1 - rho * rho:.2f}): each factor's precision equals the diagonal of the target's precision, "
        "so q is as narrow as the conditional p(z₁ | z₂), not the marginal. The forward-KL fit matches the "
        f"marginal variances exactly and spills outside p along the other diagonal. KL(q ‖ p) of the reverse fit "
        f"is {comparison.reverse.kl_reverse:.3f} nats, KL(p ‖ q) of the forward fit "
        f"{comparison.forward.kl_forward:.3f}; neither fit can express the correlation."
    )


def mixture_note(
    target: TwoGaussianMixture, reverse: GaussianFit, other: GaussianFit, forward: GaussianFit, start: str
) -> str:
    s = target.component_std
    reverse_std, forward_std = float(np.sqrt(reverse.cov[0, 0])), float(np.sqrt(forward.cov[0, 0]))
    kls = f"KL(q ‖ p) = {nats(reverse.kl_reverse)} nats, KL(p ‖ q) = {nats(reverse.kl_forward)}"
    forward_kls = f"KL(p ‖ q) = {nats(forward.kl_forward)}, KL(q ‖ p) = {nats(forward.kl_reverse)}"
    if target.separation == 0:
        return (
            "At separation 0 both modes lie on top of each other: p is a single Gaussian, so every fit equals it "
            f"and both directions of the KL are 0 ({kls}; moment matching: {forward_kls}). Move the separation "
            "slider to pull the modes apart."
        )
    peak_at, peak = target.maximum()
    modes = target.means[:, 0]
    names = ("A", "B")
    if target.mode_count() == 1:
        where = (
            f"has only one peak to sit on: at this separation p has a single maximum (at z₁ = {number(peak_at[0])}), "
            f"the two components overlap too much to make two modes; the fit has mean {number(reverse.mean[0])} "
            f"and std {reverse_std:.2f}"
        )
    else:
        nearest = int(np.argmin(np.abs(modes - reverse.mean[0])))
        on_mode = abs(modes[nearest] - reverse.mean[0]) < 0.5 * s and reverse_std < 1.5 * s
        if on_mode:
            where = (
                f"sits on mode {names[nearest]} and ignores the other: {kls}, which punishes the mass it leaves "
                "uncovered"
            )
        else:
            where = f"spans both modes (mean {number(reverse.mean[0])}, std {reverse_std:.2f})"
    if "KL(q ‖ p) =" not in where:
        where += f": {kls}"
    same = np.allclose(reverse.mean, other.mean, atol=0.05 * s) and np.allclose(
        reverse.cov, other.cov, atol=0.05 * s * s
    )
    other_start = names[1 - names.index(start)]
    if same:
        starts = f"Starting near mode {other_start} ends at the same q: this target has one reverse-KL optimum."
    else:
        better = "lower" if other.kl_reverse < reverse.kl_reverse else "higher"
        starts = (
            f"Starting near mode {other_start} ends at a different local optimum with a {better} KL(q ‖ p) "
            f"({nats(other.kl_reverse)} against {nats(reverse.kl_reverse)})."
        )
    at_forward_mean = float(np.exp(target.log_prob(forward.mean[None]))[0]) / peak
    if at_forward_mean < 0.5:
        placed = (
            f"its peak sits where p's density is only {at_forward_mean:.0%} of p's highest, between the modes, "
            "and it spreads mass over both"
        )
    elif at_forward_mean > 0.995:
        placed = "its peak sits on p's highest point"
    else:
        placed = f"its peak sits where p's density is {at_forward_mean:.0%} of p's highest"
    return (
        f"The reverse-KL fit started near mode {start} {where}. {starts} The forward-KL fit has the mixture's "
        f"mean and variance (std {forward_std:.2f}): {placed}; {forward_kls}."
    )
