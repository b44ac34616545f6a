"""The conditional VAE: shapes, its loss against a hand computation, the label changes the decoder, checkpoints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vae_core.engine.checkpoint_info import FORMAT_NAME
from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
from vae_core.engine.config import TrainConfig, config_to_dict
from vae_core.engine.legacy import convert_old_checkpoint
from vae_core.engine.models import VAE, ConditionalVAE, build_model, current_state_keys
from vae_core.engine.models.bodies import MLPDecoder, MLPEncoder
from vae_core.engine.protocol import DataProtocol


@pytest.fixture
def cvae(tiny_config) -> ConditionalVAE:
    torch.manual_seed(0)
    return build_model(tiny_config(kind="cvae", latent_dim=2))


def test_shapes(cvae, digits_test):
    x, y = digits_test.images[:6], digits_test.labels[:6]
    mean, logvar = cvae.encode(x, y)
    assert mean.shape == logvar.shape == (6, 2)
    assert cvae.decode(mean, y).shape == x.shape
    assert cvae(x, y).x_params.shape == x.shape
    assert cvae.reconstruct(x, y).shape == x.shape
    assert cvae.sample_prior(4, y=torch.arange(4)).shape == (4, 1, 8, 8)
    assert cvae.transfer_style(x[:2], y[:2], torch.arange(10)).shape == (2, 10, 1, 8, 8)
    assert cvae.iw_log_weights(x, y, k=5).shape == (5, 6)
    assert cvae.config.is_variational and cvae.needs_labels and isinstance(cvae, VAE)


def test_labels_are_required_and_checked(cvae, digits_test):
    x = digits_test.images[:3]
    with pytest.raises(ValueError, match="labels"):
        cvae.loss(x)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        cvae.encode(x, torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match="labels shaped"):
        cvae.encode(x, torch.tensor([0, 1]))


def test_conv_body_is_refused(tiny_config):
    with pytest.raises(ValueError, match="MLP"):
        tiny_config(kind="cvae", arch="conv", hidden_dims=(4,))


def test_loss_matches_a_hand_computation(tiny_config, digits_test):
    # No hidden layers: q(z|x,y) and p(x|z,y) are single linear maps, written out here by hand.
    torch.manual_seed(1)
    model = build_model(tiny_config(kind="cvae", latent_dim=3, hidden_dims=()))
    x = torch.bernoulli(digits_test.images[:5], generator=torch.Generator().manual_seed(0))
    y = digits_test.labels[:5]
    onehot = torch.zeros(5, 10)
    onehot[torch.arange(5), y] = 1.0
    w_enc, b_enc = model.to_posterior.weight, model.to_posterior.bias
    w_dec, b_dec = model.decoder.net[0].weight, model.decoder.net[0].bias  # the decoder's one Linear
    with torch.no_grad():
        stats = torch.cat([x.reshape(5, 64), onehot], 1) @ w_enc.T + b_enc
        mean, logvar = stats[:, :3], stats[:, 3:]
        eps = torch.randn((1, 5, 3), generator=torch.Generator().manual_seed(7))[0]
        z = mean + torch.exp(0.5 * logvar) * eps
        logits = torch.cat([z, onehot], 1) @ w_dec.T + b_dec
        probs = torch.sigmoid(logits)
        recon = -(x.reshape(5, 64) * torch.log(probs) + (1 - x.reshape(5, 64)) * torch.log(1 - probs)).sum(1)
        kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar)
        terms = model.loss(x, y, beta=2.0, generator=torch.Generator().manual_seed(7))
    assert float(terms.recon) == pytest.approx(float(recon.mean()), rel=1e-5)
    torch.testing.assert_close(terms.kl_per_dim, kl.mean(0))
    assert float(terms.objective) == pytest.approx(float(recon.mean() + 2.0 * kl.sum(1).mean()), rel=1e-5)
    assert float(terms.neg_elbo) == pytest.approx(float(recon.mean() + kl.sum(1).mean()), rel=1e-5)


def test_the_label_changes_the_decoder_output(cvae):
    z = torch.zeros(10, 2)
    with torch.no_grad():
        images = cvae.decode(z, torch.arange(10))
    # The same z, ten labels: ten different images (pairwise).
    flat = images.flatten(1)
    distances = torch.cdist(flat, flat)
    assert (distances + torch.eye(10)).min() > 1e-4


def test_one_training_step_changes_the_weights(cvae, digits_test):
    x, y = digits_test.images[:16], digits_test.labels[:16]
    terms = cvae.loss(x, y)
    assert torch.isfinite(terms.objective)
    params = [p for p in cvae.parameters() if p.requires_grad]
    grads = torch.autograd.grad(terms.objective, params)
    assert len(grads) == len(params) and all(g.shape == p.shape for g, p in zip(grads, params, strict=True))
    # The label's one-hot column of the decoder's first layer gets a gradient: the label is really used.
    first = next(i for i, p in enumerate(params) if p is cvae.decoder.net[0].weight)
    assert grads[first][:, 2:].abs().sum() > 0
    # One Adam step changes every parameter.
    before = [p.detach().clone() for p in params]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, params, strict=True))


def test_save_load_round_trip(tmp_path, cvae, digits_test):
    path = save_checkpoint(tmp_path / "cvae.safetensors", cvae, TrainConfig(dataset="digits", epochs=1))
    loaded, info = load_checkpoint(path)
    assert isinstance(loaded, ConditionalVAE) and info.model_config == cvae.config
    for (name, a), (_, b) in zip(cvae.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    x, y = digits_test.images[:4], digits_test.labels[:4]
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed(x, y), cvae.embed(x, y))


def test_one_hot_matches_torch(cvae):
    labels = torch.tensor([3, 0, 9])
    torch.testing.assert_close(cvae.one_hot(labels, 3), F.one_hot(labels, 10).float())


def test_fit_and_evaluate_pass_the_labels(tiny_config, digits_train, digits_test):
    from vae_core.engine.evaluation import evaluate
    from vae_core.engine.training import fit

    config = tiny_config(kind="cvae")
    result = fit(
        config,
        TrainConfig(dataset="digits", epochs=2, batch_size=64, lr=3e-3, seed=0, dynamic_binarization=True),
        train_data=digits_train,
        test_data=digits_test,
    )
    assert len(result.history) == 2 and result.history[-1].test is not None
    assert result.history[-1].train.objective < result.history[0].train.objective
    report = evaluate(result.model, digits_test, iw_samples=5, protocol=DataProtocol.BINARIZED)
    assert report.neg_elbo == pytest.approx(report.recon + report.kl) and report.iw_nll is not None
    # The history's test terms are measured as evaluate measures them (same binarisation, same labels).
    assert report.kl == pytest.approx(result.history[-1].test.kl, rel=1e-4)
    with pytest.raises(ValueError, match="labels"):
        evaluate(result.model, digits_test.images)


def test_built_on_the_vae_and_the_shared_bodies(cvae, digits_test):
    assert isinstance(cvae, VAE)
    assert isinstance(cvae.encoder, MLPEncoder) and isinstance(cvae.decoder, MLPDecoder)
    # The bodies' first layers read the one-hot label beside the image and beside the code.
    config = cvae.config
    assert cvae.encoder.net[1].in_features == config.input_size + config.num_classes
    assert cvae.decoder.net[0].in_features == config.latent_dim + config.num_classes
    # Its posterior is the VAE's, computed from [x, onehot(y)] by hand through the same layers.
    x, y = digits_test.images[:3], digits_test.labels[:3]
    with torch.no_grad():
        hidden = cvae.encoder(torch.cat([x.flatten(1), F.one_hot(y, 10).float()], 1))
        mean, logvar = cvae.to_posterior(hidden).chunk(2, -1)
        encoding = cvae.encode(x, y)
    assert torch.equal(encoding.mean, mean) and torch.equal(encoding.logvar, logvar)


def old_layout(state: dict, hidden_layers: int) -> dict:
    """The state dict as the CVAE of before the shared bodies saved it (its own Linear + ReLU stacks)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[:2] == ["encoder", "net"]:
            key = f"encoder.{int(parts[2]) - 1}.{parts[3]}"  # no Flatten in front
        elif parts[:2] == ["decoder", "net"]:
            index = int(parts[2])
            key = f"to_pixels.{parts[3]}" if index == 2 * hidden_layers else f"decoder_body.{index}.{parts[3]}"
        out[key] = value
    return out


