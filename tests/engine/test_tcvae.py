"""The β-TCVAE's loss: the minibatch-weighted-sampling estimates against a brute-force sum, the decomposition
against the KL, and the model through the one interface."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import elbo_terms, mws_log_densities, tc_decomposition, tcvae_terms
from vae_core.engine.models import BetaTCVAE, build_model
from vae_core.engine.vocabulary import KINDS


def posteriors(batch=5, dim=3, draws=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, dim, generator=g, dtype=torch.float64) * 0.5 - 1.0
    z = mean + (0.5 * logvar).exp() * torch.randn(draws, batch, dim, generator=g, dtype=torch.float64)
    return z, mean, logvar


def test_mws_matches_a_brute_force_sum_over_the_batch():
    z, mean, logvar = posteriors()
    n_data = 1000
    log_qz, log_prod = mws_log_densities(z, mean, logvar, n_data)
    draws, batch, dim = z.shape
    for s in range(draws):
        for i in range(batch):
            # q(z_i) ~= 1/(N M) sum_j q(z_i | x_j), and the same for each dimension's marginal
            joint = sum(
                math.exp(Normal(mean[j], (0.5 * logvar[j]).exp()).log_prob(z[s, i]).sum()) for j in range(batch)
            )
            assert log_qz[s, i].item() == pytest.approx(math.log(joint / (n_data * batch)), rel=1e-10)
            marginals = 0.0
            for d in range(dim):
                q_d = sum(
                    math.exp(Normal(mean[j, d], (0.5 * logvar[j, d]).exp()).log_prob(z[s, i, d])) for j in range(batch)
                )
                marginals += math.log(q_d / (n_data * batch))
            assert log_prod[s, i].item() == pytest.approx(marginals, rel=1e-10)


def test_with_the_whole_data_set_as_the_batch_mws_is_the_aggregate_posterior_up_to_log_m():
    # N = M, every posterior in the batch: (1/N) sum_n q(z|x_n) is q(z) exactly; MWS divides by N M instead.
    z, mean, logvar = posteriors(batch=4)
    log_qz, _ = mws_log_densities(z, mean, logvar, dataset_size=4)
    mixture = torch.stack([Normal(mean[j], (0.5 * logvar[j]).exp()).log_prob(z).sum(-1) for j in range(4)]).exp()
    exact = mixture.mean(0).log()
    assert log_qz == pytest.approx(exact - math.log(4), abs=1e-10)


def test_the_three_parts_sum_to_the_monte_carlo_kl_of_the_same_draws():
    z, mean, logvar = posteriors(batch=8, dim=4, draws=3)
    parts = tc_decomposition(z, mean, logvar, dataset_size=500)
    q = Normal(mean, (0.5 * logvar).exp())
    mc_kl = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean(0)
    total = parts.index_code_mi + parts.total_correlation + parts.dimwise_kl
    assert total == pytest.approx(mc_kl, abs=1e-10)


def test_tcvae_terms_weight_only_the_total_correlation():
    z, mean, logvar = posteriors(batch=6, dim=3, draws=1)
    recon = torch.rand(6, dtype=torch.float64) * 10
    terms = tcvae_terms(recon, z, mean, logvar, beta=6.0, dataset_size=100)
    plain = elbo_terms(recon, mean, logvar, 1.0)
    tc = tc_decomposition(z, mean, logvar, 100).total_correlation.mean()
    assert terms.kl == pytest.approx(plain.kl) and terms.recon == pytest.approx(plain.recon)
    assert terms.tc is not None and terms.tc.total_correlation == pytest.approx(tc)
    assert terms.objective == pytest.approx(plain.objective + 5.0 * tc)
    assert tcvae_terms(recon, z, mean, logvar, beta=1.0, dataset_size=100).objective == pytest.approx(plain.objective)
    per_image = tcvae_terms(recon.unsqueeze(0), z, mean, logvar, 6.0, 100, reduction="none")
    assert per_image.objective.shape == (6,) and per_image.objective.mean() == pytest.approx(terms.objective)


def test_the_model_goes_through_the_one_interface_and_the_registry():
    assert KINDS["tcvae"].variational
    config = ModelConfig(kind="tcvae", input_shape=(1, 8, 8), latent_dim=3, hidden_dims=(16,), beta=6.0)
    model = build_model(config)
    assert isinstance(model, BetaTCVAE)
    x = torch.rand(16, 1, 8, 8).round()
    terms = model.loss(x, generator=torch.Generator().manual_seed(0))
    again = model.loss(x, beta=1.0, generator=torch.Generator().manual_seed(0))
    assert terms.tc is not None and again.objective.item() == pytest.approx(
        (terms.objective - 5.0 * terms.tc.total_correlation).item(), rel=1e-5
    )
    terms.objective.backward()
    assert all(p.grad is not None for p in model.parameters())
    per_image = model.loss(x, n_samples=3, reduction="none")
    assert per_image.objective.shape == (16,) and per_image.recon_draws.shape == (3, 16)
    assert model.iw_log_weights(x, k=4).shape == (4, 16)
