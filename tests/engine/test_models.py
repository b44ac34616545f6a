"""vae_core.engine.models: the shared interface for every kind and body, and each family's objective checked by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, kl_divergence

from vae_core.engine.config import MODEL_KINDS, ModelConfig
from vae_core.engine.losses import iw_log_likelihood
from vae_core.engine.models import MODEL_REGISTRY, VAE, build_model
from vae_core.engine.models.autoencoders import kl_sparsity

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 13, 11)]
HIDDEN = (32, 16)
LATENT = 3
# Kinds whose interface takes images alone; the conditional VAE also takes labels (tests/engine/test_cvae.py).
UNLABELLED_KINDS = sorted(k for k in MODEL_KINDS if not ModelConfig(kind=k).needs_labels)


def make_model(seed: int = 0, **overrides) -> torch.nn.Module:
    values = {"input_shape": (1, 8, 8), "latent_dim": LATENT, "hidden_dims": HIDDEN}
    values.update(overrides)
    torch.manual_seed(seed)
    return build_model(ModelConfig(**values))


def images(shape, batch: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.rand((batch, *shape), generator=torch.Generator().manual_seed(seed))


def test_registry_holds_every_kind():
    assert set(MODEL_REGISTRY) == set(MODEL_KINDS)


def test_build_model_rejects_unknown_kind():
    config = ModelConfig()
    config.kind = "gan"  # bypasses the config's own check, as a hand-edited config would
    with pytest.raises(ValueError, match="no model registered as 'gan'"):
        build_model(config)


def test_conv_body_needs_channels():
    with pytest.raises(ValueError, match="hidden_dims"):
        build_model(ModelConfig(arch="conv", hidden_dims=()))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", UNLABELLED_KINDS)
def test_interface_shapes_ranges_and_gradients(kind, arch, shape):
    model = make_model(kind=kind, arch=arch, input_shape=shape)
    x = images(shape)
    batch = x.shape[0]

    encoding = model.encode(x)
    assert encoding.mean.shape == (batch, LATENT)
    if model.config.is_variational:
        assert encoding.logvar.shape == (batch, LATENT)
    else:
        assert encoding.logvar is None

    out = model(x)
    assert out.x_params.shape == x.shape
    assert out.z.shape == (batch, LATENT)

    decoded = model.decode(out.z)
    assert decoded.shape == x.shape
    assert decoded.min() >= 0 and decoded.max() <= 1

    assert torch.equal(model.embed(x), encoding.mean)
    assert model.reconstruct(x).shape == x.shape

    samples = model.sample_prior(5, generator=torch.Generator().manual_seed(3))
    assert samples.shape == (5, *shape)
    assert samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples, model.sample_prior(5, generator=torch.Generator().manual_seed(3)))

    terms = model.loss(x)
    for name in ("recon", "kl", "regularizer", "objective", "neg_elbo"):
        value = getattr(terms, name)
        assert value.shape == () and torch.isfinite(value), f"{name} = {value}"
    assert terms.kl_per_dim.shape == (LATENT,)
    terms.objective.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    missing = [name for name, g in grads.items() if g is None]
    assert not missing, f"no gradient reached {missing}"
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert sum(g.abs().sum() for g in grads.values()) > 0


@pytest.mark.parametrize("kind", UNLABELLED_KINDS)
def test_one_optimisation_step_changes_every_parameter(kind):
    model = make_model(kind=kind)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.loss(images((1, 8, 8), batch=16)).objective.backward()
    optimizer.step()
    unchanged = [k for k, v in model.state_dict().items() if torch.equal(v, before[k])]
    assert not unchanged, f"parameters not updated by one step: {unchanged}"


def test_gaussian_decoder_clamps_images():
    model = make_model(likelihood="gaussian")
    z = 50 * torch.randn(64, LATENT, generator=torch.Generator().manual_seed(0))
    params = model.decode_params(z)
    assert params.min() < 0 or params.max() > 1  # so the clamp is really exercised
    decoded = model.decode(z)
    assert decoded.min() >= 0 and decoded.max() <= 1
    assert torch.equal(decoded, params.clamp(0, 1))


def test_wrong_input_shape_is_named():
    model = make_model()
    with pytest.raises(ValueError, match=r"expected images shaped \(B, 1, 8, 8\)"):
        model.loss(torch.rand(2, 1, 28, 28))


# --- denoising autoencoder -------------------------------------------------------------------------------------


def capture_encoder_input(model) -> list[torch.Tensor]:
    """Record what the model's forward receives (the possibly corrupted input)."""
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


