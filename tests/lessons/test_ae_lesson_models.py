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
    image_model,
)
from vae_core.zoo.specs import zoo_specs

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.mark.parametrize("dataset", ["mnist", "digits"])
def test_every_exhibit_is_a_zoo_model_of_the_right_kind(dataset):
    specs = {spec.name: spec for spec in zoo_specs()}
    kinds = {"ae": "ae", "dae": "dae", "cae": "cae", "sparse": "sae", "dense": "sae"}
    for exhibit in IMAGE_EXHIBITS:
        spec = specs[ZOO_MODELS[dataset][exhibit]]
        assert spec.model.kind == kinds[exhibit] and spec.train.dataset == dataset
    sparse, dense = specs[ZOO_MODELS[dataset]["sparse"]], specs[ZOO_MODELS[dataset]["dense"]]
    assert sparse.model.sparsity == dense.model.sparsity == "kl"  # the same sigmoid layer in both
    assert sparse.model.sparsity_weight > 0 and dense.model.sparsity_weight == 0
    pixels = sparse.model.input_size
    assert sparse.model.hidden_dims[-1] > pixels / 3 and sparse.model.hidden_dims[-1] >= 8 * sparse.model.latent_dim
    # the AE, DAE and CAE of a data set share body, data and schedule, so that they compare
    trio = [specs[ZOO_MODELS[dataset][exhibit]] for exhibit in ("ae", "dae", "cae")]
    assert len({(s.model.hidden_dims, s.model.latent_dim, s.train.epochs, s.train.lr) for s in trio}) == 1


def test_every_digits_exhibit_ships_and_loads_without_training(monkeypatch):
    import vae_core.engine.training as training

    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("the lesson trained a model"))
    for exhibit in IMAGE_EXHIBITS:
        model = image_model("digits", exhibit, CHECKPOINTS)
        assert not model.training and model.config.input_shape == (1, 8, 8)
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
