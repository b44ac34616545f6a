"""What the Train page's form asks for, turned into vae_core configs (no Streamlit here).

The defaults are chosen to train a useful model in seconds, like the zoo does: dynamically binarised images
(the standard MNIST protocol, so a VAE's -ELBO bounds -log p(x) of binary images) and a KL warm-up over the
first third of the epochs. Measured with the form's defaults (VAE, MLP 256-128, z = 2, β = 1, lr 1e-3, one
thread): on digits, 5 epochs without warm-up on grey pixels (the old default) collapsed to KL 0.007 nats and
0 of 2 active units; 30 epochs with a 10-epoch warm-up take about 4 s and keep both units active (KL about
1.5 nats, seeds 0-2). tests/serving/test_train_request.py trains the default and checks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.vocabulary import model_kind

# Body sizes offered in the form: MLP widths or conv channels (each conv halves the image).
HIDDEN_PRESETS: dict[str, dict[str, tuple[int, ...]]] = {
    "mlp": {"small": (128,), "medium": (256, 128), "large": (512, 256)},
    "conv": {"small": (16, 32), "medium": (32, 64), "large": (32, 64, 128)},
}
LATENT_SIZES = (1, 2, 3, 4, 8, 16, 32)
LEARNING_RATES = (3e-4, 1e-3, 3e-3)
# Epochs the form starts with: digits has 12 steps per epoch (1,437 images), MNIST 469; a few hundred steps
# of Adam at lr 1e-3 is what a 2-D VAE needs before its codes carry much.
DEFAULT_EPOCHS = {"digits": 30, "mnist": 5, "fashion-mnist": 5}
MAX_FORM_EPOCHS = 60


def default_epochs(dataset: str) -> int:
    return DEFAULT_EPOCHS.get(dataset, 5)


def default_kl_warmup(epochs: int) -> int:
    """KL warm-up epochs the form starts with: the first third of training (β/N in epoch 1, β from epoch N)."""
    return math.ceil(epochs / 3)


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """The form's values."""

    kind: str  # ae | dae | sae | cae | vae | cvae
    arch: str  # mlp | conv
    size: str  # a key of HIDDEN_PRESETS[arch]
    latent_dim: int
    beta: float  # used by VAEs only
    dataset: str
    epochs: int
    lr: float
    name: str  # the checkpoint's file name (sanitised when saved)
    kl_warmup_epochs: int | None = None  # VAE only; None: default_kl_warmup(epochs)


def default_name(kind: str, dataset: str, latent_dim: int, beta: float) -> str:
    """A file stem in the zoo's style, e.g. 'digits-vae-z2-beta4'."""
    return f"{dataset}-{kind}-z{latent_dim}" + (f"-beta{beta:g}" if model_kind(kind).variational and beta != 1 else "")


def build_configs(
    request: TrainRequest, input_shape: tuple[int, int, int], device: str = "cpu"
) -> tuple[ModelConfig, TrainConfig]:
    """Configs for a request. Raises ValueError (from the configs) for values they reject.

    Training in the app uses one torch thread on CPU so that other browser sessions stay responsive, and
    dynamically binarised images, like every zoo model.
    """
    hidden = HIDDEN_PRESETS[request.arch][request.size]
    variational = model_kind(request.kind).variational
    channels, height, width = (int(size) for size in input_shape)
    model_config = ModelConfig(
        kind=request.kind,
        arch=request.arch,
        input_shape=(channels, height, width),
        latent_dim=int(request.latent_dim),
        hidden_dims=hidden,
        beta=float(request.beta) if variational else 1.0,
    )
    warmup = default_kl_warmup(request.epochs) if request.kl_warmup_epochs is None else request.kl_warmup_epochs
    train_config = TrainConfig(
        dataset=request.dataset,
        epochs=int(request.epochs),
        lr=float(request.lr),
        kl_warmup_epochs=int(warmup) if variational else 0,
        dynamic_binarization=model_config.likelihood == "bernoulli",
        device=device,
        # One thread: the job runs in a child process of its own (vae_core.serving.jobs), and the other core
        # stays free for the sessions the server is answering meanwhile (an MNIST epoch took 5.6 s with one
        # thread, 4.8 s with two on a quiet 2-core machine: two threads buy little and take a core from them).
        num_threads=1 if device == "cpu" else 0,
    )
    return model_config, train_config
