"""The posterior grid against results known without it.

The exact case is probabilistic PCA: x = W z + b + N(0, s² I) with z ~ N(0, I) has p(x) = N(b, W Wᵀ + s² I)
(torch.distributions.MultivariateNormal here) and a Gaussian posterior, so the grid's log p(x), its
posterior moments, the ELBO and the gap can all be checked against closed forms. On a shipped 2-D VAE the
check is the ordering ELBO ≤ IW_K ≈ log p(x), IW_K from VAE.iw_log_weights.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
import torch
from torch.distributions import MultivariateNormal

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset, measured_inputs
from vae_core.engine.losses import iw_log_likelihood, reconstruction_nll
from vae_core.engine.protocol import DataProtocol
from vae_core.lessons import posterior as post

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
P, SIGMA = 6, 0.5
DTYPE = torch.float64


class LinearGaussian:
    """A linear decoder with Gaussian noise (probabilistic PCA), built here from random W and b."""

    def __init__(self, seed: int = 0, scales: tuple[float, float] = (2.0, 1.0)):
        g = torch.Generator().manual_seed(seed)
        u, _ = torch.linalg.qr(torch.randn(P, 2, generator=g, dtype=DTYPE))
        mix = torch.tensor([[1.0, 0.6], [0.0, 1.0]], dtype=DTYPE)  # non-orthogonal columns: a correlated posterior
        self.w = u * torch.tensor(scales, dtype=DTYPE) @ mix
        self.b = 0.3 * torch.randn(P, generator=g, dtype=DTYPE)
        self.decoder = post.Decoder(lambda z: (z @ self.w.T + self.b).view(-1, 1, 1, P), "gaussian", SIGMA)

    def log_px(self, x: torch.Tensor) -> float:
        cov = self.w @ self.w.T + SIGMA**2 * torch.eye(P, dtype=DTYPE)
        return float(MultivariateNormal(self.b, covariance_matrix=cov).log_prob(x.flatten()))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact posterior N(M⁻¹ Wᵀ (x − b), s² M⁻¹), M = Wᵀ W + s² I."""
        m = self.w.T @ self.w + SIGMA**2 * torch.eye(2, dtype=DTYPE)
        cov = SIGMA**2 * torch.linalg.inv(m)
        return cov @ self.w.T @ (x.flatten() - self.b) / SIGMA**2, cov

    def sample_x(self, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(2, generator=g, dtype=DTYPE)
        return (self.w @ z + self.b + SIGMA * torch.randn(P, generator=g, dtype=DTYPE)).view(1, 1, P)

    def expected_log_likelihood(self, x: torch.Tensor, q: post.DiagonalGaussian) -> float:
        """E_q log p(x|z) in closed form: −(‖x − Wμ − b‖² + Σ_d ‖w_d‖² σ_d²) / 2s² − P (½ log 2π + log s)."""
        residual = x.flatten() - self.w @ q.mean - self.b
        trace = float((self.w.pow(2).sum(0) * q.logvar.exp()).sum())
        return -(
            0.5 * (float(residual @ residual) + trace) / SIGMA**2 + P * (0.5 * math.log(2 * math.pi) + math.log(SIGMA))
        )


@pytest.fixture(scope="module")
def ppca() -> LinearGaussian:
    return LinearGaussian()


def q_near_posterior(ppca: LinearGaussian, x: torch.Tensor, shift=(0.3, -0.2), log_scale=(0.4, -0.3)):
    mean, cov = ppca.posterior(x)
    return post.DiagonalGaussian(
        mean + torch.tensor(shift, dtype=DTYPE), torch.log(torch.diagonal(cov)) + torch.tensor(log_scale, dtype=DTYPE)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grid_log_px_equals_ppca_marginal(ppca, seed):
    x = ppca.sample_x(seed)
    grid = post.posterior_grid(ppca.decoder, x, q_near_posterior(ppca, x))
    exact = ppca.log_px(x)
    assert abs(grid.log_px - exact) <= grid.log_px_error + 1e-9
    assert grid.log_px == pytest.approx(exact, abs=1e-4)
    assert grid.truncation_mass < 1e-6


def test_grid_posterior_moments_equal_ppca_posterior(ppca):
    x = ppca.sample_x(4)
    grid = post.posterior_grid(ppca.decoder, x, q_near_posterior(ppca, x))
    mean, cov = grid.posterior_mean_and_cov()
    exact_mean, exact_cov = ppca.posterior(x)
    assert torch.allclose(mean, exact_mean, atol=1e-5)
    assert torch.allclose(cov, exact_cov, atol=1e-5)
    assert abs(float(exact_cov[0, 1])) > 0.05, "the test wants a correlated posterior"


def test_elbo_by_quadrature_equals_closed_form(ppca):
    x = ppca.sample_x(5)
    q = q_near_posterior(ppca, x)
    elbo = post.elbo_by_quadrature(ppca.decoder, x, q)
    # Gauss–Hermite is exact for a log-likelihood quadratic in z
    assert elbo.expected_log_likelihood == pytest.approx(ppca.expected_log_likelihood(x, q), abs=1e-9)
    assert elbo.kl_to_prior == pytest.approx(float(0.5 * (q.mean.pow(2) + q.logvar.exp() - 1 - q.logvar).sum()))
    assert elbo.elbo == pytest.approx(elbo.expected_log_likelihood - elbo.kl_to_prior)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -0.2), (1.0, 0.5)])
