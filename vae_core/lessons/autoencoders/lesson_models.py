"""Which models the autoencoder lesson shows (its exhibits), and its default settings, in one place.

Nothing is trained when a page opens. Toy models are trained once from the ToyTrainSpecs below and shipped in
one file (toy_zoo.py); image models come from the zoo, for MNIST and for the 8x8 digits alike (each data set's
AE, DAE and CAE share the family's body, data and schedule, so that they compare).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vae_core.engine.checkpoint_info import SUFFIX
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.lessons.autoencoders.toy_models import ToyTrainSpec

# The autoencoder lesson's sparse pair: one wide sigmoid layer that the KL penalty acts on, twice as many
# units as the ~150 PCA components that hold 95% of MNIST's variance and ten times the 32-d code after it, so
# the penalty, not the width, decides how many units fire. The twin without penalty is the comparison.
WIDE_SPARSE_HIDDEN = (320,)
WIDE_SPARSE_LATENT = 32
WIDE_SPARSE_RHO = 0.05  # target average activation rho of each hidden unit
WIDE_SPARSE_WEIGHT = 1.0  # weight on sum_j KL(rho || rho_hat_j), in nats per image like the reconstruction
# On the 8x8 digits: 128 sigmoid units for 64 pixels (over-complete), a 16-d code after them.
DIGITS_WIDE_SPARSE_HIDDEN = (128,)
DIGITS_WIDE_SPARSE_LATENT = 16


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
    dataset: {
        "ae": f"{dataset}-ae-z2",
        "dae": f"{dataset}-dae-z2",
        "cae": f"{dataset}-cae-z2",
        "sparse": f"{dataset}-sae-wide-kl",
        "dense": f"{dataset}-sae-wide-nopenalty",
    }
    for dataset in ("mnist", "digits")
}
LESSON_DATASETS = tuple(ZOO_MODELS)


# MNIST settings of the pictures: test images used, noise levels of the denoising curves, perturbation size.
TEST_IMAGES = 1000  # the first N test images, for every curve and histogram
PCA_TRAIN_IMAGES = 10000  # PCA is fitted on the first N training images
GAUSSIAN_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)  # std of the added noise, pixels in [0, 1]
MASK_LEVELS = (0.0, 0.1, 0.25, 0.5, 0.75)  # fraction of pixels set to 0
PERTURBATION_NORM = 1.0  # ||x' - x|| of the random perturbations of the contraction section


def image_model(dataset: str, exhibit: str, checkpoint_dir: str | Path):
    """The lesson's model for an exhibit on a data set, from the zoo, in eval mode."""
    if dataset not in ZOO_MODELS:
        raise ValueError(f"the autoencoder lesson has models for {', '.join(LESSON_DATASETS)}; got {dataset!r}")
    model, _ = load_checkpoint(Path(checkpoint_dir) / f"{ZOO_MODELS[dataset][exhibit]}{SUFFIX}")
    return model.eval()
