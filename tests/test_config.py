"""vae_core.config: validation, normalisation and the dict round trip used by checkpoints."""

from __future__ import annotations

import pytest

from vae_core.config import (
    MODEL_KINDS, ModelConfig, TrainConfig, config_from_dict, config_to_dict,
)


def test_lists_are_normalised_to_int_tuples():
    cfg = ModelConfig(input_shape=[1, 8.0, 8], hidden_dims=[32, 16])
    assert cfg.input_shape == (1, 8, 8) and all(type(s) is int for s in cfg.input_shape)
    assert cfg.hidden_dims == (32, 16)


def test_derived_properties():
    cfg = ModelConfig(input_shape=(3, 13, 11), kind="vae")
    assert cfg.input_size == 3 * 13 * 11
    assert cfg.is_variational
    assert not any(ModelConfig(kind=k).is_variational for k in MODEL_KINDS if k not in ("vae", "cvae"))


@pytest.mark.parametrize("field, value, words", [
    ("kind", "gan", "kind must be one of"),
    ("arch", "transformer", "arch must be one of"),
    ("likelihood", "poisson", "likelihood must be one of"),
    ("corruption", "salt", "corruption must be one of"),
    ("sparsity", "l2", "sparsity must be one of"),
    ("input_shape", (28, 28), "input_shape"),
    ("input_shape", (1, 0, 28), "input_shape"),
    ("latent_dim", 0, "latent_dim"),
    ("beta", -0.1, "beta"),
    ("gaussian_sigma", 0.0, "gaussian_sigma"),
    ("sparsity_target", 1.0, "sparsity_target"),
    ("sparsity_target", 0.0, "sparsity_target"),
])
def test_model_config_rejects_bad_values(field, value, words):
    with pytest.raises(ValueError, match=words):
        ModelConfig(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("batch_size", 0), ("lr", 0.0), ("lr", -1e-3), ("kl_warmup_epochs", -1),
])
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_dict_round_trip_uses_plain_values():
    model_cfg = ModelConfig(kind="sae", arch="conv", input_shape=(1, 8, 8), hidden_dims=(8, 4), latent_dim=3)
    train_cfg = TrainConfig(dataset="mnist", epochs=3, seed=7, dynamic_binarization=True)
    as_dict = config_to_dict(model_cfg)
    # Lists, not tuples: only plain containers survive torch.load(weights_only=True) unchanged.
    assert as_dict["input_shape"] == [1, 8, 8] and isinstance(as_dict["hidden_dims"], list)
    assert config_from_dict(ModelConfig, as_dict) == model_cfg
    assert config_from_dict(TrainConfig, config_to_dict(train_cfg)) == train_cfg


def test_from_dict_rejects_unknown_fields_by_name():
    values = config_to_dict(ModelConfig())
    values["flux_capacitor"] = 1
    with pytest.raises(ValueError, match="flux_capacitor"):
        config_from_dict(ModelConfig, values)


def test_from_dict_validates_values():
    values = config_to_dict(ModelConfig())
    values["kind"] = "gan"
    with pytest.raises(ValueError, match="kind"):
        config_from_dict(ModelConfig, values)
