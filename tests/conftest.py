"""Shared fixtures: the digits data set (8x8, offline) and tiny models, so the whole suite stays fast on 2 cores."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets.mnist

from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import ImageDataset, load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.protocol import protocol_of
from vae_core.engine.training import FitResult, fit, training_metadata

TINY_HIDDEN = (32, 16)
DIGITS_SHAPE = (1, 8, 8)


def pytest_configure(config: pytest.Config) -> None:
    # Tests use tiny tensors, where intra-op threads only add contention: on the shared 2-core machine one
    # thread ran a tiny training run about 5x faster than two.
    torch.set_num_threads(1)
    # No app server of the tests (AppTest's, or one a browser test starts) warms the anomaly scores in a child
    # process behind the test's back; tests/serving/test_anomaly_scores.py runs the warm-up itself.
    os.environ["VAE_WARM_SCORES"] = "0"


@pytest.fixture(scope="session")
def digits_train() -> ImageDataset:
    return load_dataset("digits", "train")


@pytest.fixture(scope="session")
def digits_test() -> ImageDataset:
    return load_dataset("digits", "test")


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., ModelConfig]:
    """Factory: a small model config for digits images; keyword arguments override any field."""

    def make(**overrides) -> ModelConfig:
        values = {"input_shape": DIGITS_SHAPE, "latent_dim": 2, "hidden_dims": TINY_HIDDEN}
        values.update(overrides)
        return ModelConfig(**values)

    return make


@pytest.fixture(scope="session")
def trained_vae(digits_train: ImageDataset, digits_test: ImageDataset) -> FitResult:
    """A tiny VAE (latent 4) trained 3 epochs on digits. Shared: do not train or modify it further.

    The Gaussian decoder (sigma 0.1) weighs reconstruction enough that most latent units stay active; with a
    Bernoulli decoder this small a model collapses to the prior within a few epochs.
    """
    model_config = ModelConfig(
        kind="vae",
        input_shape=DIGITS_SHAPE,
        latent_dim=4,
        hidden_dims=TINY_HIDDEN,
        likelihood="gaussian",
        gaussian_sigma=0.1,
    )
    train_config = TrainConfig(dataset="digits", epochs=3, batch_size=64, lr=3e-3, seed=0)
    return fit(model_config, train_config, train_data=digits_train, test_data=digits_test)


@pytest.fixture(scope="session")
def trained_ae(digits_train: ImageDataset, digits_test: ImageDataset) -> FitResult:
    """A tiny plain autoencoder (latent 2) trained 2 epochs on digits. Shared: do not modify it."""
    model_config = ModelConfig(kind="ae", input_shape=DIGITS_SHAPE, latent_dim=2, hidden_dims=TINY_HIDDEN)
    train_config = TrainConfig(dataset="digits", epochs=2, batch_size=64, lr=3e-3, seed=0)
    return fit(model_config, train_config, train_data=digits_train, test_data=digits_test)


# --- MNIST without the network ----------------------------------------------------------------------------------

MNIST_RAW_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """An uncompressed IDX file: big-endian magic, one big-endian size per dimension, then the uint8 bytes."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def write_fake_mnist(no_download) -> Callable[..., dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Factory: random 28x28 images and labels where torchvision looks (<root>/<folder>/raw, folder MNIST or
    FashionMNIST), uncompressed so torchvision reads them as they are. Returns {split: (pixels, labels)}.

    load_dataset caches by root, so give each call its own root (tmp_path does).
    """

    def write(
        root: Path, folder: str = "MNIST", sizes: dict[str, int] | None = None, seed: int = 0
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(seed)
        raw = Path(root) / folder / "raw"
        raw.mkdir(parents=True)
        written = {}
        for split, n in (sizes or {"train": 12, "test": 5}).items():
            pixels = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            pixels[0, 0, :2] = (0, 255)  # both ends of the range, so scaling is checkable
            labels = rng.integers(0, 10, size=n, dtype=np.uint8)
            image_name, label_name = MNIST_RAW_NAMES[split]
            write_idx(raw / image_name, pixels, 2051)
            write_idx(raw / label_name, labels, 2049)
            written[split] = (pixels, labels)
        return written

    return write


@pytest.fixture
def no_download(monkeypatch) -> None:
    """Make every torchvision MNIST download fail at once, as it does offline; files on disk still load."""

    def refuse(url, *args, **kwargs):
        raise URLError(f"network is unreachable (test refused {url})")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", refuse)


# --- a tiny checkpoint zoo (the registry, the sweeps and the app's pages use it) -----------------------------
# `tiny_zoo` (session) trains, in a few seconds:
# - digits-ae-z2.safetensors, digits-vae-z2.safetensors: role "family-2d", group "digits-family-2d"
# - digits-vae-z3-beta0.5.safetensors, -beta1.safetensors, -beta4.safetensors: role "beta-sweep",
#   group "digits-beta-sweep"
# - digits-vae-z4.safetensors: a VAE with a 4-D latent (PCA / t-SNE, slices, per-dimension sliders)


@dataclass(frozen=True)
class TinyZoo:
    folder: Path
    ae_2d: Path
    vae_2d: Path
    sweep: tuple[Path, ...]
    vae_4d: Path
    sweep_group: str = "digits-beta-sweep"
    family_group: str = "digits-family-2d"


def train_tiny_checkpoint(
    path: Path,
    *,
    kind: str = "vae",
    latent_dim: int = 2,
    beta: float = 1.0,
    role: str | None = None,
    group: str | None = None,
    epochs: int = 2,
    hidden_dims: tuple[int, ...] = (64,),
    seed: int = 0,
    binarized: bool = False,
) -> Path:
    """Train a small MLP on digits for a few epochs and save it like the zoo does (metrics, role, group).

    binarized: dynamic binarisation in training and a binarised test set for the metrics, the zoo's protocol."""
    train_data, test_data = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_config = ModelConfig(
        kind=kind, input_shape=train_data.input_shape, latent_dim=latent_dim, hidden_dims=hidden_dims, beta=beta
    )
    train_config = TrainConfig(
        dataset="digits",
        epochs=epochs,
        batch_size=128,
        lr=3e-3,
        seed=seed,
        eval_each_epoch=False,
        dynamic_binarization=binarized,
    )
    result = fit(model_config, train_config, train_data=train_data, test_data=test_data)
    metadata = training_metadata(result.seconds, len(train_data), len(test_data), len(result.history))
    if role:
        metadata.update(role=role, group=group)
    return save_checkpoint(
        path,
        result.model,
        train_config,
        history=[r.to_dict() for r in result.history],
        metrics=evaluate(result.model, test_data, protocol=protocol_of(train_config, model_config)).to_dict(),
        metadata=metadata,
    )


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> TinyZoo:
    folder = tmp_path_factory.mktemp("zoo")
    family = dict(role="family-2d", group="digits-family-2d")
    sweep = dict(role="beta-sweep", group="digits-beta-sweep", latent_dim=3)
    return TinyZoo(
        folder=folder,
        ae_2d=train_tiny_checkpoint(folder / "digits-ae-z2.safetensors", kind="ae", **family),
        vae_2d=train_tiny_checkpoint(folder / "digits-vae-z2.safetensors", kind="vae", **family),
        sweep=tuple(
            train_tiny_checkpoint(folder / f"digits-vae-z3-beta{b:g}.safetensors", beta=b, **sweep)
            for b in (0.5, 1.0, 4.0)
        ),
        vae_4d=train_tiny_checkpoint(folder / "digits-vae-z4.safetensors", latent_dim=4),
    )
