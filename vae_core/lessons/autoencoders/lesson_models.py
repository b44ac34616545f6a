"""Which models the autoencoder lesson shows (its exhibits), and its default settings, in one place.

Toy models are trained on demand from the ToyTrainSpecs below (seconds each). Image models come from the
zoo for MNIST; offline, on the 8x8 digits, the zoo has no denoising, contractive or sparse model, so every
exhibit is trained on demand with vae_core's fit() from the configs below (seconds each, the same kinds and
penalties, all trained alike so that they compare).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from vae_core.engine.checkpoint_info import SUFFIX
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import INPUT_SHAPES
from vae_core.lessons.autoencoders.toy_models import ToyTrainSpec

# The autoencoder lesson's sparse pair: one wide sigmoid layer that the KL penalty acts on, twice as many
# units as the ~150 PCA components that hold 95% of MNIST's variance and ten times the 32-d code after it, so
# the penalty, not the width, decides how many units fire. The twin without penalty is the comparison.
WIDE_SPARSE_HIDDEN = (320,)
WIDE_SPARSE_LATENT = 32
WIDE_SPARSE_RHO = 0.05  # target average activation rho of each hidden unit
WIDE_SPARSE_WEIGHT = 1.0  # weight on sum_j KL(rho || rho_hat_j), in nats per image like the reconstruction


@dataclass(frozen=True)
class ToySettings:
    """The toy data set the lesson starts with."""

    manifold: str = "curve"
    n_points: int = 500
    noise: float = 0.05
    seed: int = 0


# Exhibit -> the toy model trained for it. The 1-D codes compare with PCA's best line; the denoising and
# contractive models get a 2-D code, as wide as the input, so that the bottleneck does not do their work.
TOY_SPECS: dict[str, ToyTrainSpec] = {
    "linear": ToyTrainSpec(kind="linear", code_dim=1, steps=1500),
    "nonlinear": ToyTrainSpec(kind="ae", code_dim=1, steps=1500),
    "dae": ToyTrainSpec(kind="dae", code_dim=2, noise=0.2, steps=1000),
    "plain-2d": ToyTrainSpec(kind="ae", code_dim=2, steps=1000),
    "cae": ToyTrainSpec(kind="cae", code_dim=2, contractive_weight=3.0, steps=1000),
}

# Image exhibits: the plain AE, the denoising and contractive AEs with the same body, and the wide sparse pair.
IMAGE_EXHIBITS = ("ae", "dae", "cae", "sparse", "dense")
ZOO_MODELS: dict[str, dict[str, str]] = {
    "mnist": {
        "ae": "mnist-ae-z2",
        "dae": "mnist-dae-z2",
        "cae": "mnist-cae-z2",
        "sparse": "mnist-sae-wide-kl",
        "dense": "mnist-sae-wide-nopenalty",
    },
}
LESSON_DATASETS = ("mnist", "digits")
DIGITS_EPOCHS = 60  # 12 steps per epoch: a few seconds per model on one core


def digits_configs(exhibit: str) -> tuple[ModelConfig, TrainConfig]:
    """The configs of a digits model the lesson trains on demand (no such file ships in the zoo)."""
    shape = INPUT_SHAPES["digits"]
    base = ModelConfig(kind="ae", input_shape=shape, latent_dim=2, hidden_dims=(128, 64))
    models = {
        "ae": base,
        "dae": replace(base, kind="dae"),
        "cae": replace(base, kind="cae"),
        # The wide sparse pair: 128 sigmoid units for 64 pixels (over-complete), a 16-d code after them.
        "sparse": ModelConfig(
            kind="sae",
            input_shape=shape,
            latent_dim=16,
            hidden_dims=(128,),
            sparsity="kl",
            sparsity_target=WIDE_SPARSE_RHO,
            sparsity_weight=WIDE_SPARSE_WEIGHT,
        ),
    }
    models["dense"] = replace(models["sparse"], sparsity_weight=0.0)
    if exhibit not in models:
        raise ValueError(f"no digits lesson model for exhibit {exhibit!r}; known: {', '.join(models)}")
    train = TrainConfig(
        dataset="digits", epochs=DIGITS_EPOCHS, batch_size=128, lr=3e-3, seed=0, num_threads=1, eval_each_epoch=False
    )
    return models[exhibit], train


# MNIST settings of the pictures: test images used, noise levels of the denoising curves, perturbation size.
TEST_IMAGES = 1000  # the first N test images, for every curve and histogram
PCA_TRAIN_IMAGES = 10000  # PCA is fitted on the first N training images
GAUSSIAN_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)  # std of the added noise, pixels in [0, 1]
MASK_LEVELS = (0.0, 0.1, 0.25, 0.5, 0.75)  # fraction of pixels set to 0
PERTURBATION_NORM = 1.0  # ||x' - x|| of the random perturbations of the contraction section


def image_model(
    dataset: str, exhibit: str, checkpoint_dir: str | Path, progress: Callable[[float], None] | None = None
):
    """The lesson's model for an exhibit on a data set: the zoo file for MNIST, trained now for digits.

    progress(fraction done) is called during an on-demand training. Returns the model in eval mode.
    """
    if dataset in ZOO_MODELS:
        model, _ = load_checkpoint(Path(checkpoint_dir) / f"{ZOO_MODELS[dataset][exhibit]}{SUFFIX}")
        return model.eval()
    if dataset != "digits":
        raise ValueError(f"the autoencoder lesson has models for {', '.join(LESSON_DATASETS)}; got {dataset!r}")
    from vae_core.engine.training import TrainingCallback, fit  # training code only when a model is trained

    class Report(TrainingCallback):
        def on_step(self, step) -> None:
            if progress is not None:
                progress(step.global_step / step.total_steps)

    model_config, train_config = digits_configs(exhibit)
    return fit(model_config, train_config, Report()).model.eval()
