"""vae_core.lessons.elbo_report against independent computations: torch.distributions, direct recomputation with the
stated seeds, and (when they are here) the shipped default models on the fixed binarisation of MNIST's test set.

The expectations are rebuilt from the model's encoder and decoder networks and torch.distributions, not through
model.loss or model.iw_log_weights, so a slip in elbo_report's own sampling or bookkeeping shows up.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import is_available, load_dataset, measured_inputs
from vae_core.engine.losses import IW_CHUNK
from vae_core.engine.protocol import DataProtocol, protocol_of
from vae_core.lessons import elbo_report as elbo

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "checkpoints"


# --- independent recomputations ---------------------------------------------------------------------------------
def posterior(model, x):
    with torch.no_grad():
        mean, logvar = model.encode(x)
    return Normal(mean[0].double(), (0.5 * logvar[0].double()).exp())


def bernoulli_log_px_z(model, x, z):
    """log p(x|z) per code (n,), from the decoder's logits and torch.distributions."""
    with torch.no_grad():
        logits = model.decode_params(z.float()).double()
    return (
        Bernoulli(logits=logits.flatten(1), validate_args=False)
        .log_prob(x.double().flatten().expand(len(z), -1))
        .sum(1)
    )


def direct_recon(model, x, *, seed, n):
    """E_q[-log p(x|z)] over n draws eps ~ randn((n, 1, D)) from a generator seeded with seed (what the page states)."""
    q = posterior(model, x)
    eps = torch.randn((n, 1, q.mean.numel()), generator=torch.Generator().manual_seed(seed))[:, 0].double()
    per_draw = -bernoulli_log_px_z(model, x, q.mean + q.stddev * eps)
    return float(per_draw.mean()), float(per_draw.std() / math.sqrt(n))


def direct_iw_nll(model, x, *, k, seed, drawn=None):
    """-log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k from the first K rows of randn((drawn, D)) seeded with seed
    (drawn = K by default; the page draws max(K) once per seed and reads the smaller K off its first rows)."""
    q = posterior(model, x)
    eps = torch.randn((drawn or k, q.mean.numel()), generator=torch.Generator().manual_seed(seed))[:k].double()
    z = q.mean + q.stddev * eps
    prior = Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean))
    log_w = bernoulli_log_px_z(model, x, z) + prior.log_prob(z).sum(1) - q.log_prob(z).sum(1)
    return float(-(torch.logsumexp(log_w, 0) - math.log(k)))


@pytest.fixture(scope="module")
def digits_vae(tiny_zoo):
    model = load_checkpoint(tiny_zoo.vae_4d).model
    x = torch.bernoulli(load_dataset("digits", "test").images[2:3], generator=torch.Generator().manual_seed(0))
    return model, x


# --- the terms ----------------------------------------------------------------------------------------------------
def test_breakdown_matches_torch_distributions(digits_vae):
    model, x = digits_vae
    terms = elbo.elbo_breakdown(model, x, beta=1.0, seed=7)
    q = posterior(model, x)
    prior = Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean))
    np.testing.assert_allclose(terms.kl_per_dim, kl_divergence(q, prior).numpy(), rtol=1e-5, atol=1e-7)
    recon, stderr = direct_recon(model, x, seed=7, n=elbo.RECON_SAMPLES)
    assert terms.recon == pytest.approx(recon, abs=1e-4)
    assert terms.recon_stderr == pytest.approx(stderr, rel=1e-4)
    assert terms.recon_at_mean == pytest.approx(float(-bernoulli_log_px_z(model, x, q.mean[None])[0]), abs=1e-4)


def test_iw_curve_is_the_direct_estimate_for_each_seed_and_k(digits_vae):
    model, x = digits_vae
    ks, seeds = (1, 10, 200), elbo.iw_seeds(3, 4)
    assert seeds == (3, 4, 5, 6)
    calls = []
    curve = elbo.iw_curve(model, x, ks=ks, seeds=seeds, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)], "progress after each seed"
    want = np.array([[direct_iw_nll(model, x, k=k, seed=s, drawn=max(ks)) for k in ks] for s in seeds])
    np.testing.assert_allclose(curve.iw_nll, want, atol=2e-4)
    np.testing.assert_allclose(curve.mean, want.mean(0), atol=2e-4)
    np.testing.assert_allclose(curve.spread, want.std(0, ddof=1), atol=2e-4)
    assert curve.at(10) == pytest.approx((want[:, 1].mean(), want[:, 1].std(ddof=1)), abs=2e-4)


def test_iw_draws_and_iw_nll_are_the_one_estimator(digits_vae):
    """Both are model.iw_log_weights: the same draws while one chunk holds them (K <= IW_CHUNK); beyond it iw_nll
    draws chunk by chunk, iw_draws all at once (nested estimates), and over seeds both estimate the same number
    (whether the draws coincide as well depends on how torch's sampler fills a chunk)."""
    model, x = digits_vae
    for s in range(3):
        assert elbo.iw_nll_from(elbo.iw_draws(model, x, k=300, seed=s)) == pytest.approx(
            elbo.iw_nll(model, x, k=300, seed=s), rel=1e-6
        )
    k = IW_CHUNK + 200
    ours = [elbo.iw_nll_from(elbo.iw_draws(model, x, k=k, seed=s)) for s in range(4)]
    theirs = [elbo.iw_nll(model, x, k=k, seed=s) for s in range(4)]
    spread = np.std(ours + theirs, ddof=1)
    assert abs(np.mean(ours) - np.mean(theirs)) < 3 * spread + 0.05


