"""Where MNIST's and Fashion-MNIST's files are, and fetching the ones that are not here.

The test splits ship inside the package (shipped_data/, read-only: nothing is ever written there), so every page
works on a machine with nothing downloaded. The training splits are fetched on demand into the data directory
($VAE_DATA_DIR/<folder>/raw, torchvision's layout) from torchvision's mirrors, or from those named in
$VAE_DATA_MIRRORS. A fetched file is written under a temporary name, checked against torchvision's md5 and only
then renamed into place: an interrupted or corrupt download leaves nothing behind.

No torch here (the sidebar asks what is available before torch has loaded), and no Streamlit: the app's
download button and `python -m vae_core data fetch` both call fetch_split.
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vae_core.engine import limits
from vae_core.engine.atomic_files import remove_stale_temp_files

MIRRORS_ENV = "VAE_DATA_MIRRORS"  # base URLs, separated by spaces or commas, tried in order
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped_data"
_CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class RawFile:
    """One gzipped IDX file as torchvision lists it (torchvision.datasets.MNIST.resources)."""

    name: str
    md5: str
    size: int  # bytes, as served by the mirrors


@dataclass(frozen=True)
class Source:
    """A data set's files: the folder under the data directory, the mirrors, and each split's (images, labels)."""

    title: str  # as a sentence names it
    folder: str  # <data dir>/<folder>/raw, and shipped_data/<folder>
    mirrors: tuple[str, ...]
    splits: dict[str, tuple[RawFile, RawFile]]

    def files(self, split: str) -> tuple[RawFile, RawFile]:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; choose train or test")
        return self.splits[split]

    def download_mb(self, split: str) -> int:
        """The split's download size in whole megabytes (10**6 bytes, as a download size is usually quoted)."""
        return max(1, round(sum(f.size for f in self.files(split)) / 1e6))


# torchvision.datasets.MNIST / FashionMNIST .mirrors and .resources (tests/engine/test_data_files.py checks they
# still agree), with the sizes of the files they serve.
SOURCES = {
    "mnist": Source(
        title="MNIST",
        folder="MNIST",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        splits={
            "train": (
                RawFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
                RawFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881),
            ),
            "test": (
                RawFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877),
                RawFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542),
            ),
        },
    ),
    "fashion-mnist": Source(
        title="Fashion-MNIST",
        folder="FashionMNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        splits={
            "train": (
                RawFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
                RawFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29515),
            ),
            "test": (
                RawFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4422102),
                RawFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5148),
            ),
        },
    ),
}


class FetchFailed(RuntimeError):
    """No mirror gave a file with the right md5; nothing was written. The message says what to do instead."""


def source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"{name!r} has no files to fetch; choose one of {', '.join(SOURCES)}")
    return SOURCES[name]


def raw_folder(name: str, root: str | Path) -> Path:
    """<root>/<folder>/raw: where torchvision keeps a data set's files, and where fetch_split writes them."""
    return Path(root) / source(name).folder / "raw"


def shipped_folder(name: str) -> Path:
    """The package's read-only copy of the data set's test split."""
    return SHIPPED_DIR / source(name).folder


def mirrors(name: str) -> tuple[str, ...]:
    """The base URLs tried in order: $VAE_DATA_MIRRORS when set (each base holds the files by name), else
    torchvision's mirrors for the data set."""
    configured = os.environ.get(MIRRORS_ENV, "").replace(",", " ").split()
    return tuple(configured) if configured else source(name).mirrors


def split_in_folder(name: str, split: str, folder: Path) -> bool:
    """True when both files of the split are in folder, gzipped or already extracted (by torchvision)."""
    return all(
        (folder / f.name).is_file() or (folder / f.name.removesuffix(".gz")).is_file()
        for f in source(name).files(split)
    )


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes in all) across the split's files


def fetch_split(
    name: str,
    split: str,
    root: str | Path,
    *,
    mirror_urls: tuple[str, ...] | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Download the split's two files into raw_folder(name, root), each md5-checked before it is renamed into
    place; files already there with the right md5 are kept. Returns the paths. Raises FetchFailed.

    Each mirror is tried in turn for each file; a file that no mirror serves intact leaves nothing behind.
    """
    files = source(name).files(split)
    folder = raw_folder(name, root)
    bases = mirror_urls if mirror_urls is not None else mirrors(name)
    total = sum(f.size for f in files)
    done = 0
    paths = []
    for raw in files:
        path = folder / raw.name
        if not (path.is_file() and md5_of(path) == raw.md5):
            _fetch_file(name, split, raw, path, bases, functools.partial(_report, progress, done, total))
        done += raw.size
        if progress is not None:
            progress(done, total)
        paths.append(path)
    return paths


def _report(progress: ProgressCallback | None, before: int, total: int, received: int) -> None:
    if progress is not None:
        progress(before + received, total)


def _fetch_file(
    name: str, split: str, raw: RawFile, path: Path, bases: tuple[str, ...], progress: Callable[[int], object]
) -> None:
    reasons = []
    for base in bases:
        url = base.rstrip("/") + "/" + raw.name
        try:
            _download_checked(url, raw, path, progress)
            return
        except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors; a bad md5 or size ValueError
            reasons.append(f"{url}: {_reason(err)}")
    src = source(name)
    offline = all(_looks_offline(reason) for reason in reasons)
    raise FetchFailed(
        f"Could not download {src.title}'s {split} images ({raw.name}): "
        + ("this machine seems to be offline. " if offline else "")
        + "; ".join(reasons)
        + f". Nothing was written. Copy {' and '.join(f.name for f in src.files(split))} into {path.parent} "
        f"instead, or name a mirror you can reach in ${MIRRORS_ENV}."
    )


def _download_checked(url: str, raw: RawFile, path: Path, progress: Callable[[int], object]) -> None:
    """url -> a temp file beside path, its size bounded and its md5 checked, then renamed onto path."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("only http:// and https:// mirrors are used")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    # Named like vae_core.engine.atomic_files' temp files, so one left by a killed process is cleaned up like them.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}-{os.getpid()}.tmp")
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=limits.DATA_FETCH_TIMEOUT_S) as response, open(tmp, "xb") as out:
            while chunk := response.read(_CHUNK_BYTES):
                received += len(chunk)
                if received > raw.size:  # bounded: a mirror cannot fill the disk
                    raise ValueError(f"more than the expected {raw.size} bytes")
                digest.update(chunk)
                out.write(chunk)
                progress(received)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != raw.md5:
            raise ValueError(f"md5 mismatch ({received} bytes, md5 {digest.hexdigest()}, expected {raw.md5})")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


_OFFLINE_SIGNS = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "network is unreachable",
    "no route to host",
    "timed out",
    "connection refused",
    "getaddrinfo failed",
)


def _looks_offline(reason: str) -> bool:
    return any(sign in reason.lower() for sign in _OFFLINE_SIGNS)
