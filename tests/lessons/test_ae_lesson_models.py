"""vae_core.lessons.autoencoders.lesson_models: the lesson's models exist, are what they say, and show
the effects it teaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from vae_core.engine.data import is_available, load_dataset
from vae_core.engine.vocabulary import UNIT_ON_ACTIVATION
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.lesson_models import (
    IMAGE_EXHIBITS,
    TEST_IMAGES,
    WIDE_SPARSE_RHO,
    ZOO_MODELS,
    digits_configs,
    image_model,
)
from vae_core.zoo.specs import zoo_specs

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def test_every_mnist_exhibit_is_a_zoo_model_of_the_right_kind():
    specs = {spec.name: spec for spec in zoo_specs()}
    kinds = {"ae": "ae", "dae": "dae", "cae": "cae", "sparse": "sae", "dense": "sae"}
    for exhibit in IMAGE_EXHIBITS:
        spec = specs[ZOO_MODELS["mnist"][exhibit]]
        assert spec.model.kind == kinds[exhibit]
    sparse, dense = specs[ZOO_MODELS["mnist"]["sparse"]], specs[ZOO_MODELS["mnist"]["dense"]]
    assert sparse.model.sparsity == dense.model.sparsity == "kl"  # the same sigmoid layer in both
    assert sparse.model.sparsity_weight > 0 and dense.model.sparsity_weight == 0
    assert sparse.model.hidden_dims[-1] > 784 / 3 and sparse.model.hidden_dims[-1] >= 10 * sparse.model.latent_dim


def test_digits_configs_mirror_the_mnist_exhibits():
    sparse, _ = digits_configs("sparse")
    dense, train = digits_configs("dense")
    assert sparse.hidden_dims[-1] > 64 and sparse.sparsity_target == WIDE_SPARSE_RHO  # over-complete
    assert dense.sparsity_weight == 0 and train.dataset == "digits"
    assert {digits_configs(exhibit)[0].kind for exhibit in ("ae", "dae", "cae")} == {"ae", "dae", "cae"}
    with pytest.raises(ValueError, match="no digits lesson model"):
        digits_configs("vae")


def test_a_digits_model_trains_on_demand_with_progress():
    seen = []
    model = image_model("digits", "ae", CHECKPOINTS, progress=seen.append)
    assert not model.training and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(ValueError, match="has models for"):
        image_model("fashion-mnist", "ae", CHECKPOINTS)


@pytest.mark.skipif(not is_available("mnist"), reason="MNIST is not in the data directory")
def test_the_shipped_wide_sparse_pair_shows_sparsity():
    test = load_dataset("mnist", "test").images[:TEST_IMAGES]
    fractions, rho_hats = {}, {}
    for exhibit in ("sparse", "dense"):
        model = image_model("mnist", exhibit, CHECKPOINTS)
        fractions[exhibit] = L.fraction_on(L.hidden_activations(model, test), UNIT_ON_ACTIVATION).mean().item()
        rho_hats[exhibit] = L.mean_activations(model, test).mean().item()
    assert fractions["sparse"] < 0.5 * fractions["dense"]
    assert rho_hats["sparse"] == pytest.approx(WIDE_SPARSE_RHO, rel=0.5)  # the penalty met its target
    assert rho_hats["dense"] > 3 * WIDE_SPARSE_RHO
