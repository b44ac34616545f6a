"""Data sets as in-memory tensors: MNIST and Fashion-MNIST from their IDX files, scikit-learn's digits, and the
images as a model is measured on them under its data protocol (vae_core.engine.protocol).

Where a split comes from (vae_core.engine.data_files): the data directory first (torchvision's layout, gzipped or
extracted), then, for the test splits, the copy shipped in the package. Loading never uses the network: the
training splits are fetched on request (data_files.fetch_split: the app's download button,
`python -m vae_core data fetch`). Nothing is read at import time; each split is loaded once per process.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from vae_core.engine.data_files import SOURCES, raw_folder, shipped_folder, source, split_in_folder
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, DataProtocol

if TYPE_CHECKING:
    import torch
    from torch import Tensor

# torch is imported inside the functions that need it: the app asks which data sets are here and what shape
# their images have before torch has loaded (see vae_core/__init__.py).

DATA_DIR_ENV = "VAE_DATA_DIR"
DEFAULT_DATA_DIR = "./data"
DATASET_NAMES = ("mnist", "fashion-mnist", "digits", "sprites")
# The sidebar's choice for every lesson. The sprites (vae_core.engine.sprites) are the disentanglement lesson's
# own: they have known generating factors but no model of any other lesson's zoo (no 2-D family, no β sweep, no
# conditional model, no anomaly pair), so on them those lessons would have nothing to show.
SIDEBAR_DATASETS = ("mnist", "fashion-mnist", "digits")
SPLITS = ("train", "test")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0

# name -> the shape (C, H, W) of its images, known without loading it (the app needs it before any data is read)
INPUT_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "digits": (1, 8, 8), "sprites": (1, 32, 32)}

# torchvision.datasets.FashionMNIST.classes (tests/engine/test_data.py checks they still agree)
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


class DatasetUnavailable(RuntimeError):
    """A split is not on this machine (a training split not fetched yet, or unreadable files)."""


@dataclass(frozen=True)
class ImageDataset:
    """One split in memory. Shared by every caller through the cache: treat the tensors as read-only."""

    name: str
    split: str
    images: Tensor  # (N, C, H, W) float32 in [0, 1]
    labels: Tensor  # (N,) int64
    class_names: tuple[str, ...]
    # (N, F) int64: each image's generating factors as indices into their values, for data sets drawn from known
    # factors (the sprites: vae_core.engine.sprites.FACTORS); None for the others
    factors: Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.images.shape[1:]
        return (channels, height, width)


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
    """True when both splits load without the network: digits always, MNIST and Fashion-MNIST once their training
    split is in the data directory (their test split always is, shipped in the package)."""
    return has_split(name, "train", root)


def has_split(name: str, split: str, root: str | Path | None = None) -> bool:
    """True when the split loads without the network: from the data directory, or (test) from the shipped copy."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if name in ("digits", "sprites"):  # bundled with scikit-learn; drawn in code
        return True
    folder = raw_folder(name, root if root is not None else data_dir())
    if split_in_folder(name, split, folder):
        return True
    return split == "test" and split_in_folder(name, split, shipped_folder(name))


def offered_datasets(root: str | Path | None = None) -> list[str]:
    """Data sets whose test split is here, which every page needs: all of them, the test splits being shipped."""
    return [name for name in DATASET_NAMES if has_split(name, "test", root)]


def training_split_missing_text(name: str, root: str | Path | None = None) -> str:
    """What to do when a data set's training split is not here (the app's download button says it too)."""
    src = source(name)
    folder = raw_folder(name, root if root is not None else data_dir())
    files = " and ".join(f.name for f in src.files("train"))
    return (
        f"{src.title}'s training images are not here ({src.download_mb('train')} MB to download). Run "
        f"`python -m vae_core data fetch {name}`, or copy {files} into {folder} (set {DATA_DIR_ENV} to change "
        "the data directory). Its test split ships with the app; the digits data set works fully offline."
    )


@dataclass(frozen=True)
class FitImages:
    """Images to fit a reference model to (PCA, an independent-pixel model), and where they come from, in words."""

    images: Tensor  # (N, C, H, W) in [0, 1]; shared with the cached split: read-only
    source: str  # e.g. "the first 10000 training images"


