"""The MLP VAE's written-out backward pass (fit's fast path) against autograd, in float64."""

from __future__ import annotations

import pytest
import torch

from vae_core.config import ModelConfig, TrainConfig
from vae_core.models import build_model
from vae_core.models.base import LatentModel
from vae_core.models.mlp_backprop import mlp_layers
from vae_core.training import fit


def autograd_reference(model, x, beta):
    """LatentModel's generic loss_and_grads: model.loss, then torch.autograd.grad."""
    return LatentModel.loss_and_grads(model, x, beta)


@pytest.mark.parametrize("hidden, likelihood, beta, shape", [
    ((400,), "bernoulli", 1.0, (1, 28, 28)),
    ((32, 16), "gaussian", 2.5, (1, 8, 8)),
    ((), "bernoulli", 0.5, (1, 8, 8)),
    ((16, 8, 4), "bernoulli", 4.0, (2, 5, 3)),
])
def test_gradients_and_terms_equal_autograd(hidden, likelihood, beta, shape):
    torch.manual_seed(0)
    config = ModelConfig(kind="vae", arch="mlp", input_shape=shape, latent_dim=3, hidden_dims=hidden,
                         likelihood=likelihood, gaussian_sigma=0.2)
    model = build_model(config).double()
    assert model._mlp_layers() is not None  # the fast path is taken
    x = torch.rand(9, *shape, dtype=torch.float64)
    torch.manual_seed(5)  # both draw the same eps from the global generator
    terms, grads = model.loss_and_grads(x, beta)
    torch.manual_seed(5)
    ref_terms, ref_grads = autograd_reference(model, x, beta)
    assert len(grads) == len(ref_grads) == len(list(model.parameters()))
    for (name, param), grad, ref in zip(model.named_parameters(), grads, ref_grads):
        assert grad.shape == param.shape, name
        assert torch.allclose(grad, ref, rtol=1e-10, atol=1e-12), name
    assert torch.allclose(terms.scalars(), ref_terms.scalars(), rtol=1e-12)
    assert torch.allclose(terms.kl_per_dim, ref_terms.kl_per_dim, rtol=1e-12)
    assert terms.beta == beta


def test_other_bodies_and_models_use_autograd(tiny_config):
    conv = build_model(tiny_config(kind="vae", arch="conv", hidden_dims=(4, 8)))
    assert conv._mlp_layers() is None
    # The sparse AE's KL penalty puts a sigmoid on the encoder's last layer: not the MLP pattern.
    sae = build_model(tiny_config(kind="sae", sparsity="kl"))
    assert mlp_layers(sae.encoder, decoder=False) is None
    assert mlp_layers(sae.decoder, decoder=True) is not None
    # Whatever path a model takes, loss_and_grads equals autograd's gradients.
    x = torch.rand(5, 1, 8, 8)
    for model in (conv, sae, build_model(tiny_config(kind="cae"))):
        torch.manual_seed(1)
        _, grads = model.loss_and_grads(x)
        torch.manual_seed(1)
        _, ref = autograd_reference(model, x, None)
        assert all(torch.allclose(g, r, atol=1e-6) for g, r in zip(grads, ref))


def test_frozen_parameters_fall_back_to_autograd(tiny_config):
    model = build_model(tiny_config(kind="vae"))
    model.to_posterior.weight.requires_grad_(False)
    _, grads = model.loss_and_grads(torch.rand(4, 1, 8, 8))
    assert len(grads) == len([p for p in model.parameters() if p.requires_grad])


def test_fit_trains_the_same_model_either_way(tiny_config, digits_train, digits_test, monkeypatch):
    # fit() with the written-out gradients and fit() forced onto autograd end with the same weights.
    config = tiny_config(kind="vae")
    train = TrainConfig(dataset="digits", epochs=2, batch_size=64, lr=3e-3, seed=3, eval_each_epoch=False)
    fast = fit(config, train, train_data=digits_train)
    from vae_core.models.vae import VAE
    monkeypatch.setattr(VAE, "_mlp_layers", lambda self: None)
    slow = fit(config, train, train_data=digits_train)
    for (name, a), b in zip(fast.model.state_dict().items(), slow.model.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name
    assert fast.history[-1].train.objective == pytest.approx(slow.history[-1].train.objective, rel=1e-5)
