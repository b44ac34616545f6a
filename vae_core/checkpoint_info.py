"""What a checkpoint says about itself (configs and metadata), read without torch and without its weights.

A checkpoint is torch's zip format: the payload's structure is a pickle (`<archive>/data.pkl`) and each
tensor's bytes are a separate record. Listing a folder only needs the pickle. Reading it with
torch.load(weights_only=True) means importing torch (seconds) and torch's pure-Python safe unpickler (~12 ms
per file); the app's first page lists the models before torch has loaded, so the pickle is read here with
the standard library's C unpickler, restricted to exactly what save_checkpoint writes:

- plain values (dicts, lists, strings, numbers, booleans, None), built without calling anything;
- collections.OrderedDict, and torch's tensor records, which become a TensorRecord (shape only; the
  storage bytes are never read).

Any other global in the pickle, even a harmless one, sends the file to torch.load(weights_only=True) in
checkpoints.py, which accepts or refuses it with torch's own rules: this reader only ever accepts files
torch would accept, and it never calls anything a file names.
"""

from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .config import ModelConfig, TrainConfig, config_from_dict
from .results import EvaluationReport

FORMAT_NAME = "vae-latent-explorer"
FORMAT_VERSION = 1
SUFFIX = ".pt"
MAX_PICKLE_BYTES = 32 * 2 ** 20  # our pickles hold configs and a per-epoch history: tens of kilobytes


class CheckpointError(RuntimeError):
    """A file is not a checkpoint this version can load; the message says why."""


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself, without building its model."""

    path: Path
    model_config: ModelConfig
    train_config: TrainConfig
    metadata: dict[str, Any]  # dataset, seed, history, metrics, created_at, versions, ...

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def checkpoint_id(self) -> str:
        """Changes whenever the file is rewritten: a safe cache key."""
        stat = self.path.stat()
        return f"{self.path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}"

    @property
    def metrics(self) -> EvaluationReport | None:
        """The recorded test-set evaluation, or None when there is none or it is not one this version reads."""
        try:
            return EvaluationReport.from_dict(self.metadata.get("metrics"))
        except (ValueError, TypeError, OverflowError):
            return None


class CheckpointScan(NamedTuple):
    infos: list[CheckpointInfo]  # the loadable ones, sorted by name
    problems: list[tuple[Path, str]]  # (file, why it was skipped)


class TensorRecord(NamedTuple):
    """Stands in for a tensor when only the metadata is read: its shape, not its values."""

    shape: tuple[int, ...]


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read and validate a checkpoint's configs and metadata (never its weights; torch only if needed)."""
    path = Path(path)
    check_is_zip(path)
    try:
        payload = _payload_without_torch(path)
    except _NeedsTorch:
        from .checkpoints import read_payload_with_torch  # imports torch: the rare, unusual file

        payload = read_payload_with_torch(path, mmap=True)
    return info_from_payload(path, checked_payload(path, payload))


def list_checkpoints(folder: str | Path) -> CheckpointScan:
    """Metadata of every *.pt in folder (not recursive); unreadable files are reported, not raised."""
    folder = Path(folder)
    infos, problems = [], []
    if folder.is_dir():
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            try:
                infos.append(read_checkpoint_info(path))
            except CheckpointError as err:
                problems.append((path, str(err)))
    return CheckpointScan(infos, problems)


def safe_checkpoint_name(name: str) -> str:
    """A file stem made only of letters, digits, '-', '_' and '.', without path parts."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-_")[:80]
    if not stem:
        raise ValueError("the checkpoint name needs at least one letter or digit")
    return stem


def check_is_zip(path: Path) -> None:
    """Raise CheckpointError unless path is a file in torch's zip format."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        # save_checkpoint always writes torch's zip format; anything else is truncated, corrupt or foreign.
        raise CheckpointError(f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
                              f"(not a PyTorch zip archive)")


def checked_payload(path: Path, payload: Any) -> dict:
    """The payload if it is ours and of a format this version reads; CheckpointError otherwise."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path.name}: not a VAE Latent Explorer checkpoint")
    version = payload.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path.name}: has no format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path.name}: written in format {version} by a newer vae_core; this one reads up "
                              f"to format {FORMAT_VERSION}. Upgrade vae_core to load it.")
    return payload


def info_from_payload(path: Path, payload: dict) -> CheckpointInfo:
    """The CheckpointInfo of a checked payload; CheckpointError if its configs are invalid."""
    try:
        model_config = config_from_dict(ModelConfig, dict(payload["model_config"]))
        train_config = config_from_dict(TrainConfig, dict(payload["train_config"]))
        metadata = dict(payload.get("metadata") or {})
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path.name}: invalid configuration ({first_line(err)})") from None
    return CheckpointInfo(path, model_config, train_config, metadata)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


# --- the restricted reader --------------------------------------------------------------------------------------

class _NeedsTorch(Exception):
    """The pickle holds something this reader does not handle: let torch.load(weights_only=True) decide."""


def _tensor_record(storage, storage_offset, size, *rest) -> TensorRecord:
    return TensorRecord(tuple(size))


_STORAGE_TYPES = {f"{kind}Storage" for kind in (
    "Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool")}


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _tensor_record
        if module == "torch" and name in _STORAGE_TYPES:
            return name  # only ever named inside a storage's persistent id, never called
        raise _NeedsTorch(f"{module}.{name}")

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "storage":
            return None  # the tensor's bytes: not read
        raise _NeedsTorch(f"persistent id {pid!r:.40}")


def _payload_without_torch(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [i for i in archive.infolist() if i.filename.count("/") == 1 and i.filename.endswith("/data.pkl")]
            if len(pickles) != 1 or pickles[0].file_size > MAX_PICKLE_BYTES:
                raise _NeedsTorch("unexpected archive layout")
            with archive.open(pickles[0]) as handle:
                data = handle.read(MAX_PICKLE_BYTES + 1)
        return _MetadataUnpickler(io.BytesIO(data)).load()
    except _NeedsTorch:
        raise
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, TypeError,
            AttributeError, IndexError) as err:
        # A damaged pickle: torch would fail on it too, but its message is the one users see elsewhere.
        raise _NeedsTorch(type(err).__name__) from err