@pytest.mark.parametrize("corruption", ["gaussian", "mask"])
def test_dae_with_rate_zero_equals_ae_with_same_weights(corruption):
    ae = make_model(kind="ae")
    dae = make_model(kind="dae", corruption=corruption, corruption_rate=0.0, seed=5)
    dae.load_state_dict(ae.state_dict())
    x = images((1, 8, 8))
    ae.train(), dae.train()
    assert torch.allclose(dae.loss(x).objective, ae.loss(x).objective, atol=0, rtol=0)


def test_dae_corrupts_only_in_train_mode():
    dae = make_model(kind="dae", corruption="gaussian", corruption_rate=0.5)
    seen = capture_encoder_input(dae)
    x = images((1, 8, 8))
    dae.eval()
    dae.loss(x)
    assert torch.equal(seen[-1], x)
    dae.train()
    torch.manual_seed(0)
    dae.loss(x)
    assert not torch.equal(seen[-1], x)
    assert seen[-1].min() >= 0 and seen[-1].max() <= 1


def test_dae_gaussian_noise_has_the_configured_std():
    dae = make_model(kind="dae", corruption="gaussian", corruption_rate=0.1)
    captured = capture_encoder_input(dae)
    x = torch.full((64, 1, 8, 8), 0.5)  # 5 std from either bound, so clamping is negligible
    dae.train()
    torch.manual_seed(0)
    dae.loss(x)
    noise = captured[-1] - x
    assert abs(noise.mean().item()) < 0.01
    assert noise.std().item() == pytest.approx(0.1, rel=0.05)


def test_dae_mask_zeroes_the_configured_fraction():
    dae = make_model(kind="dae", corruption="mask", corruption_rate=0.3)
    captured = capture_encoder_input(dae)
    x = torch.full((64, 1, 8, 8), 0.7)
    dae.train()
    torch.manual_seed(0)
    dae.loss(x)
    zero_fraction = (captured[-1] == 0).float().mean().item()
    assert zero_fraction == pytest.approx(0.3, abs=0.03)
    kept = captured[-1][captured[-1] != 0]
    assert torch.all(kept == 0.7)


def test_dae_full_mask_feeds_zeros_but_targets_the_clean_image():
    dae = make_model(kind="dae", corruption="mask", corruption_rate=1.0)
    captured = capture_encoder_input(dae)
    x = images((1, 8, 8))
    dae.train()
    terms = dae.loss(x)
    assert torch.count_nonzero(captured[-1]) == 0
    with torch.no_grad():
        logits_from_zeros = dae(torch.zeros_like(x)).x_params
        clean_target = F.binary_cross_entropy_with_logits(logits_from_zeros, x, reduction="sum") / len(x)
        zero_target = F.binary_cross_entropy_with_logits(logits_from_zeros, torch.zeros_like(x), reduction="sum") / len(
            x
        )
    assert terms.recon.item() == pytest.approx(clean_target.item(), rel=1e-5)
    # The two targets differ by far more than the tolerance, so the check above tells them apart.
    assert abs(terms.recon.item() - zero_target.item()) > 100 * 1e-5 * clean_target.item()


# --- sparse autoencoder ----------------------------------------------------------------------------------------


def mlp_hidden_by_hand(model, x: torch.Tensor, last_activation) -> torch.Tensor:
    """The encoder's last hidden layer recomputed from its Linear weights."""
    linears = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    h = x.flatten(1)
    for i, layer in enumerate(linears):
        h = h @ layer.weight.T + layer.bias
        h = last_activation(h) if i == len(linears) - 1 else torch.relu(h)
    return h


def test_sae_l1_penalty_matches_hand_computation():
    weight = 0.37
    model = make_model(kind="sae", sparsity="l1", sparsity_weight=weight)
    x = images((1, 8, 8), batch=8)
    model.eval()
    terms = model.loss(x)
    h = mlp_hidden_by_hand(model, x, torch.relu)
    expected = weight * sum(h[i].abs().sum() for i in range(len(x))) / len(x)
    assert terms.regularizer.item() == pytest.approx(expected.item(), rel=1e-5)
    assert terms.regularizer.item() > 0
    assert terms.objective.item() == pytest.approx((terms.recon + terms.regularizer).item(), rel=1e-6)


