"""vae_core.engine.evaluation: report arithmetic, determinism, active units, the IW estimate, binarised data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_core.engine.config import ModelConfig
from vae_core.engine.data import binarize
from vae_core.engine.evaluation import (
    active_units,
    embed_dataset,
    evaluate,
    mean_loss_terms,
)
from vae_core.engine.models import build_model
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.results import EvaluationReport
from vae_core.engine.vocabulary import ACTIVE_UNIT_VARIANCE


def test_vae_report_arithmetic(trained_vae, digits_test):
    report = evaluate(trained_vae.model, digits_test)
    assert report.n_images == len(digits_test)
    assert report.neg_elbo == pytest.approx(report.recon + report.kl, rel=1e-9)
    assert len(report.kl_per_dim) == 4
    assert sum(report.kl_per_dim) == pytest.approx(report.kl, rel=1e-6)
    assert all(v >= 0 for v in report.kl_per_dim)
    assert report.regularizer == 0 and report.iw_nll is None and report.iw_samples == 0
    with torch.no_grad():
        recon_images = trained_vae.model.reconstruct(digits_test.images)
    assert report.mse == pytest.approx((recon_images - digits_test.images).pow(2).mean().item(), rel=1e-5)
    as_dict = report.to_dict()
    assert as_dict["neg_elbo"] == report.neg_elbo and as_dict["kl_per_dim"] == list(report.kl_per_dim)
    assert EvaluationReport.from_dict(as_dict) == report  # what a checkpoint stores reads back the same


def test_report_matches_a_direct_loss_evaluation(trained_vae, digits_test):
    # The KL is closed form, so it must equal the model's own loss on the whole split; recon is sampled.
    report = evaluate(trained_vae.model, digits_test)
    with torch.no_grad():
        terms = trained_vae.model.loss(digits_test.images, n_samples=50, generator=torch.Generator().manual_seed(0))
    assert report.kl == pytest.approx(terms.kl.item(), rel=1e-5)
    assert report.recon == pytest.approx(terms.recon.item(), rel=0.02)


def test_evaluation_is_deterministic_and_leaves_the_mode(trained_vae, digits_test):
    model = trained_vae.model
    model.train()
    try:
        a = evaluate(model, digits_test, seed=3)
        assert model.training  # the caller's mode is restored
        b = evaluate(model, digits_test, seed=3)
    finally:
        model.eval()
    c = evaluate(model, digits_test, seed=4)
    assert a == b
    assert a.recon != c.recon  # the seed drives the posterior samples
    assert a.kl == pytest.approx(c.kl, rel=1e-9)


def test_evaluation_leaves_the_global_random_state_alone(trained_vae, digits_test):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluate(trained_vae.model, digits_test, iw_samples=2)
    assert torch.equal(torch.rand(3), expected)


def test_active_units_by_hand(trained_vae, digits_test):
    report = evaluate(trained_vae.model, digits_test)
    with torch.no_grad():
        means = trained_vae.model.encode(digits_test.images).mean.numpy().astype(np.float64)
    variances = means.var(axis=0)  # population variance over the data of E_q[z_d]
    assert np.allclose(report.latent_variance, variances, rtol=1e-5)
    assert report.active_units == int((variances > ACTIVE_UNIT_VARIANCE).sum())


def test_active_units_threshold():
    codes = torch.stack(
        [
            torch.tensor([0.0, 1.0, 0.0, 1.0]),  # variance 0.25: active
            torch.tensor([0.0, 0.1, 0.0, 0.1]),  # variance 0.0025: inactive
            torch.full((4,), 7.0),
        ],
        dim=1,
    )  # constant: inactive
    n, variances = active_units(codes)
    assert n == 1
    assert torch.allclose(variances, torch.tensor([0.25, 0.0025, 0.0], dtype=torch.float64))
    assert active_units(codes, threshold=0.001)[0] == 2


def test_autoencoder_report_has_no_elbo(trained_ae, digits_test):
    report = evaluate(trained_ae.model, digits_test, iw_samples=10)
    assert report.neg_elbo is None and report.iw_nll is None and report.iw_samples == 0
    assert report.kl == 0 and report.kl_per_dim == (0.0, 0.0)
    with torch.no_grad():
        recon = trained_ae.model.loss(digits_test.images).recon.item()
    assert report.recon == pytest.approx(recon, rel=1e-5)


def test_iw_estimate_is_tighter_than_the_elbo(trained_vae, digits_test):
    report = evaluate(trained_vae.model, digits_test, iw_samples=50, protocol=DataProtocol.BINARIZED)
    assert report.iw_samples == 50
    # IW_K >= ELBO in expectation (Burda et al. 2015), so -IW_K <= -ELBO, and the bound tightens with K.
    assert report.iw_nll <= report.neg_elbo + 0.05
    assert (
        report.iw_nll < evaluate(trained_vae.model, digits_test, iw_samples=5, protocol=DataProtocol.BINARIZED).iw_nll
    )
    again = evaluate(trained_vae.model, digits_test, iw_samples=50, protocol=DataProtocol.BINARIZED)
    assert again.iw_nll == report.iw_nll


def test_grey_level_bernoulli_numbers_are_cross_entropies(digits_test):
    """On grey levels a Bernoulli decoder is no density: no IW estimate of -log p(x), and the entropy floor."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,)))
    grey = evaluate(model, digits_test, iw_samples=50)
    assert grey.data_protocol is DataProtocol.GREY_BERNOULLI and not grey.data_protocol.is_likelihood
    assert grey.iw_nll is None and grey.iw_samples == 0
    assert "log p(x" not in grey.headline_name and "log p(x" not in grey.names.recon
    # the floor is the per-pixel binary entropy of the very images, summed over pixels (torch.distributions)
    floor = torch.distributions.Bernoulli(probs=digits_test.images.double()).entropy().flatten(1).sum(1).mean()
    assert grey.entropy_floor == pytest.approx(float(floor), rel=1e-9)
    assert grey.recon >= grey.entropy_floor
    binary = evaluate(model, digits_test, protocol=DataProtocol.BINARIZED)
    assert binary.data_protocol is DataProtocol.BINARIZED and binary.entropy_floor is None
    assert EvaluationReport.from_dict(grey.to_dict()) == grey


