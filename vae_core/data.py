"""Data sets as in-memory tensors: MNIST and Fashion-MNIST via torchvision, scikit-learn's digits offline.

Nothing is read or downloaded at import time; each split is loaded once per process and then cached.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

DATA_DIR_ENV = "VAE_DATA_DIR"
DEFAULT_DATA_DIR = "./data"
DATASET_NAMES = ("mnist", "fashion-mnist", "digits")
SPLITS = ("train", "test")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0

# name -> the shape (C, H, W) of its images, known without loading it (the app needs it before any data is read)
INPUT_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "digits": (1, 8, 8)}

# name -> (torchvision class name, folder under the data directory)
_TORCHVISION = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("FashionMNIST", "FashionMNIST")}
_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DatasetUnavailable(RuntimeError):
    """A data set could be neither found on disk nor downloaded."""


@dataclass(frozen=True)
class ImageDataset:
    """One split in memory. Shared by every caller through the cache: treat the tensors as read-only."""

    name: str
    split: str
    images: Tensor  # (N, C, H, W) float32 in [0, 1]
    labels: Tensor  # (N,) int64
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def data_dir() -> Path:
    """The data directory: $VAE_DATA_DIR, or ./data (gitignored)."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR))


def load_dataset(name: str, split: str = "train", root: str | Path | None = None) -> ImageDataset:
    """Load a whole split into memory (cached per process). Raises DatasetUnavailable with what to do."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose train or test")
    return _load_cached(name, split, str(Path(root) if root is not None else data_dir()))


def is_available(name: str, root: str | Path | None = None) -> bool:
    """True when the data set can be loaded without the network."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if name == "digits":
        return True
    folder = Path(root if root is not None else data_dir()) / _TORCHVISION[name][1] / "raw"
    return all((folder / f).exists() or (folder / f"{f}.gz").exists() for f in _RAW_FILES)


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Stochastic binarisation: each pixel becomes 1 with probability equal to its intensity."""
    return torch.bernoulli(images, generator=generator)


@lru_cache(maxsize=8)
def _load_cached(name: str, split: str, root: str) -> ImageDataset:
    if name == "digits":
        return _load_digits(split)
    return _load_torchvision(name, split, Path(root))


def _load_digits(split: str) -> ImageDataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    indices = list(range(len(bunch.target)))
    train_idx, test_idx = train_test_split(indices, test_size=DIGITS_TEST_FRACTION,
                                           random_state=DIGITS_SPLIT_SEED, stratify=bunch.target)
    idx = torch.tensor(sorted(train_idx if split == "train" else test_idx))
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[idx].unsqueeze(1) / 16.0  # pixels are 0..16
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)[idx]
    return ImageDataset("digits", split, images, labels, tuple(str(d) for d in range(10)))


def _load_torchvision(name: str, split: str, root: Path) -> ImageDataset:
    import torchvision.datasets

    class_name, folder = _TORCHVISION[name]
    try:
        # download=True first checks the md5 of files already in <root>/<folder>/raw and only extracts them;
        # the network is used only when they are missing. torchvision's progress prints are kept quiet.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ds = getattr(torchvision.datasets, class_name)(str(root), train=split == "train", download=True)
    except Exception as err:  # offline, a mirror down, a corrupt file: all mean "not available here"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetUnavailable(
            f"{name} is not available: no usable files in {root / folder / 'raw'} and the download failed "
            f"({reason}). Copy the four *-ubyte.gz files into that folder (set {DATA_DIR_ENV} to change the "
            f"data directory), or use the digits data set, which works offline."
        ) from err
    images = ds.data.unsqueeze(1).to(torch.float32) / 255.0
    class_names = tuple(str(d) for d in range(10)) if name == "mnist" else tuple(ds.classes)
    return ImageDataset(name, split, images, ds.targets.to(torch.int64), class_names)
