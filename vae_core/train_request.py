"""What the Train page's form asks for, turned into vae_core configs (no Streamlit here)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import VARIATIONAL_KINDS, ModelConfig, TrainConfig

# Body sizes offered in the form: MLP widths or conv channels (each conv halves the image).
HIDDEN_PRESETS: dict[str, dict[str, tuple[int, ...]]] = {
    "mlp": {"small": (128,), "medium": (256, 128), "large": (512, 256)},
    "conv": {"small": (16, 32), "medium": (32, 64), "large": (32, 64, 128)},
}
LATENT_SIZES = (1, 2, 3, 4, 8, 16, 32)
LEARNING_RATES = (3e-4, 1e-3, 3e-3)


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


def default_name(kind: str, dataset: str, latent_dim: int, beta: float) -> str:
    """A file stem in the zoo's style, e.g. 'digits-vae-z2-beta4'."""
    return f"{dataset}-{kind}-z{latent_dim}" + (f"-beta{beta:g}" if kind in VARIATIONAL_KINDS and beta != 1 else "")


def build_configs(request: TrainRequest, input_shape: tuple[int, int, int],
                  device: str = "cpu") -> tuple[ModelConfig, TrainConfig]:
    """Configs for a request. Raises ValueError (from the configs) for values they reject.

    Training in the app uses one torch thread on CPU so that other browser sessions stay responsive.
    """
    hidden = HIDDEN_PRESETS[request.arch][request.size]
    model_config = ModelConfig(kind=request.kind, arch=request.arch, input_shape=tuple(input_shape),
                               latent_dim=int(request.latent_dim), hidden_dims=hidden,
                               beta=float(request.beta) if request.kind in VARIATIONAL_KINDS else 1.0)
    train_config = TrainConfig(dataset=request.dataset, epochs=int(request.epochs), lr=float(request.lr),
                               device=device, num_threads=1 if device == "cpu" else 0)
    return model_config, train_config