def test_binarized_evaluation_uses_the_seeded_binarisation(trained_vae, digits_test):
    binary = evaluate(trained_vae.model, digits_test, protocol=DataProtocol.BINARIZED, seed=5)
    grey = evaluate(trained_vae.model, digits_test, seed=5)
    fixed = binarize(digits_test.images, torch.Generator().manual_seed(5))
    assert set(fixed.unique().tolist()) == {0.0, 1.0}
    by_hand = evaluate(trained_vae.model, fixed, seed=5)
    assert binary.binarized and not grey.binarized
    assert binary.recon == pytest.approx(by_hand.recon, rel=1e-9)
    assert binary.kl == pytest.approx(by_hand.kl, rel=1e-9)
    assert binary.recon != pytest.approx(grey.recon, rel=1e-3)


def test_a_grey_level_protocol_of_the_other_likelihood_is_refused(digits_test):
    torch.manual_seed(0)
    config = ModelConfig(kind="vae", input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,), likelihood="gaussian")
    model = build_model(config)
    assert evaluate(model, digits_test).data_protocol is DataProtocol.GAUSSIAN
    assert evaluate(model, digits_test, protocol=DataProtocol.GAUSSIAN).data_protocol is DataProtocol.GAUSSIAN
    with pytest.raises(ValueError, match="a gaussian decoder cannot be measured under the grey-bernoulli"):
        evaluate(model, digits_test, protocol=DataProtocol.GREY_BERNOULLI)
    bernoulli = build_model(ModelConfig(kind="vae", input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,)))
    with pytest.raises(ValueError, match="a bernoulli decoder cannot be measured under the gaussian protocol"):
        evaluate(bernoulli, digits_test, protocol=DataProtocol.GAUSSIAN)


def test_mean_loss_terms_weights_batches_by_size(trained_ae, digits_test):
    images = digits_test.images[:250]
    chunked = mean_loss_terms(trained_ae.model, images, batch_size=100)  # 100 + 100 + 50
    whole = mean_loss_terms(trained_ae.model, images, batch_size=1000)
    for key in ("objective", "recon", "kl", "regularizer"):
        assert getattr(chunked, key) == pytest.approx(getattr(whole, key), rel=1e-5)


def test_embed_dataset_matches_embed(trained_vae, digits_test):
    codes = embed_dataset(trained_vae.model, digits_test.images, batch_size=64)
    with torch.no_grad():
        assert torch.allclose(codes, trained_vae.model.embed(digits_test.images), atol=1e-6)
    assert codes.shape == (len(digits_test), 4)