def test_kl_on_grid_equals_log_px_minus_elbo(ppca, shift):
    x = ppca.sample_x(6)
    report = post.analyse_image(ppca.decoder, x, q_near_posterior(ppca, x, shift=shift))
    assert report.kl_on_grid > 0
    assert report.kl_on_grid == pytest.approx(report.gap_from_bounds, abs=max(report.gap_error, 1e-6))
    # and against the exact log p(x) and the exact ELBO
    exact_gap = ppca.log_px(x) - (ppca.expected_log_likelihood(x, report.q) - report.q.kl_to_prior())
    assert report.kl_on_grid == pytest.approx(exact_gap, abs=1e-4)


def test_tail_mass_estimate_bounds_the_true_mass_of_a_cut_gaussian():
    for reach in (2.5, 3.0, 4.0):
        t = torch.linspace(-reach, reach, 65, dtype=DTYPE)
        log_density = (-0.5 * torch.cartesian_prod(t, t).pow(2).sum(1)).view(65, 65)
        outside = 1 - math.erf(reach / math.sqrt(2)) ** 2
        assert outside <= post._tail_mass(log_density) <= 5 * outside


def test_box_grows_until_the_mass_outside_is_negligible(ppca):
    """Started from a q far too narrow, the grid still finds the whole posterior."""
    x = ppca.sample_x(7)
    mean, cov = ppca.posterior(x)
    narrow = post.DiagonalGaussian(mean, torch.log(torch.diagonal(cov)) - 6.0)
    grid = post.posterior_grid(ppca.decoder, x, narrow, coarse_radius=0.5)
    assert grid.truncation_mass < 1e-6
    assert grid.log_px == pytest.approx(ppca.log_px(x), abs=1e-4)


