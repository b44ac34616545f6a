"""Configuration dataclasses, stored inside every checkpoint so a checkpoint rebuilds its own model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

MODEL_KINDS = ("ae", "dae", "sae", "cae", "vae", "cvae")
VARIATIONAL_KINDS = ("vae", "cvae")
LABELLED_KINDS = ("cvae",)  # kinds whose encoder and decoder also take the class label
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
CORRUPTIONS = ("gaussian", "mask")
SPARSITY_PENALTIES = ("l1", "kl")


@dataclass
class ModelConfig:
    """Everything needed to build a model; nothing about how it is trained."""

    kind: str = "vae"  # registry name: ae | dae | sae | cae | vae | cvae
    arch: str = "mlp"  # body: mlp | conv
    input_shape: tuple[int, int, int] = (1, 28, 28)  # C, H, W of one image, pixels in [0, 1]
    latent_dim: int = 2
    hidden_dims: tuple[int, ...] = (512, 256)  # MLP widths, or conv channels (each conv halves H and W)
    likelihood: str = "bernoulli"  # decoder p(x|z): bernoulli (BCE from logits) | gaussian (fixed sigma)
    gaussian_sigma: float = 0.1  # fixed decoder std for the gaussian likelihood, in pixel units
    beta: float = 1.0  # weight on the KL term (beta-VAE); 1 gives the ELBO
    corruption: str = "gaussian"  # dae: gaussian noise (std = rate) | mask (zero a fraction = rate)
    corruption_rate: float = 0.3
    sparsity: str = "l1"  # sae: l1 on hidden activations | kl towards the target activation rho
    sparsity_weight: float = 1e-3
    sparsity_target: float = 0.05  # rho, for the kl penalty
    contractive_weight: float = 1e-2  # cae: lambda in lambda * ||dh/dx||_F^2
    num_classes: int = 10  # cvae: size of the one-hot label fed to its encoder and decoder

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        _check_choice("kind", self.kind, MODEL_KINDS)
        _check_choice("arch", self.arch, ARCHITECTURES)
        _check_choice("likelihood", self.likelihood, LIKELIHOODS)
        _check_choice("corruption", self.corruption, CORRUPTIONS)
        _check_choice("sparsity", self.sparsity, SPARSITY_PENALTIES)
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {self.input_shape}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if self.beta < 0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")
        if self.gaussian_sigma <= 0:
            raise ValueError(f"gaussian_sigma must be positive, got {self.gaussian_sigma}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {self.num_classes}")
        if not 0 < self.sparsity_target < 1:
            raise ValueError(f"sparsity_target must lie in (0, 1), got {self.sparsity_target}")

    @property
    def is_variational(self) -> bool:
        return self.kind in VARIATIONAL_KINDS

    @property
    def needs_labels(self) -> bool:
        """True when the model also takes each image's class label (fit and evaluate then pass `labels=`)."""
        return self.kind in LABELLED_KINDS

    @property
    def input_size(self) -> int:
        c, h, w = self.input_shape
        return c * h * w


@dataclass
class TrainConfig:
    """How a model is trained: data, optimiser, schedule, seed."""

    dataset: str = "digits"  # mnist | fashion-mnist | digits
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    seed: int = 0  # seeds init, shuffling, sampling and binarisation
    kl_warmup_epochs: int = 0  # beta ramps linearly up to its value over these epochs (beta/N in epoch 1)
    dynamic_binarization: bool = False  # resample x ~ Bernoulli(pixels) every batch (MNIST likelihoods)
    lr_decay: float = 1.0  # multiply lr by this after every epoch (1 keeps it constant)
    num_threads: int = 0  # torch intra-op threads during training; 0 leaves torch's default
    device: str = "cpu"
    eval_each_epoch: bool = True  # record test terms in the history after every epoch

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.kl_warmup_epochs < 0:
            raise ValueError(f"kl_warmup_epochs must be non-negative, got {self.kl_warmup_epochs}")


def config_to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """Plain dict (lists for tuples) that torch.load(weights_only=True) can read back."""
    out = asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def config_from_dict(cls: type, values: dict[str, Any]):
    """Rebuild a config, rejecting keys this version does not know (a foreign or newer file)."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**values)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
