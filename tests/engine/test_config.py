"""vae_core.engine.config: validation, normalisation and the dict round trip used by checkpoints."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from vae_core.engine.config import (
    MODEL_KINDS,
    ModelConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    parameter_count_bound,
)


def test_lists_are_normalised_to_int_tuples():
    cfg = ModelConfig(input_shape=[1, 8.0, 8], hidden_dims=[32, 16])
    assert cfg.input_shape == (1, 8, 8) and all(type(s) is int for s in cfg.input_shape)
    assert cfg.hidden_dims == (32, 16)


def test_derived_properties():
    cfg = ModelConfig(input_shape=(3, 13, 11), kind="vae")
    assert cfg.input_size == 3 * 13 * 11
    assert cfg.is_variational
    assert not any(ModelConfig(kind=k).is_variational for k in MODEL_KINDS if k not in ("vae", "cvae", "tcvae"))


@pytest.mark.parametrize(
    "field, value, words",
    [
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
    ],
)
def test_model_config_rejects_bad_values(field, value, words):
    with pytest.raises(ValueError, match=words):
        ModelConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("lr", -1e-3),
        ("kl_warmup_epochs", -1),
    ],
)
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_dict_round_trip_uses_plain_values():
    model_cfg = ModelConfig(kind="sae", arch="conv", input_shape=(1, 8, 8), hidden_dims=(8, 4), latent_dim=3)
    train_cfg = TrainConfig(dataset="mnist", epochs=3, seed=7, dynamic_binarization=True)
    as_dict = config_to_dict(model_cfg)
    # Lists, not tuples: what a checkpoint's JSON document reads back.
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


# --- every field's type and range (vae_core/engine/limits.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("latent_dim", 2.5, "latent_dim must be a whole number"),
        ("latent_dim", math.nan, "latent_dim must be a whole number"),
        ("latent_dim", math.inf, "latent_dim must be a whole number"),
        ("latent_dim", 10**9, "latent_dim must lie between 1 and"),
        ("latent_dim", "2", "latent_dim must be a whole number"),
        ("latent_dim", True, "latent_dim must be a whole number"),
        ("hidden_dims", (-5,), "hidden_dims entries must lie between 1 and"),
        ("hidden_dims", (0,), "hidden_dims entries must lie between 1 and"),
        ("hidden_dims", (10**7,), "hidden_dims entries must lie between 1 and"),
        ("hidden_dims", (math.inf,), "hidden_dims entries must be a whole number"),
        ("hidden_dims", (4,) * 9, "hidden_dims may have at most 8 entries"),
        ("hidden_dims", "512", "hidden_dims must be a list"),
        ("hidden_dims", 512, "hidden_dims must be a list"),
        ("input_shape", (1, 10**5, 10**5), "input_shape height and width must lie between"),
        ("input_shape", (100, 28, 28), "input_shape channels must lie between"),
        ("input_shape", (1, 28, 28, 1), "input_shape may have at most 3 entries"),
        ("beta", math.nan, "beta must be a finite number"),
        ("beta", math.inf, "beta must be a finite number"),
        ("beta", "1", "beta must be a number"),
        ("gaussian_sigma", math.nan, "gaussian_sigma must be a finite number"),
        ("gaussian_sigma", -1.0, "gaussian_sigma must lie between"),
        ("corruption_rate", math.inf, "corruption_rate must be a finite number"),
        ("sparsity_weight", -1.0, "sparsity_weight must lie between"),
        ("contractive_weight", math.nan, "contractive_weight must be a finite number"),
        ("kind", ["vae"], "kind must be one of"),
        ("kind", None, "kind must be one of"),
    ],
)
def test_model_config_checks_types_and_ranges(field, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        ModelConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("lr", math.nan, "lr must be a finite number"),
        ("lr", math.inf, "lr must be a finite number"),
        ("lr", 1e10, "lr must lie between"),
        ("epochs", 10**9, "epochs must lie between 1 and"),
        ("epochs", 2.5, "epochs must be a whole number"),
        ("epochs", "10", "epochs must be a whole number"),
        ("batch_size", 10**9, "batch_size must lie between"),
        ("seed", -1, "seed must lie between"),
        ("num_threads", 10**6, "num_threads must lie between"),
        ("kl_warmup_epochs", 10**6, "kl_warmup_epochs must lie between"),
        ("lr_decay", 0.0, "lr_decay must lie in (0, 1]"),
        ("lr_decay", math.nan, "lr_decay must be a finite number"),
        ("dataset", 123, "dataset must be a short name"),
        ("dataset", "../../etc", "dataset must be a short name"),
        ("dynamic_binarization", "yes", "dynamic_binarization must be true or false"),
        ("eval_each_epoch", 1, "eval_each_epoch must be true or false"),
    ],
)
def test_train_config_checks_types_and_ranges(field, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        TrainConfig(**{field: value})


def test_a_model_beyond_the_parameter_limit_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match="parameters; the limit is"):
        ModelConfig(input_shape=(4, 256, 256), hidden_dims=(4096, 4096))


def test_numbers_are_normalised():
    cfg = ModelConfig(beta=4, latent_dim=np.int64(3), hidden_dims=[np.int32(8)])
    assert type(cfg.beta) is float and type(cfg.latent_dim) is int and type(cfg.hidden_dims[0]) is int


@pytest.mark.parametrize("arch, hidden", [("mlp", (32, 16)), ("mlp", ()), ("conv", (8, 4)), ("conv", (3,))])
def test_parameter_count_bound_is_exact_for_the_vae_and_an_upper_bound_otherwise(arch, hidden):
    from vae_core.engine.models import build_model

    for kind in MODEL_KINDS:
        if kind == "cvae" and arch != "mlp":
            continue  # MLP only (test_cvae.py)
        cfg = ModelConfig(kind=kind, arch=arch, input_shape=(1, 13, 11), hidden_dims=hidden, latent_dim=3)
        count = sum(v.numel() for v in build_model(cfg).state_dict().values())
        bound = parameter_count_bound(cfg)
        assert count == bound if kind == "vae" else count <= bound, (kind, count, bound)
