"""vae_core.lessons.autoencoders.toy_models: the toy models, their objectives checked by hand, and a seeded loop."""

from __future__ import annotations

import pytest
import torch

from vae_core.lessons.autoencoders.toy_data import make_toy_manifold
from vae_core.lessons.autoencoders.toy_models import (
    TOY_KINDS,
    ToyAutoencoder,
    ToyTrainSpec,
    squared_error,
    toy_objective,
    train_toy_autoencoder,
)


@pytest.fixture(scope="module")
def curve():
    return make_toy_manifold("curve", n_points=200, noise=0.05, seed=0)


def test_linear_model_is_affine_and_has_no_hidden_layer():
    model = ToyAutoencoder(3, 2, linear=True)
    assert isinstance(model.encoder, torch.nn.Linear) and isinstance(model.decoder, torch.nn.Linear)
    assert model.decoder_directions.shape == (3, 2)
    x = torch.randn(5, 3)
    w_e, b_e, w_d, b_d = model.encoder.weight, model.encoder.bias, model.decoder.weight, model.decoder.bias
    expected = (x @ w_e.T + b_e) @ w_d.T + b_d
    assert torch.allclose(model.reconstruct(x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="only the linear"):
        _ = ToyAutoencoder(3, 2).decoder_directions


def test_squared_error_is_the_sum_over_coordinates():
    x, x_hat = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert torch.equal(squared_error(x, x_hat), torch.tensor([5.0, 25.0]))


def test_cae_objective_adds_the_jacobian_norm_from_autograd(curve):
    torch.manual_seed(0)
    model = ToyAutoencoder(2, 1, hidden=8)
    x = curve.points[:6]
    spec = ToyTrainSpec(kind="cae", contractive_weight=0.7)
    got = toy_objective(model, x, spec, torch.Generator().manual_seed(0))
    jac_sq = torch.stack([torch.autograd.functional.jacobian(model.embed, xi.unsqueeze(0)).pow(2).sum() for xi in x])
    recon = ((x - model(x)) ** 2).sum(1)
    assert got.item() == pytest.approx((recon + 0.7 * jac_sq).mean().item(), rel=1e-5)


def test_dae_objective_compares_the_output_of_noisy_points_with_clean_ones(curve):
    torch.manual_seed(0)
    model = ToyAutoencoder(2, 1, hidden=8)
    x = curve.points[:6]
    spec = ToyTrainSpec(kind="dae", noise=0.3)
    got = toy_objective(model, x, spec, torch.Generator().manual_seed(5))
    noisy = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    assert got.item() == pytest.approx(((x - model(noisy)) ** 2).sum(1).mean().item(), rel=1e-6)


@pytest.mark.parametrize("kind", TOY_KINDS)
def test_training_is_seeded_and_lowers_the_objective(curve, kind):
    spec = ToyTrainSpec(kind=kind, hidden=16, steps=60)
    seen = []
    first = train_toy_autoencoder(curve.points, spec, progress=lambda *args: seen.append(args), progress_every=20)
    second = train_toy_autoencoder(curve.points, spec)
    assert first.losses == second.losses and len(first.losses) == 60
    assert first.final_loss < first.losses[0]
    assert [s[0] for s in seen] == [20, 40, 60] and all(s[1] == 60 for s in seen)
    assert not first.model.training


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        ToyTrainSpec(kind="vae")
    with pytest.raises(ValueError, match="at least 1"):
        ToyTrainSpec(steps=0)