def test_decoder_log_likelihood_is_the_losses_term(ppca):
    x = ppca.sample_x(8)
    z = torch.randn(10, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    want = -reconstruction_nll(ppca.decoder.decode_params(z), x.expand(10, 1, 1, P), "gaussian", SIGMA)
    assert torch.allclose(ppca.decoder.log_likelihood(x, z), want)


def test_amortisation_fit_closes_the_gap_where_the_posterior_is_diagonal():
    """With orthogonal decoder columns the posterior is a diagonal Gaussian: q* must reach log p(x)."""
    model = LinearGaussian(seed=0)
    model.w = model.w @ torch.linalg.inv(torch.tensor([[1.0, 0.6], [0.0, 1.0]], dtype=DTYPE))  # orthogonal again
    x = model.sample_x(9)
    q = q_near_posterior(model, x, shift=(0.5, -0.5), log_scale=(1.0, -1.0))
    grid = post.posterior_grid(model.decoder, x, q)
    report = post.amortisation_gap(model.decoder, x, q, grid)
    assert report.elbo_encoder.elbo < report.elbo_star.elbo
    assert report.approximation_gap == pytest.approx(0.0, abs=0.01)
    assert report.amortisation_gap == pytest.approx(model.log_px(x) - report.elbo_encoder.elbo, abs=0.01)
    again = post.fit_gaussian_posteriors(grid, [q, post.moment_matched(grid)])[report.q_star_start != "encoder"]
    assert torch.equal(again.mean, report.q_star.mean), "deterministic: the same fit twice"


def test_q_star_is_the_closed_form_best_diagonal_gaussian(ppca):
    """For a Gaussian posterior N(m, S) the best diagonal Gaussian (reverse KL, i.e. the ELBO's) has mean m and
    variances 1 / (S⁻¹)_dd (mean-field: Bishop, PRML 10.1.2); from both starts the fit must land there."""
    x = ppca.sample_x(3)
    mean, cov = ppca.posterior(x)
    assert abs(float(cov[0, 1])) > 0.1 * float(cov[0, 0].sqrt() * cov[1, 1].sqrt())  # correlated: q* ≠ moments
    want_logvar = -torch.log(torch.diagonal(torch.linalg.inv(cov)))
    q = q_near_posterior(ppca, x, shift=(0.4, -0.3), log_scale=(0.8, -0.8))
    grid = post.posterior_grid(ppca.decoder, x, q)
    for fit in post.fit_gaussian_posteriors(grid, [q, post.moment_matched(grid)]):
        assert torch.allclose(fit.mean, mean, atol=2e-3)
        assert torch.allclose(fit.logvar, want_logvar, atol=5e-3)
    report = post.amortisation_gap(ppca.decoder, x, q, grid)
    best = post.DiagonalGaussian(mean, want_logvar)
    closed_form_elbo = ppca.expected_log_likelihood(x, best) - best.kl_to_prior()
    assert report.elbo_star.elbo == pytest.approx(closed_form_elbo, abs=1e-3)


def test_rank_by_gap_matches_the_full_analysis_in_order(ppca):
    xs = torch.stack([ppca.sample_x(s) for s in range(10, 14)])
    qs = [q_near_posterior(ppca, x, shift=(0.2 * k, 0.0)) for k, x in enumerate(xs)]
    ranking = post.rank_by_gap(
        ppca.decoder, xs, torch.stack([q.mean for q in qs]), torch.stack([q.logvar for q in qs]), batch_size=3
    )
    full = [post.analyse_image(ppca.decoder, x, q).kl_on_grid for x, q in zip(xs, qs, strict=True)]
    assert ranking.indices.tolist() == sorted(range(4), key=lambda i: -full[i])
    assert ranking.gaps.tolist() == pytest.approx(sorted(full, reverse=True), abs=1e-3)


# --- a shipped 2-D VAE ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_vae():
    return load_checkpoint(CHECKPOINTS / "digits-vae-z2.safetensors").model


@pytest.mark.parametrize("index", [0, 1, 3])
def test_shipped_vae_log_px_lies_between_elbo_and_iw(digits_vae, index):
    x = load_dataset("digits", "test").images[index]
    decoder = post.Decoder.from_model(digits_vae)
    q = post.encode_one(digits_vae, x)
    report = post.analyse_image(decoder, x, q)
    with torch.no_grad():
        iw = [
            float(
                iw_log_likelihood(
                    digits_vae.iw_log_weights(x[None], k=5000, generator=torch.Generator().manual_seed(s))
                )[0]
            )
            for s in range(4)
        ]
    iw_mean, iw_se = statistics.mean(iw), statistics.stdev(iw) / 2
    assert report.elbo.elbo < iw_mean, "IW_K rises above the ELBO"
    assert iw_mean <= report.log_px + 3 * iw_se + report.grid.log_px_error, "IW_K ≤ log p(x) in expectation"
    assert report.log_px - iw_mean < 0.05, "IW_5000 is close to log p(x)"
    assert report.kl_on_grid == pytest.approx(report.gap_from_bounds, abs=report.gap_error)


def test_shipped_vae_elbo_matches_model_loss(digits_vae):
    """The quadrature ELBO equals the model's own Monte-Carlo −ELBO to within its sampling error."""
    x = load_dataset("digits", "test").images[2]
    elbo = post.elbo_by_quadrature(post.Decoder.from_model(digits_vae), x, post.encode_one(digits_vae, x))
    with torch.no_grad():
        terms = digits_vae.loss(x[None], n_samples=20000, generator=torch.Generator().manual_seed(0))
    assert -float(terms.neg_elbo) == pytest.approx(elbo.elbo, abs=0.02)


def test_decoder_refuses_a_latent_that_is_not_2d(tiny_config):
    from vae_core.engine.models import build_model

    with pytest.raises(ValueError, match="2-D latent"):
        post.Decoder.from_model(build_model(tiny_config(latent_dim=3)))


def test_mass_levels_enclose_the_gaussian_fractions(ppca):
    """For a Gaussian posterior the f-mass contour sits at Mahalanobis radius² = −2 log(1 − f)."""
    x = ppca.sample_x(15)
    grid = post.posterior_grid(ppca.decoder, x, q_near_posterior(ppca, x))
    _, cov = ppca.posterior(x)
    peak = 1 / (2 * math.pi * math.sqrt(float(torch.linalg.det(cov))))
    for fraction, level in zip((0.5, 0.9), post.mass_levels(grid, (0.5, 0.9)), strict=True):
        assert 1 - level / peak == pytest.approx(fraction, abs=0.02)  # the exact mass above that level


def test_infer_image_scores_the_image_as_the_protocol_measures_it(digits_vae):
    image = load_dataset("digits", "test").images[5]
    grey = post.infer_image(digits_vae, image, k=100, iw_seeds=(0, 1), fit_q_star=False)
    assert torch.equal(grey.image, image)  # grey levels are scored as they are, never binarised here
    measured = measured_inputs(image.unsqueeze(0), DataProtocol.BINARIZED)[0]
    binary = post.infer_image(digits_vae, measured, k=100, iw_seeds=(0,), fit_q_star=False)
    again = post.infer_image(digits_vae, measured, k=100, iw_seeds=(0,), fit_q_star=False)
    assert torch.equal(binary.image, measured) and set(binary.image.unique().tolist()) <= {0.0, 1.0}
    assert binary.report.log_px == again.report.log_px and binary.report.log_px != grey.report.log_px
    assert len(grey.iw.values) == 2 and grey.iw.spread >= 0


def test_posterior_shape_of_a_gaussian_posterior(ppca):
    x = ppca.sample_x(16)
    mean, cov = ppca.posterior(x)
    q = post.DiagonalGaussian(
        mean + torch.sqrt(torch.diagonal(cov)) * torch.tensor([1.0, 0.0], dtype=DTYPE), torch.log(torch.diagonal(cov))
    )
    shape = post.posterior_shape(post.posterior_grid(ppca.decoder, x, q), q)
    assert shape.kl_from_gaussian == pytest.approx(0.0, abs=1e-6)
    assert shape.correlation == pytest.approx(float(cov[0, 1] / torch.sqrt(cov[0, 0] * cov[1, 1])), abs=1e-5)
    offset = q.mean - mean
    assert shape.q_offset == pytest.approx(float(torch.sqrt(offset @ torch.linalg.inv(cov) @ offset)), abs=1e-5)


@pytest.mark.parametrize("fit_q_star", [True, False])
def test_infer_image_reports_each_step_and_its_numbers_do_not_change(digits_vae, fit_q_star):
    image = load_dataset("digits", "test").images[7]
    calls: list[tuple[float, str]] = []
    watched = post.infer_image(
        digits_vae, image, k=100, iw_seeds=(0, 1), fit_q_star=fit_q_star, progress=lambda f, w: calls.append((f, w))
    )
    plain = post.infer_image(digits_vae, image, k=100, iw_seeds=(0, 1), fit_q_star=fit_q_star)
    assert len(calls) == 1 + 2 + fit_q_star  # the grid, one per IW seed, q*
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions == sorted(fractions) and fractions[-1] < 1.0
    assert ("q*" in calls[-1][1]) == fit_q_star
    assert watched.report.log_px == plain.report.log_px and watched.iw == plain.iw


def test_rerank_exactly_reports_each_candidate(ppca):
    xs = torch.stack([ppca.sample_x(s) for s in range(20, 24)])
    qs = [q_near_posterior(ppca, x) for x in xs]
    means, logvars = torch.stack([q.mean for q in qs]), torch.stack([q.logvar for q in qs])
    quick = post.rank_by_gap(ppca.decoder, xs, means, logvars)
    calls: list[float] = []
    watched = post.rerank_exactly(ppca.decoder, xs, means, logvars, quick, 3, lambda f, _: calls.append(f))
    assert calls == [0.0, 1 / 3, 2 / 3]
    assert watched == post.rerank_exactly(ppca.decoder, xs, means, logvars, quick, 3)


def test_with_q_star_completes_an_inference_exactly_as_infer_image_would(digits_vae):
    image = load_dataset("digits", "test").images[9]
    full = post.infer_image(digits_vae, image, k=100, iw_seeds=(0,), fit_q_star=True)
    completed = post.with_q_star(
        digits_vae, post.infer_image(digits_vae, image, k=100, iw_seeds=(0,), fit_q_star=False)
    )
    assert completed.amortisation is not None and full.amortisation is not None
    assert completed.amortisation.approximation_gap == full.amortisation.approximation_gap
    assert torch.equal(completed.amortisation.q_star.mean, full.amortisation.q_star.mean)
    assert completed.report.log_px == full.report.log_px and completed.iw == full.iw