def test_binarisation_spread_is_the_spread_of_direct_recomputations(tiny_zoo):
    model = load_checkpoint(tiny_zoo.vae_4d).model
    grey = load_dataset("digits", "test").images[4:5]
    mean, spread = elbo.binarized_neg_elbo_spread(model, grey, seeds=range(6), draw_seed=2)
    values = []
    for s in range(6):
        binary = torch.bernoulli(grey, generator=torch.Generator().manual_seed(s))
        q = posterior(model, binary)
        kl = float(kl_divergence(q, Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean))).sum())
        values.append(direct_recon(model, binary, seed=2, n=elbo.RECON_SAMPLES)[0] + kl)
    assert mean == pytest.approx(np.mean(values), abs=1e-3)
    assert spread == pytest.approx(np.std(values, ddof=1), abs=1e-3)
    assert spread > 0, "different binarisations give different numbers"


# --- digits and words ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "noise,decimals", [(0.0, 2), (0.004, 2), (0.04, 2), (0.3, 1), (0.99, 1), (3.0, 0), (40.0, 0), (math.inf, 0)]
)
def test_decimals_follow_the_noise(noise, decimals):
    assert elbo.decimals_for(noise) == decimals


def test_format_noisy():
    assert elbo.format_noisy(73.9321, 0.3) == "73.9"
    assert elbo.format_noisy(-1.234, 0.02) == "−1.23"
    assert elbo.format_noisy(104.6, 2.5) == "105"


def breakdown(recon_at_mean: float, kl: float = 20.0) -> elbo.ElboBreakdown:
    return elbo.ElboBreakdown(
        recon=recon_at_mean + 5,
        kl=kl,
        kl_per_dim=np.array([kl]),
        posterior_mean=np.zeros(1),
        posterior_std=np.ones(1),
        beta=1.0,
        n_samples=64,
        seed=0,
        recon_stderr=0.3,
        recon_at_mean=recon_at_mean,
    )


def ae(recon: float) -> elbo.AeBreakdown:
    return elbo.AeBreakdown(
        recon=recon, regularizer=0.0, mse=0.01, reconstruction=np.zeros((2, 2)), likelihood="bernoulli"
    )


def test_the_contrast_text_follows_the_numbers():
    """No fixed claim: which model rebuilds better is read off the two reconstruction numbers."""
    better_ae = elbo.contrast_text(ae(40.0), breakdown(50.0), DataProtocol.BINARIZED)
    assert "The AE rebuilds this image better, by 10.0 nats" in better_ae and "40.0" in better_ae
    assert "upper bound on −log p(x)" in better_ae
    better_vae = elbo.contrast_text(ae(88.4), breakdown(56.7), DataProtocol.BINARIZED)
    assert "the VAE rebuilds the image better, by 31.7 nats" in better_vae and "sharper" in better_vae
    assert "about equally well" in elbo.contrast_text(ae(50.4), breakdown(50.0), DataProtocol.BINARIZED)
    grey = elbo.contrast_text(ae(40.0), breakdown(50.0), DataProtocol.GREY_BERNOULLI)
    assert "log p(x)" not in grey, "no likelihood words for a cross-entropy on grey levels"


# --- the shipped default models -----------------------------------------------------------------------------------
def shipped(name: str):
    path = SHIPPED / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path.name} is not shipped here")
    if not is_available("mnist"):
        pytest.skip("MNIST is not in VAE_DATA_DIR")
    return load_checkpoint(path)


def test_shipped_default_vae_on_its_binarised_test_image():
    """The page's numbers for test image 0 of mnist-vae-default, binarised as the page does (seed 0)."""
    checkpoint = shipped("mnist-vae-default")
    model, info = checkpoint.model.eval(), checkpoint.info
    protocol = protocol_of(info.train_config, info.model_config)
    assert protocol is DataProtocol.BINARIZED
    grey = load_dataset("mnist", "test").images[0:1]
    x = measured_inputs(grey, protocol, seed=0)
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
    terms = elbo.elbo_breakdown(model, x, beta=1.0, seed=0)
    q = posterior(model, x)
    np.testing.assert_allclose(terms.kl_per_dim, kl_divergence(q, Normal(0.0, 1.0)).numpy(), rtol=1e-4, atol=1e-6)
    recon, stderr = direct_recon(model, x, seed=0, n=elbo.RECON_SAMPLES)
    assert terms.recon == pytest.approx(recon, abs=1e-3) and terms.recon_stderr == pytest.approx(stderr, rel=1e-3)
    curve = elbo.iw_curve(model, x, ks=(1, 100, 1000), seeds=elbo.iw_seeds(0))
    want = np.array(
        [[direct_iw_nll(model, x, k=k, seed=s, drawn=1000) for k in (1, 100, 1000)] for s in elbo.iw_seeds(0)]
    )
    np.testing.assert_allclose(curve.iw_nll, want, atol=2e-3)
    mean, spread = curve.at(1000)
    assert mean < terms.neg_elbo + 3 * terms.recon_stderr, "the IW estimate sits below the bound"
    assert spread < curve.at(1)[1], "the spread over seeds shrinks with K"


def test_shipped_default_vae_is_compared_with_the_same_latent_size_ae():
    from vae_core.engine.registry import scan_registry

    entries = list(scan_registry((("shipped", str(SHIPPED)),)).entries)
    by_name = {e.info.name: e for e in entries}
    if "mnist-vae-default" not in by_name or "mnist-ae-default" not in by_name:
        pytest.skip("the default pair is not shipped here yet")
    like_for_like_ae = elbo.like_for_like_ae
    assert like_for_like_ae(entries, by_name["mnist-vae-default"]).info.name == "mnist-ae-default"
    assert like_for_like_ae(entries, by_name["mnist-vae-z2"]).info.name == "mnist-ae-z2"