def test_sae_kl_penalty_matches_bernoulli_kl():
    weight, rho = 0.5, 0.05
    model = make_model(kind="sae", sparsity="kl", sparsity_weight=weight, sparsity_target=rho)
    x = images((1, 8, 8), batch=8)
    model.eval()
    terms = model.loss(x)
    h = mlp_hidden_by_hand(model, x, torch.sigmoid)
    rho_hat = h.mean(0)
    expected = weight * kl_divergence(Bernoulli(probs=torch.full_like(rho_hat, rho)), Bernoulli(probs=rho_hat)).sum()
    assert terms.regularizer.item() == pytest.approx(expected.item(), rel=1e-4)
    assert terms.regularizer.item() > 0


def test_sae_kl_penalty_is_zero_at_the_target_rate():
    rho = 0.2
    model = make_model(kind="sae", sparsity="kl", sparsity_target=rho, sparsity_weight=1.0)
    last = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # every unit outputs sigmoid(logit(rho)) = rho whatever the input
        last.weight.zero_()
        last.bias.fill_(math.log(rho / (1 - rho)))
    model.eval()
    assert abs(model.loss(images((1, 8, 8))).regularizer.item()) < 1e-5


def test_kl_sparsity_function_against_closed_form():
    acts = torch.rand(20, 6, generator=torch.Generator().manual_seed(0))
    rho = 0.1
    rho_hat = acts.mean(0)
    by_hand = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    assert kl_sparsity(acts, rho).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert kl_sparsity(torch.full((5, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-6)


# --- contractive autoencoder -----------------------------------------------------------------------------------


def jacobian_penalty_by_autograd(model, x: torch.Tensor, weight: float) -> float:
    """weight * mean_i ||d code / d x_i||_F^2 with one full Jacobian per image."""
    total = 0.0
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v.unsqueeze(0)).mean[0], xi)
        assert jac.shape == (model.config.latent_dim, *xi.shape)
        total += jac.pow(2).sum().item()
    return weight * total / len(x)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_cae_penalty_equals_frobenius_norm_of_jacobian(arch):
    weight = 0.8
    model = make_model(kind="cae", arch=arch, contractive_weight=weight)
    x = images((1, 8, 8), batch=3)
    expected = jacobian_penalty_by_autograd(model, x, weight)
    model.train()
    assert model.loss(x).regularizer.item() == pytest.approx(expected, rel=1e-4)
    model.eval()
    with torch.no_grad():
        terms = model.loss(x)
    assert terms.regularizer.item() == pytest.approx(expected, rel=1e-4)
    assert torch.isfinite(terms.objective)


def test_cae_penalty_trains_the_encoder():
    model = make_model(kind="cae", contractive_weight=1.0)
    model.train()
    model.loss(images((1, 8, 8))).regularizer.backward()
    first_layer = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    assert first_layer.weight.grad is not None and first_layer.weight.grad.abs().sum() > 0


# --- VAE ------------------------------------------------------------------------------------------------------


