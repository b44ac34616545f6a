"""vae_core.engine.losses: each term against torch.distributions, and the ELBO/IW bounds on a VAE whose log p(x)
is exact.

The exact case is probabilistic PCA: a VAE with no hidden layers and a Gaussian decoder is linear-Gaussian, so
p(x) = N(b, W W^T + s^2 I) and the true posterior is Gaussian (Tipping & Bishop 1999).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import (
    LOG_PRODUCT_CHUNK,
    BatchMeanGaussianKL,
    BernoulliNLLSum,
    autoencoder_terms,
    bernoulli_nll,
    elbo_terms,
    gaussian_kl_per_dim,
    iw_log_likelihood,
    iw_log_weights,
    log_mean_exp,
    log_normal,
    mean_reconstruction_nll,
    reconstruction_nll,
    sum_of_logs_at_least_half,
)
from vae_core.engine.models import VAE, build_model


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the terms, one by one -------------------------------------------------------------------------------------


def test_gaussian_kl_per_dim_matches_torch_distributions():
    mean = torch.randn(6, 4, generator=gen(0), dtype=torch.float64) * 2
    logvar = torch.randn(6, 4, generator=gen(1), dtype=torch.float64)
    reference = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert torch.allclose(gaussian_kl_per_dim(mean, logvar), reference, rtol=1e-10, atol=1e-12)
    assert torch.all(gaussian_kl_per_dim(torch.zeros(2, 3), torch.zeros(2, 3)) == 0)


def test_bernoulli_nll_matches_log_prob():
    logits = torch.randn(5, 1, 4, 3, generator=gen(0), dtype=torch.float64) * 3
    x = torch.rand(5, 1, 4, 3, generator=gen(1), dtype=torch.float64).round()
    reference = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x, "bernoulli", 0.1), reference, rtol=1e-10)


def test_bernoulli_nll_handles_grey_pixels():
    # Continuous targets in [0, 1] are the cross-entropy -[x log p + (1 - x) log(1 - p)], as for real MNIST.
    logits = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
    x = torch.tensor([[0.25, 0.9]], dtype=torch.float64)
    p = torch.sigmoid(logits)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x, "bernoulli", 0.1), by_hand, rtol=1e-12)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_mean_reconstruction_nll_is_the_batch_mean_of_the_per_image_nll(likelihood):
    # The training step's one-reduction form, against the per-image form and against torch.distributions.
    params = torch.randn(6, 1, 4, 3, generator=gen(0), dtype=torch.float64) * 2
    x = torch.rand(6, 1, 4, 3, generator=gen(1), dtype=torch.float64)
    if likelihood == "bernoulli":
        reference = -Bernoulli(logits=params).log_prob(x.round()).flatten(1).sum(1).mean()
        x = x.round()
    else:
        reference = -Normal(params, 0.3).log_prob(x).flatten(1).sum(1).mean()
    per_image = reconstruction_nll(params, x, likelihood, 0.3)
    mean = mean_reconstruction_nll(params, x, likelihood, 0.3)
    assert mean.dim() == 0
    assert torch.allclose(mean, per_image.mean(), rtol=1e-12)
    assert torch.allclose(mean, reference, rtol=1e-10)
    with pytest.raises(ValueError, match="unknown likelihood"):
        mean_reconstruction_nll(params, x, "poisson", 0.3)


def test_elbo_terms_accept_a_batch_mean_reconstruction():
    mean, logvar = torch.randn(4, 3, generator=gen(2)), torch.randn(4, 3, generator=gen(3))
    recon = torch.tensor([1.0, 2.0, 3.0, 6.0])
    per_image, averaged = elbo_terms(recon, mean, logvar, 2.0), elbo_terms(recon.mean(), mean, logvar, 2.0)
    assert torch.equal(per_image.scalars(), averaged.scalars())


def test_bernoulli_nll_is_finite_for_extreme_logits():
    logits = torch.tensor([[100.0, -100.0, 100.0, -100.0]])
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    nll = reconstruction_nll(logits, x, "bernoulli", 0.1)
    assert torch.isfinite(nll).all()
    assert nll.item() == pytest.approx(200.0, rel=1e-5)  # two pixels right (cost ~0), two wrong by 100 nats


def test_bernoulli_nll_gradients_match_finite_differences():
    # The hand-written backward (sigmoid(l) - x) for both arguments, and its own derivative, against torch's
    # numerical Jacobians in float64.
    logits = (torch.randn(3, 5, generator=gen(4), dtype=torch.float64) * 4).requires_grad_()
    x = torch.rand(3, 5, generator=gen(5), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(bernoulli_nll, (logits, x))
    assert torch.autograd.gradgradcheck(bernoulli_nll, (logits, x))


def test_bernoulli_nll_in_float32_is_as_accurate_as_torch_bce():
    # log(1 + e^-|l|) in place of torch's log1p: over logits from the decisive (|l| = 1e4) to the uncertain, for
    # binary and grey targets, as close to the float64 BCE as torch's float32 one is, give or take 1e-6 nats per pixel.
    logits = torch.cat([torch.randn(2000, generator=gen(6)) * 10, torch.tensor([0.0, 17.0, -17.0, 1e4, -1e4])])
    for x in (torch.rand(len(logits), generator=gen(7)), torch.rand(len(logits), generator=gen(8)).round()):
        ours, torchs = bernoulli_nll(logits, x), F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        exact = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none")
        our_error, torch_error = (ours.double() - exact).abs(), (torchs.double() - exact).abs()
        assert torch.all(our_error <= torch_error + 1e-6)  # the bound BernoulliNLL's docstring states
        assert our_error.mean() <= torch_error.mean() + 1e-7


@pytest.mark.parametrize("n_values", [1, LOG_PRODUCT_CHUNK - 1, LOG_PRODUCT_CHUNK, 1000, 100_352])
def test_sum_of_logs_by_chunk_products_matches_the_sum_of_logs(n_values):
    # Any length (whole chunks and a remainder), values across [0.5, 1] and both ends: within 1e-5 nats per 64
    # values of the float64 sum, as its docstring states; a chunk of exact halves stays a normal float (2^-64).
    values = 0.5 + 0.5 * torch.rand(n_values, generator=gen(9))
    values[: min(n_values, LOG_PRODUCT_CHUNK)] = 0.5
    values[-1] = 1.0
    exact = values.double().log().sum().item()
    ours = sum_of_logs_at_least_half(values)
    assert ours.dim() == 0 and ours.dtype == torch.float32
    assert abs(ours.item() - exact) <= 1e-5 * math.ceil(n_values / LOG_PRODUCT_CHUNK)
    assert sum_of_logs_at_least_half(values.double()).item() == pytest.approx(exact, rel=1e-12)


def test_bernoulli_nll_sum_is_the_sum_of_the_per_pixel_nll():
    # The training step's fused form against BernoulliNLL summed, in float64, for grey and binary targets.
    logits = torch.randn(6, 1, 5, 7, generator=gen(10), dtype=torch.float64) * 6
    grey = torch.rand(6, 1, 5, 7, generator=gen(11), dtype=torch.float64)
    for x in (grey, grey.round()):
        summed = bernoulli_nll(logits, x).sum().item()
        assert BernoulliNLLSum.apply(logits, x).item() == pytest.approx(summed, rel=1e-12)


def test_bernoulli_nll_sum_in_float32_stays_within_its_bound_for_extreme_logits():
    # From decisive (|l| = 1e4) to uncertain logits, the float32 sum is within 1e-5 nats per 64 pixels of the
    # float64 sum (sum_of_logs_at_least_half's bound) plus float32's rounding of a sum that size.
    logits = torch.cat([torch.randn(100_000, generator=gen(12)) * 10, torch.tensor([0.0, 17.0, -17.0, 1e4, -1e4])])
    for x in (torch.rand(len(logits), generator=gen(13)), torch.rand(len(logits), generator=gen(14)).round()):
        exact = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="sum").item()
        ours = BernoulliNLLSum.apply(logits, x).item()
        assert abs(ours - exact) <= 1e-5 * len(logits) / LOG_PRODUCT_CHUNK + 1e-6 * exact


def test_bernoulli_nll_sum_gradients_match_finite_differences_and_refuse_a_second_order():
    logits = (torch.randn(3, 5, generator=gen(15), dtype=torch.float64) * 4).requires_grad_()
    x = torch.rand(3, 5, generator=gen(16), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(BernoulliNLLSum.apply, (logits, x))
    (grad_logits,) = torch.autograd.grad(BernoulliNLLSum.apply(logits, x), logits, create_graph=True)
    with pytest.raises(RuntimeError):  # once differentiable: no silent zero second derivative
        grad_logits.sum().backward()


def test_batch_mean_gaussian_kl_matches_the_formula_and_its_gradients():
    mean = (torch.randn(6, 4, generator=gen(17), dtype=torch.float64) * 2).requires_grad_()
    logvar = torch.randn(6, 4, generator=gen(18), dtype=torch.float64).requires_grad_()
    reference = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
    assert torch.allclose(BatchMeanGaussianKL.apply(mean, logvar), reference, rtol=1e-10)
    assert torch.autograd.gradcheck(BatchMeanGaussianKL.apply, (mean, logvar))
    weights = torch.randn(4, generator=gen(19), dtype=torch.float64)
    ours = torch.autograd.grad((BatchMeanGaussianKL.apply(mean, logvar) * weights).sum(), (mean, logvar))
    theirs = torch.autograd.grad((reference * weights).sum(), (mean, logvar))
    assert all(torch.allclose(a, b, rtol=1e-10) for a, b in zip(ours, theirs, strict=True))


def test_gaussian_nll_matches_log_prob():
    sigma = 0.3
    means = torch.rand(4, 2, 3, 3, generator=gen(0), dtype=torch.float64)
    x = torch.rand(4, 2, 3, 3, generator=gen(1), dtype=torch.float64)
    reference = -Normal(means, sigma).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(means, x, "gaussian", sigma), reference, rtol=1e-10)


def test_unknown_likelihood_is_rejected():
    with pytest.raises(ValueError, match="poisson"):
        reconstruction_nll(torch.zeros(1, 2), torch.zeros(1, 2), "poisson", 0.1)


def test_log_normal_matches_torch_distributions():
    x, mean = torch.randn(3, 5, generator=gen(0)), torch.randn(3, 5, generator=gen(1))
    logvar = torch.randn(3, 5, generator=gen(2))
    reference = Normal(mean, (0.5 * logvar).exp()).log_prob(x).sum(-1)
    assert torch.allclose(log_normal(x, mean, logvar), reference, atol=1e-5)


def test_elbo_terms_combine_as_documented():
    recon = torch.tensor([10.0, 20.0, 30.0])
    mean = torch.randn(3, 4, generator=gen(0))
    logvar = torch.randn(3, 4, generator=gen(1))
    terms = elbo_terms(recon, mean, logvar, beta=2.5)
    kl_by_image = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert terms.recon.item() == pytest.approx(20.0)
    assert terms.kl.item() == pytest.approx(kl_by_image.mean().item(), rel=1e-5)
    assert terms.kl_per_dim.shape == (4,)
    assert terms.kl_per_dim.sum().item() == pytest.approx(terms.kl.item(), rel=1e-6)
    assert terms.objective.item() == pytest.approx(20.0 + 2.5 * terms.kl.item(), rel=1e-6)
    assert terms.neg_elbo.item() == pytest.approx(20.0 + terms.kl.item(), rel=1e-6)
    assert terms.regularizer.item() == 0


def test_autoencoder_terms_add_the_regularizer():
    terms = autoencoder_terms(torch.tensor([1.0, 3.0]), latent_dim=3, regularizer=torch.tensor(0.5))
    assert terms.objective.item() == pytest.approx(2.5)
    assert terms.neg_elbo.item() == pytest.approx(2.0)  # recon + kl with kl = 0
    assert terms.kl.item() == 0 and terms.kl_per_dim.shape == (3,) and terms.beta == 0.0
    plain = autoencoder_terms(torch.tensor([1.0, 3.0]), latent_dim=3)
    assert plain.regularizer.item() == 0 and plain.objective.item() == pytest.approx(2.0)


def test_log_mean_exp_is_stable():
    values = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3.0)]])
    out = log_mean_exp(values, dim=1)
    assert torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(1000.0)
    assert out[1].item() == pytest.approx(-1000.0 + math.log(2.0), abs=1e-3)  # log((1 + 3) / 2) above -1000
    small = torch.randn(4, 7, generator=gen(0), dtype=torch.float64)
    assert torch.allclose(log_mean_exp(small, 1), small.exp().mean(1).log())


def test_iw_rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be at least 1"):
        iw_log_weights(
            torch.zeros(1, 2), torch.zeros(1, 1), torch.zeros(1, 1), lambda z: z.repeat(1, 2), "gaussian", 1.0, k=0
        )


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_iw_log_weights_match_torch_distributions(likelihood):
    # The same draws (chunk_size >= k: one randn((k, B, D))), each log weight assembled independently from
    # torch.distributions: log p(x|z) + log p(z) - log q(z|x).
    k, batch, latent, sigma = 9, 3, 2, 0.4
    x = torch.rand(batch, 1, 2, 3, generator=gen(0), dtype=torch.float64)
    if likelihood == "bernoulli":
        x = x.round()
    mean = torch.randn(batch, latent, generator=gen(1), dtype=torch.float64)
    logvar = torch.randn(batch, latent, generator=gen(2), dtype=torch.float64) * 0.5
    weight = torch.randn(6, latent, generator=gen(3), dtype=torch.float64)

    def decode(z: torch.Tensor) -> torch.Tensor:
        return (z @ weight.T).view(-1, 1, 2, 3)

    ours = iw_log_weights(x, mean, logvar, decode, likelihood, sigma, k=k, generator=gen(4), chunk_size=k)
    std = (0.5 * logvar).exp()
    z = mean + std * torch.randn((k, batch, latent), generator=gen(4), dtype=torch.float64)
    params = decode(z.reshape(-1, latent)).view(k, batch, 1, 2, 3)
    decoder = Bernoulli(logits=params) if likelihood == "bernoulli" else Normal(params, sigma)
    log_px_z = decoder.log_prob(x.expand(k, *x.shape)).flatten(2).sum(2)
    log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_qz = Normal(mean, std).log_prob(z).sum(-1)
    expected = log_px_z + log_pz - log_qz
    assert ours.shape == (k, batch)
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-10)
    # The reduction: IW_K = log (1/K) sum_k w_k, and with one draw the ELBO's single-sample estimate.
    torch.testing.assert_close(iw_log_likelihood(ours), torch.logsumexp(expected, 0) - math.log(k))
    torch.testing.assert_close(iw_log_likelihood(ours[:1]), expected[0])


def test_elbo_terms_per_image_reduce_to_the_batch_terms():
    mean, logvar = torch.randn(4, 3, generator=gen(2)), torch.randn(4, 3, generator=gen(3))
    draws = torch.rand(5, 4, generator=gen(4)) * 100  # (n_samples, B) reconstruction NLLs
    per_image = elbo_terms(draws, mean, logvar, 2.0, reduction="none")
    batch = elbo_terms(draws.mean(0), mean, logvar, 2.0)
    kl_by_image = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(per_image.kl_per_dim, kl_by_image)
    torch.testing.assert_close(per_image.recon, draws.mean(0))
    assert per_image.recon_draws is draws and batch.recon_draws is None
    for name in ("recon", "kl", "regularizer", "objective", "neg_elbo"):
        assert getattr(per_image, name).shape == (4,)
        torch.testing.assert_close(getattr(per_image, name).mean(), getattr(batch, name), msg=name)
    torch.testing.assert_close(per_image.objective, draws.mean(0) + 2.0 * kl_by_image.sum(1))
    with pytest.raises(ValueError, match="reduction must be one of"):
        elbo_terms(draws, mean, logvar, 2.0, reduction="sum")  # type: ignore[arg-type]


def test_autoencoder_terms_per_image():
    recon, penalty = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 1.5])
    terms = autoencoder_terms(recon, latent_dim=3, regularizer=penalty, reduction="none")
    assert torch.equal(terms.objective, recon + penalty) and torch.equal(terms.kl, torch.zeros(2))
    assert terms.kl_per_dim.shape == (2, 3) and terms.recon_draws is not None
    assert torch.equal(terms.recon_draws, recon[None])
    batch = autoencoder_terms(recon, latent_dim=3, regularizer=penalty.mean())
    assert torch.equal(terms.objective.mean(), batch.objective)


# --- probabilistic PCA: a VAE whose log p(x) and posterior are known exactly ---------------------------------

P, D, SIGMA = 6, 2, 0.5
SCALES = torch.tensor([2.0, 1.0], dtype=torch.float64)


class LinearGaussianVAE:
    """A VAE with linear encoder and decoder, its decoder set to W = U diag(scales), bias b."""

    def __init__(self, seed: int = 0):
        g = gen(seed)
        u, _ = torch.linalg.qr(torch.randn(P, D, generator=g, dtype=torch.float64))
        self.w = u * SCALES  # orthogonal columns, so W^T W = diag(scales^2)
        self.b = 0.3 * torch.randn(P, generator=g, dtype=torch.float64)
        config = ModelConfig(
            kind="vae",
            arch="mlp",
            hidden_dims=(),
            likelihood="gaussian",
            gaussian_sigma=SIGMA,
            input_shape=(1, 1, P),
            latent_dim=D,
        )
        self.model: VAE = build_model(config).double().eval()
        decoder = self.model.decoder.net[0]
        with torch.no_grad():
            decoder.weight.copy_(self.w)
            decoder.bias.copy_(self.b)
        # M = W^T W + s^2 I is diagonal; the exact posterior is N(M^-1 W^T (x - b), s^2 M^-1).
        m_diag = SCALES.pow(2) + SIGMA**2
        self.post_weight = self.w.T / m_diag[:, None]
        self.post_bias = -self.post_weight @ self.b
        self.post_logvar = torch.log(SIGMA**2 / m_diag)
        self.set_encoder(self.post_weight, self.post_bias, self.post_logvar)

    def set_encoder(self, mean_weight, mean_bias, logvar_bias) -> None:
        layer = self.model.to_posterior
        with torch.no_grad():
            layer.weight.zero_()  # the log-variance rows keep zero weight: it does not depend on x
            layer.weight[:D].copy_(mean_weight)
            layer.bias[:D].copy_(mean_bias)
            layer.bias[D:].copy_(logvar_bias)

    def perturb_encoder(self, seed: int = 1) -> None:
        g = gen(seed)
        self.set_encoder(
            self.post_weight + 0.15 * torch.randn(D, P, generator=g, dtype=torch.float64),
            self.post_bias + 0.3 * torch.randn(D, generator=g, dtype=torch.float64),
            self.post_logvar + torch.tensor([0.8, -0.6], dtype=torch.float64),
        )

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) per image from the marginal N(b, W W^T + s^2 I)."""
        cov = self.w @ self.w.T + SIGMA**2 * torch.eye(P, dtype=torch.float64)
        return MultivariateNormal(self.b, covariance_matrix=cov).log_prob(x.flatten(1))

    def sample_x(self, n: int, seed: int) -> torch.Tensor:
        """Images drawn from the model itself, shaped (n, 1, 1, P)."""
        g = gen(seed)
        z = torch.randn(n, D, generator=g, dtype=torch.float64)
        x = z @ self.w.T + self.b + SIGMA * torch.randn(n, P, generator=g, dtype=torch.float64)
        return x.view(n, 1, 1, P)

    def expected_recon(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[-log p(x|z)] in closed form: the squared error of the mean plus the trace of W S W^T."""
        mean, logvar = self.model.encode(x)
        residual = x.flatten(1) - mean @ self.w.T - self.b
        trace = (self.w.pow(2) @ logvar.exp().T).sum(0)  # sum_d ||w_d||^2 var_d, per image
        return 0.5 * (residual.pow(2).sum(1) + trace) / SIGMA**2 + P * (0.5 * math.log(2 * math.pi) + math.log(SIGMA))


@pytest.fixture
def ppca() -> LinearGaussianVAE:
    return LinearGaussianVAE()


def test_ppca_posterior_is_exact(ppca):
    # Independent check of the encoder set-up: Bayes' rule on the joint Gaussian gives the same posterior.
    x = ppca.sample_x(3, seed=2)
    mean, logvar = ppca.model.encode(x)
    cov_x = ppca.w @ ppca.w.T + SIGMA**2 * torch.eye(P, dtype=torch.float64)
    gain = ppca.w.T @ torch.linalg.inv(cov_x)  # Cov(z, x) Cov(x)^-1
    assert torch.allclose(mean, (x.flatten(1) - ppca.b) @ gain.T, atol=1e-10)
    post_cov = torch.eye(D, dtype=torch.float64) - gain @ ppca.w
    assert torch.allclose(logvar.exp(), torch.diagonal(post_cov).expand(3, D), atol=1e-10)
    assert torch.allclose(post_cov, torch.diag(torch.diagonal(post_cov)), atol=1e-10)


def test_exact_posterior_elbo_equals_log_likelihood(ppca):
    x = ppca.sample_x(16, seed=3)
    log_px = ppca.log_px(x)
    with torch.no_grad():
        terms = ppca.model.loss(x, n_samples=1)
        kl = terms.kl  # closed form, deterministic
        # With q = p(z|x) the ELBO is tight: E_q[-log p(x|z)] + KL = -log p(x) image by image.
        neg_elbo_exact = ppca.expected_recon(x) + gaussian_kl_per_dim(*ppca.model.encode(x)).sum(1)
        assert torch.allclose(neg_elbo_exact, -log_px, atol=1e-8)
        assert (ppca.expected_recon(x).mean() + kl).item() == pytest.approx(-log_px.mean().item(), abs=1e-8)
        # model.loss estimates E_q with samples; averaged over many it converges on the same number, within
        # the Monte Carlo error measured from single-sample estimates.
        single = torch.stack([ppca.model.loss(x, generator=gen(100 + i)).neg_elbo for i in range(200)])
        n_samples = 5000
        many = ppca.model.loss(x, n_samples=n_samples, generator=gen(4)).neg_elbo
    assert single.std() > 0.01  # the estimate really is random, so the tolerance below is meaningful
    assert many.item() == pytest.approx(-log_px.mean().item(), abs=4 * single.std().item() / math.sqrt(n_samples))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k", [1, 10, 1000])
def test_exact_posterior_iw_bound_equals_log_likelihood_for_any_k(ppca, k, dtype):
    x = ppca.sample_x(8, seed=5)
    model = ppca.model.to(dtype)  # float32 as the app runs it
    with torch.no_grad():
        iw = iw_log_likelihood(model.iw_log_weights(x.to(dtype), k=k, generator=gen(k)))
    # With the true posterior every importance weight equals p(x), whatever the draw.
    assert torch.allclose(iw.double(), ppca.log_px(x), atol=1e-4)


def test_exact_posterior_iw_is_independent_of_chunking(ppca):
    x = ppca.sample_x(4, seed=6)
    with torch.no_grad():
        chunked = iw_log_likelihood(ppca.model.iw_log_weights(x, k=50, chunk_size=7, generator=gen(0)))
        whole = iw_log_likelihood(ppca.model.iw_log_weights(x, k=50, chunk_size=500, generator=gen(0)))
    assert torch.allclose(chunked, whole, atol=1e-8)
    assert torch.allclose(chunked, ppca.log_px(x), atol=1e-4)


def test_chunking_draws_the_same_samples_when_chunks_line_up(ppca):
    # Away from the exact posterior the bound depends on the draws; chunk_size >= k draws them in one go.
    ppca.perturb_encoder()
    x = ppca.sample_x(4, seed=7)
    with torch.no_grad():
        a = iw_log_likelihood(ppca.model.iw_log_weights(x, k=30, chunk_size=30, generator=gen(1)))
        b = iw_log_likelihood(ppca.model.iw_log_weights(x, k=30, chunk_size=500, generator=gen(1)))
        c = iw_log_likelihood(ppca.model.iw_log_weights(x, k=30, chunk_size=7, generator=gen(1)))
    assert torch.equal(a, b)
    assert torch.allclose(c, a, atol=0.5)  # different draws, same quantity: close but not equal
    assert not torch.equal(c, a)


def test_perturbed_encoder_loosens_elbo_and_iw_tightens_with_k(ppca):
    ppca.perturb_encoder()
    n = 1000  # enough images that the K = 100 vs 1000 ordering stands several standard errors clear
    x = ppca.sample_x(n, seed=8)
    log_px = ppca.log_px(x)
    with torch.no_grad():
        neg_elbo_exact = ppca.expected_recon(x) + gaussian_kl_per_dim(*ppca.model.encode(x)).sum(1)
        neg_elbo_sampled = ppca.model.loss(x, n_samples=200, generator=gen(9)).neg_elbo.item()
        # One seed for every K: the draws for small K are a prefix of those for large K, so the noise is shared.
        log_weights = ppca.model.iw_log_weights(x, k=1000, generator=gen(10))
        gaps = {k: log_px - iw_log_likelihood(log_weights[:k]) for k in (1, 10, 100, 1000)}
    elbo_gap = (neg_elbo_exact + log_px).mean().item()  # = E_x KL(q(z|x) || p(z|x)) > 0
    mean_gap = {k: g.mean().item() for k, g in gaps.items()}
    std_error = {k: g.std().item() / math.sqrt(n) for k, g in gaps.items()}
    assert elbo_gap > 0.3, f"the perturbation should open a clear gap, got {elbo_gap:.3f} nats"
    assert neg_elbo_sampled == pytest.approx(neg_elbo_exact.mean().item(), abs=0.05)
    assert abs(mean_gap[1] - elbo_gap) < 4 * std_error[1], "IW_1 should estimate the ELBO"
    assert mean_gap[1] > mean_gap[10] > mean_gap[100] > mean_gap[1000], mean_gap
    assert -3 * std_error[1000] < mean_gap[1000] < 0.05, f"IW_1000 is {mean_gap[1000]:.4f} nats below log p(x)"


def test_scalars_follow_the_scalar_terms_order():
    from vae_core.engine.losses import SCALAR_TERMS, elbo_terms

    mean, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.1, -0.3]])
    terms = elbo_terms(torch.tensor([7.0]), mean, logvar, beta=2.0)
    # The expectation by hand (Kingma & Welling, App. B), not through the attributes scalars() reads.
    kl = sum(0.5 * (m * m + math.exp(lv) - 1.0 - lv) for m, lv in ((0.5, 0.1), (-1.0, -0.3)))
    expected = {"objective": 7.0 + 2.0 * kl, "neg_elbo": 7.0 + kl, "recon": 7.0, "kl": kl, "regularizer": 0.0}
    assert set(SCALAR_TERMS) == set(expected)
    assert terms.scalars().tolist() == pytest.approx([expected[name] for name in SCALAR_TERMS], rel=1e-6)
    assert not terms.scalars().requires_grad