def fitting_images(name: str, limit: int | None = None, *, held_out: int, root: str | Path | None = None) -> FitImages:
    """Up to `limit` training images; without the training split (MNIST and Fashion-MNIST before a fetch) the test
    images after the first `held_out`, the ones a lesson measures: a page then works from the shipped test split
    alone, and says (source) what it fitted to."""
    if has_split(name, "train", root):
        images = load_dataset(name, "train", root).images[:limit]
        return FitImages(images, f"the first {len(images)} training images")
    test = load_dataset(name, "test", root).images
    if held_out >= len(test):
        raise ValueError(f"{name} has {len(test)} test images: none left after the first {held_out}")
    images = test[held_out:][:limit]
    return FitImages(
        images,
        f"test images {held_out + 1}–{held_out + len(images)} ({source(name).title}'s training images are not on "
        "this machine)",
    )


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Stochastic binarisation: each pixel becomes 1 with probability equal to its intensity."""
    import torch

    return torch.bernoulli(images, generator=generator)


def measured_inputs(images: Tensor, protocol: DataProtocol, seed: int = EVAL_BINARIZATION_SEED) -> Tensor:
    """The images as the model is measured on them: one fixed seeded binarisation for binarised models."""
    if not protocol.binarizes_inputs:
        return images
    import torch

    return binarize(images, torch.Generator().manual_seed(seed))


def binary_entropy_floor(images: Tensor) -> float:
    """Mean over images of sum_pixels H(pixel) in nats: the lowest Bernoulli cross-entropy any model can reach
    on these grey-level images (the cross-entropy of p against itself). Zero for binary images."""
    import torch

    p = images.double().clamp(0.0, 1.0)
    entropy = -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p))
    return float(entropy.flatten(1).sum(1).mean())


def binarization_spread(model_loss, images: Tensor, seeds: Sequence[int]) -> tuple[float, float]:
    """(mean, standard deviation) over several binarisations of a per-batch number `model_loss(binary_images)`.

    A binarised model's number for one grey image depends on which binarisation it is shown; the spread says by
    how much (shown next to the single-seed figure).
    """
    import torch

    values = [float(model_loss(binarize(images, torch.Generator().manual_seed(seed)))) for seed in seeds]
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
    return mean, math.sqrt(var)


@lru_cache(maxsize=8)
def _load_cached(name: str, split: str, root: str) -> ImageDataset:
    if name == "digits":
        return _load_digits(split)
    if name == "sprites":
        return _load_sprites(split)
    return _load_idx(name, split, Path(root))


def _load_digits(split: str) -> ImageDataset:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    indices = list(range(len(bunch.target)))
    train_idx, test_idx = train_test_split(
        indices, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=bunch.target
    )
    idx = torch.tensor(sorted(train_idx if split == "train" else test_idx))
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[idx].unsqueeze(1) / 16.0  # pixels are 0..16
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)[idx]
    return ImageDataset("digits", split, images, labels, tuple(str(d) for d in range(10)))


def _load_sprites(split: str) -> ImageDataset:
    """The sprites of a split, rendered (about a second for the whole grid); labels are the shape's index."""
    import torch

    from vae_core.engine import sprites

    rows = sprites.factor_grid()[sprites.split_indices(split)]
    images = torch.from_numpy(sprites.render(rows)).unsqueeze(1).to(torch.float32)
    factors = torch.from_numpy(rows)
    return ImageDataset("sprites", split, images, factors[:, 0].clone(), sprites.SHAPES, factors=factors)


def _load_idx(name: str, split: str, root: Path) -> ImageDataset:
    """The split from the data directory (extracted, else gzipped files), else, for the test split, the shipped copy."""
    import torch

    arrays = read_extracted_idx(raw_folder(name, root), split, name)
    if arrays is None:
        arrays = read_gzipped_idx(raw_folder(name, root), split, name)
    if arrays is None and split == "test":
        arrays = read_gzipped_idx(shipped_folder(name), split, name)
    if arrays is None:
        raise DatasetUnavailable(training_split_missing_text(name, root))
    pixels, labels = (torch.from_numpy(a) for a in arrays)
    images = pixels.unsqueeze(1).to(torch.float32) / 255.0
    class_names = tuple(str(d) for d in range(10)) if name == "mnist" else FASHION_MNIST_CLASSES
    return ImageDataset(name, split, images, labels.to(torch.int64), class_names)


def read_extracted_idx(raw: Path, split: str, name: str = "mnist"):
    """(pixels (N, 28, 28), labels (N,)) as uint8 arrays from the IDX files torchvision extracted into raw, or None.

    Anything unexpected (missing, malformed) returns None, and the gzipped files are tried next.
    """
    return _read_split(raw, split, name, gzipped=False)


def read_gzipped_idx(folder: Path, split: str, name: str = "mnist"):
    """The same from the *.gz files as the mirrors serve them (decompressed in memory; the folder is only read,
    so the shipped copy is never written to), or None."""
    return _read_split(folder, split, name, gzipped=True)


def _read_split(folder: Path, split: str, name: str, *, gzipped: bool):
    import gzip

    import numpy as np

    def read(file_name: str) -> bytes:
        path = folder / (file_name if gzipped else file_name.removesuffix(".gz"))
        return gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()

    try:
        images, labels = (_idx_array(read(f.name), f.name, np) for f in SOURCES[name].files(split))
    except (OSError, ValueError, EOFError):  # gzip.BadGzipFile is an OSError; a truncated one an EOFError
        return None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        return None
    return images, labels


def _idx_array(data: bytes, file_name: str, np):
    """An IDX file of unsigned bytes (LeCun's MNIST format: magic 0x0000 08 <ndim>, big-endian sizes, data)."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{file_name}: not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(f"{file_name}: {len(data) - offset} bytes of data for shape {shape}")
    return np.frombuffer(bytearray(data[offset:]), dtype=np.uint8).reshape(shape)