@pytest.mark.parametrize("hidden_dims", [(), (16,), (16, 12)], ids=["no hidden", "one hidden", "two hidden"])
def test_old_checkpoint_keys_map_to_today(tiny_config, digits_test, hidden_dims):
    config = tiny_config(kind="cvae", hidden_dims=hidden_dims)
    torch.manual_seed(3)
    model = build_model(config)
    old = old_layout(model.state_dict(), len(hidden_dims))
    assert "to_pixels.weight" in old and not any(k.startswith("decoder.") for k in old)
    assert current_state_keys(config, old).keys() == model.state_dict().keys()
    assert current_state_keys(config, model.state_dict()).keys() == model.state_dict().keys()  # today's pass as-is
    fresh = build_model(config)
    fresh.load_state_dict(current_state_keys(config, old), strict=True)
    x, y = digits_test.images[:4], digits_test.labels[:4]
    with torch.no_grad():
        assert torch.equal(fresh.reconstruct(x, y), model.reconstruct(x, y))


def test_an_old_checkpoint_in_the_old_layout_converts_and_loads(tmp_path, cvae, digits_test):
    # A .pt written before the CVAE shared the VAE's bodies: `convert` renames its keys (current_state_keys).
    path = tmp_path / "old-cvae.pt"
    torch.save(
        {
            "format": FORMAT_NAME,
            "format_version": 1,
            "model_config": config_to_dict(cvae.config),
            "train_config": config_to_dict(TrainConfig(dataset="digits", epochs=1)),
            "metadata": {"dataset": "digits", "seed": 0},
            "state_dict": old_layout(cvae.state_dict(), len(cvae.config.hidden_dims)),
        },
        path,
    )
    converted = convert_old_checkpoint(path)
    loaded, _ = load_checkpoint(converted.target)
    x, y = digits_test.images[:4], digits_test.labels[:4]
    with torch.no_grad():
        assert torch.equal(loaded.embed(x, y), cvae.embed(x, y))
