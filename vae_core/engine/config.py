"""Configuration dataclasses, stored inside every checkpoint so a checkpoint rebuilds its own model."""

from __future__ import annotations

import itertools
import math
import numbers
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, cast

from vae_core.engine import limits
from vae_core.engine.vocabulary import KINDS, ModelKind

MODEL_KINDS = tuple(KINDS)  # registry names; each kind's words, flags and default sizes: vocabulary.KINDS
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
CORRUPTIONS = ("gaussian", "mask")
SPARSITY_PENALTIES = ("l1", "kl")


@dataclass
class ModelConfig:
    """Everything needed to build a model; nothing about how it is trained."""

    kind: str = "vae"  # registry name: ae | dae | sae | cae | vae | cvae | tcvae
    arch: str = "mlp"  # body: mlp | conv
    input_shape: tuple[int, int, int] = (1, 28, 28)  # C, H, W of one image, pixels in [0, 1]
    latent_dim: int = 2
    # MLP widths, or conv channels (each conv halves H and W). Left out: the kind's default for the arch
    # (vocabulary.ModelKind.hidden_dims), set by __post_init__, so after construction it is always a tuple.
    hidden_dims: tuple[int, ...] = field(default=cast("tuple[int, ...]", None))
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
    # tcvae: N, the training split's size, in the minibatch-weighted-sampling estimate of log q(z) (losses.
    # mws_log_densities). It shifts the reported total correlation by a constant, (D - 1) log N, and leaves the
    # gradients alone; 0 takes the batch size (no split size known, as when the Train page builds one).
    tc_dataset_size: int = 0

    def __post_init__(self) -> None:
        # Every field is checked for type and range here, so a config from a file or a form either builds a
        # model of bounded size or raises ValueError naming the field (see vae_core/engine/limits.py for the bounds).
        _check_choice("kind", self.kind, MODEL_KINDS)
        _check_choice("arch", self.arch, ARCHITECTURES)
        _check_choice("likelihood", self.likelihood, LIKELIHOODS)
        _check_choice("corruption", self.corruption, CORRUPTIONS)
        _check_choice("sparsity", self.sparsity, SPARSITY_PENALTIES)
        if self.hidden_dims is None:
            self.hidden_dims = self.model_kind.default_hidden(self.arch)
        self.input_shape = _int_tuple("input_shape", self.input_shape, max_length=3)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {self.input_shape}")
        _check_int("input_shape channels", self.input_shape[0], 1, limits.MAX_INPUT_CHANNELS)
        for side in self.input_shape[1:]:
            _check_int("input_shape height and width", side, 1, limits.MAX_INPUT_SIDE)
        self.hidden_dims = _int_tuple("hidden_dims", self.hidden_dims, max_length=limits.MAX_HIDDEN_LAYERS)
        for width in self.hidden_dims:
            _check_int("hidden_dims entries", width, 1, limits.MAX_HIDDEN_WIDTH)
        self.latent_dim = _check_int("latent_dim", self.latent_dim, 1, limits.MAX_LATENT_DIM)
        self.beta = _check_float("beta", self.beta, 0.0, limits.MAX_BETA)
        self.gaussian_sigma = _check_float(
            "gaussian_sigma", self.gaussian_sigma, limits.MIN_GAUSSIAN_SIGMA, limits.MAX_GAUSSIAN_SIGMA
        )
        self.corruption_rate = _check_float("corruption_rate", self.corruption_rate, 0.0, limits.MAX_PENALTY_WEIGHT)
        self.sparsity_weight = _check_float("sparsity_weight", self.sparsity_weight, 0.0, limits.MAX_PENALTY_WEIGHT)
        self.sparsity_target = _check_float("sparsity_target", self.sparsity_target, 0.0, 1.0)
        self.num_classes = _check_int("num_classes", self.num_classes, 1, limits.MAX_CLASSES)
        self.tc_dataset_size = _check_int("tc_dataset_size", self.tc_dataset_size, 0, limits.MAX_DATASET_SIZE)
        if not 0 < self.sparsity_target < 1:
            raise ValueError(f"sparsity_target must lie in (0, 1), got {self.sparsity_target}")
        self.contractive_weight = _check_float(
            "contractive_weight", self.contractive_weight, 0.0, limits.MAX_PENALTY_WEIGHT
        )
        self.model_kind.default_hidden(self.arch)  # ValueError for a body the kind cannot have (a CVAE's conv)
        if self.arch == "conv" and not self.hidden_dims:
            raise ValueError("a conv body needs at least one entry in hidden_dims (its channel counts)")
        count = parameter_count_bound(self)
        if count > limits.MAX_PARAMETERS:
            raise ValueError(
                f"the model would have about {count:,} parameters; the limit is "
                f"{limits.MAX_PARAMETERS:,} (smaller hidden_dims, latent_dim or input_shape)"
            )

    @property
    def model_kind(self) -> ModelKind:
        """The kind's record: its label, flags and default sizes (vae_core.engine.vocabulary.KINDS)."""
        return KINDS[self.kind]

    @property
    def is_variational(self) -> bool:
        return self.model_kind.variational

    @property
    def needs_labels(self) -> bool:
        """True when the model also takes each image's class label: its loss, embed, ... then require their y."""
        return self.model_kind.takes_labels

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
        self.dataset = _check_name("dataset", self.dataset)
        self.epochs = _check_int("epochs", self.epochs, 1, limits.MAX_EPOCHS)
        self.batch_size = _check_int("batch_size", self.batch_size, 1, limits.MAX_BATCH_SIZE)
        self.lr = _check_float("lr", self.lr, 0.0, limits.MAX_LEARNING_RATE)
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        self.seed = _check_int("seed", self.seed, 0, 2**63 - 1)
        self.kl_warmup_epochs = _check_int("kl_warmup_epochs", self.kl_warmup_epochs, 0, limits.MAX_EPOCHS)
        self.dynamic_binarization = _check_bool("dynamic_binarization", self.dynamic_binarization)
        self.lr_decay = _check_float("lr_decay", self.lr_decay, 0.0, 1.0)
        if self.lr_decay <= 0:
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay}")
        self.num_threads = _check_int("num_threads", self.num_threads, 0, limits.MAX_THREADS)
        self.device = _check_name("device", self.device)
        self.eval_each_epoch = _check_bool("eval_each_epoch", self.eval_each_epoch)


