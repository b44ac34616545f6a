"""What a model's numbers mean: the data protocol it was trained with, and the names its metrics may carry.

A Bernoulli decoder is a density of binary images. Trained and measured on binarised images (the standard
MNIST protocol: dynamic binarisation in training, one fixed seeded binarisation of the test set), its -ELBO is
an upper bound on -log p(x) and the IW estimate is an estimate of -log p(x). Fed grey-level pixels it is not a
density of anything: its "reconstruction" is a cross-entropy whose floor, the per-pixel binary entropy of the
image, no model can beat. A Gaussian decoder with a fixed sigma is a density of continuous pixel values; its
bound is in nats of a continuous density, not comparable with the discrete Bernoulli numbers.

`protocol_of(train_config, model_config)` says which case a model is; `MetricNames` gives the one label each
number may carry under it. No torch here, not even inside functions: the checkpoint lister reads these names
before torch has loaded; `vae_core.engine.data.measured_inputs` turns a split into what a model is measured on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vae_core.engine.config import ModelConfig, TrainConfig

EVAL_BINARIZATION_SEED = 0  # the fixed binarisation of a test set that binarised models are measured on
# Data sets whose pixels are 0 or 1 already (the sprites, vae_core.engine.sprites): a Bernoulli decoder is a density
# of them without any binarisation, and binarising them changes nothing.
BINARY_DATASETS = ("sprites",)


class DataProtocol(enum.Enum):
    """How a model sees its images, and so what its likelihood numbers are."""

    BINARIZED = "binarised"  # Bernoulli decoder on binarised images: numbers are (bounds on) -log p(x)
    GREY_BERNOULLI = "grey-bernoulli"  # Bernoulli decoder on grey levels: cross-entropies, not likelihoods
    GAUSSIAN = "gaussian"  # fixed-sigma Gaussian decoder on grey levels: a continuous density

    @property
    def is_likelihood(self) -> bool:
        """True when -ELBO bounds -log p(x) of a normalised density of what the model is fed."""
        return self is not DataProtocol.GREY_BERNOULLI

    @property
    def binarizes_inputs(self) -> bool:
        return self is DataProtocol.BINARIZED


def protocol_of(train_config: TrainConfig, model_config: ModelConfig) -> DataProtocol:
    """The protocol a model was trained with (read from its own configs, so any checkpoint can say it)."""
    if model_config.likelihood == "gaussian":
        return DataProtocol.GAUSSIAN
    binary = train_config.dynamic_binarization or train_config.dataset in BINARY_DATASETS
    return DataProtocol.BINARIZED if binary else DataProtocol.GREY_BERNOULLI


@dataclass(frozen=True)
class MetricNames:
    """The label each number may carry for a model; one place, so no page can call a cross-entropy -log p(x)."""

    recon: str  # the reconstruction term
    neg_elbo: str | None  # recon + KL; None for autoencoders (no ELBO)
    iw: str | None  # the importance-weighted estimate; None where it is not an estimate of -log p(x)
    caveat: str | None  # one sentence shown next to the numbers when they are not likelihoods


def metric_names(protocol: DataProtocol, variational: bool) -> MetricNames:
    """The names of a model's metrics under its protocol."""
    if protocol is DataProtocol.GREY_BERNOULLI:
        caveat = (
            "This model was trained on grey-level pixels with a Bernoulli decoder: its numbers are "
            "cross-entropies, not −log p(x), and no model can go below the images' per-pixel binary entropy."
        )
        return MetricNames(
            recon="reconstruction cross-entropy",
            neg_elbo="cross-entropy + KL" if variational else None,
            iw=None,
            caveat=caveat,
        )
    continuous = " (continuous density)" if protocol is DataProtocol.GAUSSIAN else ""
    if not variational:
        return MetricNames(recon=f"−log p(x | x̂){continuous}", neg_elbo=None, iw=None, caveat=None)
    return MetricNames(
        recon=f"reconstruction E_q[−log p(x|z)]{continuous}",
        neg_elbo=f"−ELBO, an upper bound on −log p(x){continuous}",
        iw=f"IW estimate of −log p(x){continuous}",
        caveat=None,
    )
