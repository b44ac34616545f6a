"""Data sets as in-memory tensors: MNIST and Fashion-MNIST via torchvision, scikit-learn's digits offline, and
the images as a model is measured on them under its data protocol (vae_core.engine.protocol).

Nothing is read or downloaded at import time; each split is loaded once per process and then cached.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

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

# name -> (torchvision class name, folder under the data directory)
_TORCHVISION = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("FashionMNIST", "FashionMNIST")}
_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_SPLIT_FILES = {"train": _RAW_FILES[:2], "test": _RAW_FILES[2:]}  # (images, labels)
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
    """A data set could be neither found on disk nor downloaded."""


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
    """True when the data set can be loaded without the network."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if name in ("digits", "sprites"):  # bundled with scikit-learn; drawn in code
        return True
    folder = Path(root if root is not None else data_dir()) / _TORCHVISION[name][1] / "raw"
    return all((folder / f).exists() or (folder / f"{f}.gz").exists() for f in _RAW_FILES)


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
    return _load_torchvision(name, split, Path(root))


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


def _load_torchvision(name: str, split: str, root: Path) -> ImageDataset:
    import torch

    raw = root / _TORCHVISION[name][1] / "raw"
    extracted = read_extracted_idx(raw, split)
    if extracted is not None:
        pixels, labels = (torch.from_numpy(a) for a in extracted)
    else:
        pixels, labels = _through_torchvision(name, split, root)
    images = pixels.unsqueeze(1).to(torch.float32) / 255.0
    class_names = tuple(str(d) for d in range(10)) if name == "mnist" else FASHION_MNIST_CLASSES
    return ImageDataset(name, split, images, labels.to(torch.int64), class_names)


def read_extracted_idx(raw: Path, split: str):
    """(pixels (N, 28, 28), labels (N,)) as uint8 arrays from the IDX files torchvision extracted into raw, or None.

    Once torchvision has fetched, checked and extracted a data set, its files are read here directly: importing
    torchvision.datasets alone took 2.7 s of the app's first lesson page on a 2-core machine, reading the files
    50 ms. Anything unexpected (missing, compressed only, malformed) returns None and torchvision takes over.
    """
    import numpy as np

    try:
        images, labels = (_idx_array(raw / f, np) for f in _SPLIT_FILES[split])
    except (OSError, ValueError):
        return None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        return None
    return images, labels


def _idx_array(path: Path, np):
    """An IDX file of unsigned bytes (LeCun's MNIST format: magic 0x0000 08 <ndim>, big-endian sizes, data)."""
    data = path.read_bytes()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path.name}: not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(f"{path.name}: {len(data) - offset} bytes of data for shape {shape}")
    return np.frombuffer(bytearray(data[offset:]), dtype=np.uint8).reshape(shape)


def _through_torchvision(name: str, split: str, root: Path):
    """(pixels, labels) tensors via torchvision: it checks the files' md5, extracts them, downloads if needed."""
    import torchvision.datasets

    class_name, folder = _TORCHVISION[name]
    dataset_class = getattr(torchvision.datasets, class_name)
    try:
        try:
            # Files already extracted: read them, with no download check and nothing printed.
            ds = dataset_class(str(root), train=split == "train", download=False)
        except RuntimeError:
            # download=True first checks the md5 of files already in <root>/<folder>/raw and only extracts them;
            # the network is used only when they are missing. torchvision's progress prints are kept quiet;
            # redirecting sys.stdout is process-wide, so it is done only here, the first time a data set is read.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                ds = dataset_class(str(root), train=split == "train", download=True)
    except Exception as err:  # offline, a mirror down, a corrupt file: all mean "not available here"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetUnavailable(
            f"{name} is not available: no usable files in {root / folder / 'raw'} and the download failed "
            f"({reason}). Copy the four *-ubyte.gz files into that folder (set {DATA_DIR_ENV} to change the "
            f"data directory), or use the digits data set, which works offline."
        ) from err
    return ds.data, ds.targets
