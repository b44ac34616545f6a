"""vae_core.lessons.autoencoders.toy_zoo: the shipped toy bundle holds every toy model the pages offer, is what
the seeded trainer makes, and a damaged file is refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vae_core.lessons.autoencoders import toy_zoo
from vae_core.lessons.autoencoders.lesson_models import TOY_SPECS
from vae_core.lessons.autoencoders.toy_data import MANIFOLD_DIMS, make_toy_manifold
from vae_core.lessons.autoencoders.toy_models import squared_error, train_toy_autoencoder

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / toy_zoo.TOY_BUNDLE_FILE


@pytest.fixture(scope="module")
def bundle() -> toy_zoo.ToyBundle:
    return toy_zoo.load_toy_bundle(SHIPPED)


def test_the_bundle_has_every_model_a_slider_offers(bundle):
    offered = [(toy_zoo.toy_data(m), spec) for m in MANIFOLD_DIMS for spec in toy_zoo.pca_specs(m)]
    for manifold in toy_zoo.DAE_MANIFOLDS:
        data = toy_zoo.toy_data(manifold)
        offered += [(data, toy_zoo.dae_spec(noise)) for noise in toy_zoo.DAE_NOISES]
        offered += [(data, TOY_SPECS["plain-2d"])] + [(data, toy_zoo.cae_spec(w)) for w in toy_zoo.CAE_WEIGHTS]
    for settings, spec in offered:
        fit = bundle.fit(settings, spec)
        assert not fit.model.training and fit.spec == spec
    assert len(bundle.fits) == len(offered)
    assert TOY_SPECS["dae"].noise in toy_zoo.DAE_NOISES and TOY_SPECS["cae"].contractive_weight in toy_zoo.CAE_WEIGHTS
    with pytest.raises(toy_zoo.ToyBundleError, match="no shipped toy model"):
        bundle.fit(toy_zoo.toy_data("curve"), toy_zoo.dae_spec(0.123))


def test_a_shipped_model_is_the_one_the_seeded_trainer_makes(bundle):
    """Retrain the cheapest shipped model (the linear AE on the curve) and compare its weights and loss."""
    settings, spec = toy_zoo.toy_data("curve"), toy_zoo.pca_specs("curve")[0]
    points = make_toy_manifold(settings.manifold, settings.n_points, settings.noise, settings.seed).points
    fresh = train_toy_autoencoder(points, spec)
    shipped = bundle.fit(settings, spec)
    for name, value in fresh.model.state_dict().items():
        assert torch.allclose(shipped.model.state_dict()[name], value, atol=1e-4), name
    with torch.no_grad():
        error = squared_error(points, shipped.model.reconstruct(points)).mean().item()
    assert shipped.final_loss == pytest.approx(fresh.final_loss, rel=1e-4)
    assert error == pytest.approx(shipped.final_loss, rel=1e-2)  # the loss before the last step


def test_a_damaged_or_missing_bundle_is_refused_with_its_name(tmp_path):
    data = bytearray(SHIPPED.read_bytes())
    data[-3] ^= 0xFF  # one weight byte
    damaged = tmp_path / "autoencoder-toys.safetensors"
    damaged.write_bytes(bytes(data))
    with pytest.raises(toy_zoo.ToyBundleError, match=r"autoencoder-toys\.safetensors is damaged .*checksum"):
        toy_zoo.load_toy_bundle(damaged)
    with pytest.raises(toy_zoo.ToyBundleError, match="python -m vae_core zoo --only autoencoder-toys"):
        toy_zoo.load_toy_bundle(tmp_path / "missing.safetensors")


def test_the_bundle_is_small_and_outside_the_checkpoint_listing():
    from vae_core.engine.checkpoint_info import list_checkpoints

    assert SHIPPED.stat().st_size < 1_200_000  # bytes: the autoencoder lesson's share of the zoo budget
    scan = list_checkpoints(SHIPPED.parents[1])
    assert all(SHIPPED.name not in str(path) for path, _ in scan.problems)