def parameter_count_bound(config: ModelConfig) -> int:
    """An upper bound on the model's parameter count, from the config alone (nothing is allocated).

    Exact for the MLP and conv bodies; the code layer is counted as the VAE's (2 x latent_dim outputs), which
    bounds the autoencoders' (latent_dim outputs).
    """
    c, h, w = config.input_shape
    latent = config.latent_dim
    if config.arch == "mlp":
        widths = [config.input_size, *config.hidden_dims]
        body = 2 * sum(a * b for a, b in itertools.pairwise(widths)) + sum(config.hidden_dims)  # encoder + decoder
        body += sum(config.hidden_dims) + config.input_size  # the decoder's biases
        features = widths[-1]
        if config.needs_labels:  # the one-hot label is an extra input of the encoder's and the decoder's first layer
            body += config.num_classes * ((config.hidden_dims or (2 * latent,))[0] + widths[-1])
        return body + features * 2 * latent + 2 * latent + latent * features  # head, decoder's first layer
    channels = [c, *config.hidden_dims]
    body = sum(2 * 9 * a * b + a + b for a, b in itertools.pairwise(channels))  # convs and transposed convs
    for _ in config.hidden_dims:
        h, w = (h + 1) // 2, (w + 1) // 2
    features = channels[-1] * h * w
    return body + features * 2 * latent + 2 * latent + latent * features + features  # head, projection


def config_to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """Plain dict (lists for tuples), as a checkpoint's JSON document stores it."""
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
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    """value as an int in [low, high]; a whole float (8.0) is accepted, 2.5, NaN, inf and bools are not."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)):
        raise ValueError(f"{name} must be a whole number, got {_shown(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{name} must be a whole number, got {_shown(value)}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name} must lie between {low} and {high}, got {_shown(value)}")
    return number


def _check_float(name: str, value: Any, low: float, high: float) -> float:
    """value as a finite float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {_shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {_shown(value)}")
    if not low <= number <= high:
        raise ValueError(f"{name} must lie between {low:g} and {high:g}, got {_shown(value)}")
    return number


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {_shown(value)}")
    return value


def _check_name(name: str, value: Any) -> str:
    """A short identifier such as a data set or device name."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", value):
        raise ValueError(f"{name} must be a short name of letters, digits, '-', '_', '.' or ':', got {_shown(value)}")
    return value


def _int_tuple(name: str, value: Any, max_length: int) -> tuple:
    """A list or tuple of at most max_length entries, each then checked by the caller."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of whole numbers, got {_shown(value)}")
    if len(value) > max_length:
        raise ValueError(f"{name} may have at most {max_length} entries, got {len(value)}")
    return tuple(_check_int(f"{name} entries", v, -(2**63), 2**63) for v in value)


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (a file may hold a huge one)."""
    text = repr(value) if isinstance(value, (int, float, str, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
