"""fit's fast path, the MLP VAE's written-out backward pass: its gradients against autograd in float64, and
which models take it (anything it does not list trains with autograd)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vae_core.config import LIKELIHOODS, ModelConfig, TrainConfig
from vae_core.models import VAE, build_model, mlp_backprop
from vae_core.models.mlp_backprop import FAST_PATH_LIKELIHOODS, loss_and_backward, mlp_layers, supports
from vae_core.training import fit


def autograd_gradients(model, x, beta, seed):
    """The textbook step: model.loss, then backward; returns the terms and a copy of every .grad."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    terms = model.loss(x, beta=beta)
    terms.objective.backward()
    return terms, [p.grad.clone() for p in model.parameters()]


def fast_gradients(model, x, beta, seed):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same eps as the autograd step draws from the global generator
    terms = loss_and_backward(model, x, beta)
    return terms, [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize(
    "hidden, likelihood, beta, shape",
    [
        ((400,), "bernoulli", 1.0, (1, 28, 28)),
        ((32, 16), "gaussian", 2.5, (1, 8, 8)),
        ((), "bernoulli", 0.5, (1, 8, 8)),
        ((16, 8, 4), "bernoulli", 4.0, (2, 5, 3)),
        ((7,), "gaussian", 0.0, (1, 4, 4)),
    ],
)
def test_gradients_and_terms_equal_autograd_in_float64(hidden, likelihood, beta, shape):
    torch.manual_seed(0)
    config = ModelConfig(
        kind="vae",
        arch="mlp",
        input_shape=shape,
        latent_dim=3,
        hidden_dims=hidden,
        likelihood=likelihood,
        gaussian_sigma=0.2,
    )
    model = build_model(config).double()
    assert supports(model)
    x = torch.rand(9, *shape, dtype=torch.float64)
    terms, grads = fast_gradients(model, x, beta, seed=5)
    ref_terms, ref_grads = autograd_gradients(model, x, beta, seed=5)
    for (name, param), grad, ref in zip(model.named_parameters(), grads, ref_grads, strict=True):
        assert grad.shape == param.shape, name
        assert ref.abs().max() > 0, name  # a gradient that is all zeros would prove nothing
        assert torch.allclose(grad, ref, rtol=1e-10, atol=1e-12), name
    assert torch.allclose(terms.scalars(), ref_terms.scalars(), rtol=1e-12)
    assert torch.allclose(terms.kl_per_dim, ref_terms.kl_per_dim, rtol=1e-12)
    assert terms.beta == beta


def test_gradients_accumulate_like_backward(tiny_config):
    model = build_model(tiny_config(kind="vae")).double()
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    _, once = fast_gradients(model, x, 1.0, seed=2)
    torch.manual_seed(2)
    loss_and_backward(model, x, 1.0)  # on top of the .grad left by the first call
    for param, single in zip(model.parameters(), once, strict=True):
        assert torch.allclose(param.grad, 2 * single, rtol=1e-12)


def test_every_fast_path_likelihood_is_a_known_likelihood():
    # Each one is in the gradient test above; a likelihood added to the config later is not in the list.
    assert set(FAST_PATH_LIKELIHOODS) <= set(LIKELIHOODS)
    assert set(FAST_PATH_LIKELIHOODS) == {"bernoulli", "gaussian"}


def test_a_new_likelihood_trains_with_autograd(tiny_config, digits_train, monkeypatch):
    # A Laplace decoder a later lesson might add: VAE.loss knows it, the fast path does not, so fit must not
    # send it down the fast path (whose Bernoulli or Gaussian gradient would silently be the wrong one).
    torch.manual_seed(0)
    model = build_model(tiny_config(kind="vae"))
    model.config.likelihood = "laplace"  # past the config's validation, as a new entry in LIKELIHOODS would be
    model.mean_reconstruction_nll = lambda x_params, x: (x - x_params).abs().flatten(1).sum(1).mean()
    assert not supports(model)
    with pytest.raises(ValueError, match="does not support"):
        loss_and_backward(model, digits_train.images[:4], 1.0)
    with pytest.raises(ValueError, match="no gradient for the 'laplace' likelihood"):
        mlp_backprop.output_gradient(torch.zeros(2, 3), torch.zeros(2, 3), "laplace", 0.1)

    def refuse(*args, **kwargs):
        raise AssertionError("fit took the fast path for a likelihood it does not support")

    monkeypatch.setattr(mlp_backprop, "loss_and_backward", refuse)
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(
        model.config,
        TrainConfig(dataset="digits", epochs=1, eval_each_epoch=False),
        train_data=digits_train,
        model=model,
    )
    assert all(not torch.equal(a, b) for a, b in zip(before, result.model.parameters(), strict=True))


@pytest.mark.parametrize(
    "change",
    ["conv body", "tanh in the encoder", "sigmoid on the decoder output", "frozen layer", "subclass", "autoencoder"],
)
def test_models_outside_the_list_do_not_take_the_fast_path(tiny_config, change):
    model = build_model(tiny_config(kind="vae"))
    assert supports(model)
    if change == "conv body":
        model = build_model(tiny_config(kind="vae", arch="conv", hidden_dims=(4, 8)))
    elif change == "tanh in the encoder":
        model.encoder.net[2] = nn.Tanh()
    elif change == "sigmoid on the decoder output":
        model.decoder.net.append(nn.Sigmoid())
    elif change == "frozen layer":
        model.to_posterior.weight.requires_grad_(False)
    elif change == "subclass":
        model = type("ScaledVAE", (VAE,), {})(model.config)
    else:
        model = build_model(tiny_config(kind="ae"))
    assert not supports(model)


def test_the_sparse_autoencoder_body_is_not_the_mlp_pattern(tiny_config):
    # The sparse AE's KL penalty puts a sigmoid on the encoder's last layer.
    sae = build_model(tiny_config(kind="sae", sparsity="kl"))
    assert mlp_layers(sae.encoder, decoder=False) is None
    assert mlp_layers(sae.decoder, decoder=True) == [m for m in sae.decoder.net if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("binarize", [False, True])
def test_fit_trains_the_same_model_either_way(tiny_config, digits_train, binarize):
    # fit() with the written-out gradients and fit() on autograd end with the same weights.
    config = tiny_config(kind="vae")
    train = TrainConfig(
        dataset="digits", epochs=2, batch_size=64, lr=3e-3, seed=3, eval_each_epoch=False, dynamic_binarization=binarize
    )
    fast = fit(config, train, train_data=digits_train)
    slow = fit(config, train, train_data=digits_train, fast_path=False)
    torch.manual_seed(train.seed)  # fit's initial weights
    initial = build_model(config).state_dict()
    for (name, a), b in zip(fast.model.state_dict().items(), slow.model.state_dict().values(), strict=True):
        assert not torch.allclose(a, initial[name]), name  # both trained ...
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name  # ... to the same weights
    assert fast.history[-1].train.objective == pytest.approx(slow.history[-1].train.objective, rel=1e-5)