def test_vae_sample_latent_has_posterior_moments():
    model: VAE = make_model(kind="vae")
    mean = torch.tensor([[1.0, -2.0, 0.5]])
    logvar = torch.tensor([[0.0, math.log(4.0), math.log(0.25)]])
    z = model.sample_latent((mean, logvar), n_samples=20000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (20000, 1, 3)
    assert torch.allclose(z.mean(0), mean, atol=0.05)
    assert torch.allclose(z.std(0), (0.5 * logvar).exp(), rtol=0.03)


def test_vae_sampling_methods_shapes_and_seeding():
    model: VAE = make_model(kind="vae")
    x = images((1, 8, 8), batch=2)
    posterior = model.sample_posterior(x, 5, generator=torch.Generator().manual_seed(0))
    assert posterior.shape == (5, 2, 1, 8, 8)
    assert posterior.min() >= 0 and posterior.max() <= 1
    log_weights = model.iw_log_weights(x, k=7, generator=torch.Generator().manual_seed(0))
    assert log_weights.shape == (7, 2) and torch.isfinite(log_weights).all()
    assert iw_log_likelihood(log_weights).shape == (2,)
    a = model.loss(x, n_samples=3, generator=torch.Generator().manual_seed(4)).objective
    b = model.loss(x, n_samples=3, generator=torch.Generator().manual_seed(4)).objective
    assert torch.equal(a, b)


def test_vae_beta_weights_only_the_kl():
    model = make_model(kind="vae", beta=4.0)
    x = images((1, 8, 8))
    t = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert t.beta == 4.0
    assert t.objective.item() == pytest.approx((t.recon + 4.0 * t.kl).item(), rel=1e-6)
    t2 = model.loss(x, beta=0.5, generator=torch.Generator().manual_seed(0))
    assert t2.beta == 0.5 and torch.equal(t2.recon, t.recon)
    assert t2.objective.item() == pytest.approx((t.recon + 0.5 * t.kl).item(), rel=1e-6)


# --- the one interface, every family alike -----------------------------------------------------------------------

FAMILY_OPTIONS = {"sae": {"sparsity": "kl"}, "dae": {"corruption": "mask", "corruption_rate": 0.3}}


def family(kind: str, **overrides) -> torch.nn.Module:
    return make_model(kind=kind, **{**FAMILY_OPTIONS.get(kind, {}), **overrides})


def labels(batch: int, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 10, (batch,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_per_image_terms_average_to_the_batch_terms(kind, training):
    # Same seed, both reductions: the same draws (q(z|x) samples, the DAE's corruption in training), so the per-image
    # terms' batch mean is the reduced term, up to float rounding (the reduced path sums the batch in one go).
    model = family(kind, **({"sparsity": "l1"} if kind == "sae" and training else {}))
    model.train(training)
    x, y = images((1, 8, 8), batch=6), labels(6)
    options = {"beta": 0.7, "n_samples": 3}
    mean = model.loss(x, y, generator=torch.Generator().manual_seed(9), **options)
    per_image = model.loss(x, y, generator=torch.Generator().manual_seed(9), reduction="none", **options)
    for name in ("recon", "kl", "regularizer", "objective", "neg_elbo"):
        value = getattr(per_image, name)
        assert value.shape == (6,), name
        torch.testing.assert_close(value.mean(), getattr(mean, name), rtol=1e-5, atol=1e-5, msg=name)
    assert per_image.kl_per_dim.shape == (6, LATENT)
    torch.testing.assert_close(per_image.kl_per_dim.mean(0), mean.kl_per_dim, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(per_image.kl_per_dim.sum(1), per_image.kl)
    draws = per_image.recon_draws
    assert draws is not None and mean.recon_draws is None
    assert draws.shape == ((3, 6) if model.config.is_variational else (1, 6))
    assert torch.equal(draws.mean(0), per_image.recon)
    # beta is the weight on the KL: the β-TCVAE's is 1, its β weighs the total correlation (losses.tcvae_terms)
    expected_beta = 1.0 if kind == "tcvae" else 0.7 if model.config.is_variational else 0.0
    assert per_image.beta == expected_beta


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_family_takes_the_same_call(kind):
    model = family(kind)
    x, y = images((1, 8, 8), batch=4), labels(4)
    # Labels in, whatever the family: the conditional VAE uses them, the others ignore them.
    terms = model.loss(x, y, beta=1.0, n_samples=2, generator=torch.Generator().manual_seed(0))
    assert terms.objective.shape == () and torch.isfinite(terms.objective)
    assert model.embed(x, y).shape == (4, LATENT) and model.reconstruct(x, y).shape == x.shape
    assert model.sample_prior(4, generator=torch.Generator().manual_seed(1), y=y).shape == (4, 1, 8, 8)
    if not model.needs_labels:  # the labels change nothing for a family that takes none
        model.eval()
        assert torch.equal(model.embed(x, y), model.embed(x))
        with torch.no_grad():
            with_y = model.loss(x, y, generator=torch.Generator().manual_seed(3))
            without = model.loss(x, generator=torch.Generator().manual_seed(3))
        assert torch.equal(with_y.objective, without.objective)
    with pytest.raises(TypeError):
        model.loss(x, y, 1.0)  # everything after the labels is keyword-only
    with pytest.raises(ValueError, match="reduction must be one of mean, none"):
        model.loss(x, y, reduction="sum")
    if model.config.is_variational:
        log_weights = model.iw_log_weights(x, y, k=5, generator=torch.Generator().manual_seed(0))
        assert log_weights.shape == (5, 4) and torch.isfinite(log_weights).all()
    else:
        with pytest.raises(NotImplementedError, match="no likelihood estimate"):
            model.iw_log_weights(x, y, k=5)


def test_dae_corruption_follows_the_generator():
    dae = family("dae")
    seen = capture_encoder_input(dae)
    x = images((1, 8, 8), batch=8)
    dae.train()
    for seed in (4, 4, 5):
        dae.loss(x, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[0], seen[2])


def test_sae_kl_penalty_per_image_repeats_the_batch_penalty():
    # The KL sparsity penalty compares the batch's mean activation with rho: one number, shared by every image.
    model = family("sae").eval()
    x = images((1, 8, 8), batch=5)
    per_image = model.loss(x, reduction="none").regularizer
    assert torch.equal(per_image, model.loss(x).regularizer.expand(5))
