"""The Train page's form values become valid vae_core configs."""

import pytest

from vae_core.train_request import HIDDEN_PRESETS, TrainRequest, build_configs, default_name


def request(**changes) -> TrainRequest:
    values = dict(kind="vae", arch="mlp", size="small", latent_dim=2, beta=4.0, dataset="digits", epochs=3,
                  lr=1e-3, name="x")
    values.update(changes)
    return TrainRequest(**values)


def test_build_configs_maps_every_field():
    model_config, train_config = build_configs(request(), (1, 8, 8))
    assert (model_config.kind, model_config.arch, model_config.latent_dim, model_config.beta) == ("vae", "mlp", 2, 4.0)
    assert model_config.hidden_dims == HIDDEN_PRESETS["mlp"]["small"]
    assert model_config.input_shape == (1, 8, 8)
    assert (train_config.dataset, train_config.epochs, train_config.lr) == ("digits", 3, 1e-3)
    assert train_config.num_threads == 1 and train_config.device == "cpu"


def test_beta_is_ignored_for_autoencoders_and_gpu_keeps_default_threads():
    model_config, train_config = build_configs(request(kind="ae", arch="conv"), (1, 28, 28), device="cuda")
    assert model_config.beta == 1.0 and model_config.hidden_dims == HIDDEN_PRESETS["conv"]["small"]
    assert train_config.num_threads == 0 and train_config.device == "cuda"


def test_invalid_values_raise_value_error():
    with pytest.raises(ValueError):
        build_configs(request(beta=-1.0), (1, 8, 8))
    with pytest.raises(ValueError):
        build_configs(request(epochs=0), (1, 8, 8))


def test_default_name_follows_the_zoo_style():
    assert default_name("vae", "digits", 2, 1.0) == "digits-vae-z2"
    assert default_name("vae", "mnist", 8, 4.0) == "mnist-vae-z8-beta4"
    assert default_name("ae", "mnist", 2, 4.0) == "mnist-ae-z2"
