"""What a checkpoint says about itself (configs and metadata), read without torch and without its weights.

A checkpoint is torch's zip format: the payload's structure is a pickle (`<archive>/data.pkl`) and each
tensor's bytes are a separate record. Listing a folder only needs the pickle. Reading it with
torch.load(weights_only=True) means importing torch (seconds) and torch's pure-Python safe unpickler (~12 ms
per file); the app's first page lists the models before torch has loaded, so the pickle is read here with
the standard library's C unpickler, restricted to exactly what save_checkpoint writes:

- plain values (dicts, lists, strings, numbers, booleans, None), built without calling anything;
- collections.OrderedDict, and torch's tensor records, which become a TensorRecord (shape and storage only;
  the storage bytes are never read).

Any other global in the pickle, even one torch would accept, refuses the file, naming the global: this reader
never calls anything a file names, and checkpoints.load_checkpoint reads every file through it before torch
sees it, so listing and loading accept the same files. Before anything is unpickled the archive's declared
member sizes are checked against vae_core/engine/limits.py, so a small file cannot inflate into gigabytes; after,
the configs are validated and the metadata the app shows is type-checked, once, into CheckpointInfo's fields.

Every failure is a CheckpointError with a one-line message naming the file; list_checkpoints never raises
for a bad file (it is reported in `problems`).
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from vae_core.engine import limits
from vae_core.engine.atomic_files import remove_stale_temp_files
from vae_core.engine.config import ModelConfig, TrainConfig, config_from_dict
from vae_core.engine.results import EvaluationReport

FORMAT_NAME = "vae-latent-explorer"
FORMAT_VERSION = 1
SUFFIX = ".pt"


class CheckpointError(RuntimeError):
    """A file is not a checkpoint this version can load; the message (one line) says why."""


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself, without building its model.

    The typed fields below are read from `metadata` once, when the file is read, and checked: a file whose
    metadata has a wrong type is refused, so readers can trust these types. `metadata` keeps the raw values.
    """

    path: Path
    model_config: ModelConfig
    train_config: TrainConfig
    metadata: dict[str, Any]  # dataset, seed, history, metrics, created_at, versions, ...
    dataset: str = ""  # the data set it was trained on (metadata, else the train config)
    created_at: str | None = None  # ISO time in UTC
    role: str | None = None  # zoo role, one of vae_core.engine.vocabulary.ROLES (docs/CONTRACTS.md)
    group: str | None = None  # models meant to be compared share a group
    zoo_name: str | None = None
    epochs_run: int | None = None  # may be fewer than train_config.epochs (stopped early)
    train_seconds: float | None = None
    hardware: str | None = None
    stored_dtype: str = "float32"
    n_parameters: int | None = None
    trained_in_app: bool = False
    stopped_early: bool = False
    quick: bool = False  # a tiny model of the zoo's test mode
    history: list[dict[str, Any]] = field(default_factory=list)  # one dict per epoch
    tensor_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # state_dict key -> shape

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


class StorageRecord(NamedTuple):
    key: str  # the record's name inside the archive: <archive>/data/<key>
    dtype: str  # torch storage class name, e.g. "FloatStorage"
    numel: int  # elements in the storage


class TensorRecord(NamedTuple):
    """Stands in for a tensor when only the metadata is read: its shape and storage, not its values."""

    shape: tuple[int, ...]
    storage: StorageRecord | None


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read and validate a checkpoint's configs and metadata (never its weights, never torch)."""
    path = Path(path)
    payload, _ = read_plain_payload(path)
    return info_from_payload(path, payload)


def list_checkpoints(folder: str | Path) -> CheckpointScan:
    """Metadata of every *.pt in folder (not recursive); a bad file is reported in problems, never raised.

    Also removes the temp files of killed writers (see atomic_files.remove_stale_temp_files).
    """
    folder = Path(folder)
    infos, problems = [], []
    try:
        if not folder.is_dir():
            return CheckpointScan([], [])
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))
    except OSError as err:
        return CheckpointScan([], [(folder, f"{folder}: cannot list the folder ({_os_reason(err)})")])
    remove_stale_temp_files(folder)
    for path in paths:
        try:
            infos.append(read_checkpoint_info(path))
        except CheckpointError as err:
            problems.append((path, str(err)))
        except Exception as err:  # one odd file must never break the listing of the others
            problems.append((path, f"{path.name}: not a readable checkpoint ({type(err).__name__}: {first_line(err)})"))
    return CheckpointScan(infos, problems)


def safe_checkpoint_name(name: str) -> str:
    """A file stem made only of letters, digits, '-', '_' and '.', without path parts."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-_")[:80]
    if not stem:
        raise ValueError("the checkpoint name needs at least one letter or digit")
    return stem


def read_plain_payload(path: Path) -> tuple[dict, dict[str, StorageRecord]]:
    """The checked payload with TensorRecords for tensors, and the storages it names (by archive key)."""
    members = check_archive(path)
    payload, storages = _unpickle_restricted(path, members)
    return checked_payload(path, payload), storages


def check_archive(path: Path) -> dict[str, zipfile.ZipInfo]:
    """The archive's members (name -> info) once its layout and declared sizes are within limits.

    Raises CheckpointError unless path is a regular file in torch's zip format whose pickle and tensor records
    declare plausible uncompressed sizes (vae_core/engine/limits.py): nothing is decompressed here.
    """
    try:
        if not path.is_file():
            if path.is_symlink():
                kind = "a symbolic link that leads to no file (dangling, or a loop)"
            elif path.is_dir():
                kind = "a folder, not a file"
            else:
                kind = "not a regular file" if path.exists() else "no such checkpoint file"
            raise CheckpointError(f"{path}: {kind}")
        size = path.stat().st_size
        if size > limits.MAX_TENSOR_BYTES + limits.MAX_PICKLE_BYTES + 2**20:
            raise CheckpointError(
                f"{path.name}: the file is {size / 2**20:.0f} MB, more than any checkpoint within the model-size limit"
            )
        if not zipfile.is_zipfile(path):
            # save_checkpoint always writes torch's zip format; anything else is truncated, corrupt or foreign.
            raise CheckpointError(
                f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt (not a PyTorch zip archive)"
            )
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        raise CheckpointError(f"{path.name}: not a readable checkpoint ({_os_reason(err)})") from None
    if len(infos) > limits.MAX_ARCHIVE_MEMBERS:
        raise CheckpointError(
            f"{path.name}: refused: the archive has {len(infos)} members, more than a checkpoint ever has"
        )
    pickles = [i for i in infos if i.filename.count("/") == 1 and i.filename.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise CheckpointError(f"{path.name}: not a VAE Latent Explorer checkpoint (no single data.pkl)")
    if pickles[0].file_size > limits.MAX_PICKLE_BYTES:
        raise CheckpointError(
            f"{path.name}: refused: its pickle would inflate to "
            f"{pickles[0].file_size / 2**20:.0f} MB; checkpoints hold at most "
            f"{limits.MAX_PICKLE_BYTES / 2**20:.0f} MB of configs and metadata"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_TENSOR_BYTES + limits.MAX_PICKLE_BYTES + 2**20:
        raise CheckpointError(
            f"{path.name}: refused: its records would inflate to {total / 2**20:.0f} MB, "
            f"more than the largest model allowed "
            f"({limits.MAX_PARAMETERS:,} parameters) needs"
        )
    return {i.filename: i for i in infos}


def check_record_checksums(path: Path) -> None:
    """Read every record of an accepted archive once, in 1 MB chunks, so zipfile checks its CRC-32.

    torch.load does not check them: flipped bytes in the tensor data would load silently. Listing does not
    call this (it reads no weights); load_checkpoint does, before torch.load.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as handle:
                    while handle.read(2**20):
                        pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
        raise CheckpointError(
            f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt ({_os_reason(err)})"
        ) from None


def checked_payload(path: Path, payload: Any) -> dict:
    """The payload if it is ours and of a format this version reads; CheckpointError otherwise."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path.name}: not a VAE Latent Explorer checkpoint")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path.name}: has no format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name}: written in format {version} by a newer vae_core; this one reads up "
            f"to format {FORMAT_VERSION}. Upgrade vae_core to load it."
        )
    return payload


def info_from_payload(path: Path, payload: dict) -> CheckpointInfo:
    """The CheckpointInfo of a checked payload; CheckpointError if its configs or metadata are invalid.

    payload["state_dict"] may hold tensors or TensorRecords; only their shapes are read.
    """
    try:
        model_config = config_from_dict(ModelConfig, _plain_dict(payload.get("model_config"), "model_config"))
        train_config = config_from_dict(TrainConfig, _plain_dict(payload.get("train_config"), "train_config"))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as err:
        raise CheckpointError(f"{path.name}: invalid configuration ({first_line(err)})") from None
    try:
        raw = payload.get("metadata")
        metadata = {} if raw is None else _plain_dict(raw, "metadata")
        _check_plain(metadata, "metadata", [limits.MAX_METADATA_NODES], depth=0)
        typed = _typed_metadata(metadata, train_config)
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{path.name}: invalid metadata ({first_line(err)})") from None
    try:
        shapes = _tensor_shapes(payload.get("state_dict"))
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{path.name}: its weights are missing or not tensors ({first_line(err)})") from None
    return CheckpointInfo(path, model_config, train_config, metadata, tensor_shapes=shapes, **typed)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


# --- metadata types -----------------------------------------------------------------------------------------------


def _plain_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping with string keys, got {type(value).__name__}")
    return dict(value)


def _check_plain(value: Any, where: str, budget: list[int], depth: int) -> None:
    """Raise TypeError unless value is made of plain values only, within a bounded size and depth.

    budget counts the values visited: a pickle can share one list many times over (a "billion laughs"), which
    costs nothing to store and forever to walk.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("metadata is too large")
    if depth > 16:
        raise ValueError(f"{where} is nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        return  # NaN in a stored metric is a value; the JSON writers turn it into null
    if type(value) in (list, tuple):  # not a NamedTuple such as TensorRecord (a tensor in the metadata)
        for item in value:
            _check_plain(item, where, budget, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key of type {type(key).__name__}")
            _check_plain(item, f"{where}.{key}"[:80], budget, depth + 1)
        return
    raise TypeError(f"{where} holds a {type(value).__name__}, not a plain value")


def _typed_metadata(meta: dict, train_config: TrainConfig) -> dict[str, Any]:
    """The fields the app reads, each of the type CheckpointInfo promises, or TypeError naming the field."""
    metrics = meta.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a mapping, got {type(metrics).__name__}")
    history = meta.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise TypeError("history must be a list of per-epoch mappings")
    if len(history) > limits.MAX_HISTORY_EPOCHS:
        raise ValueError(f"history has {len(history)} epochs, more than {limits.MAX_HISTORY_EPOCHS}")
    dataset = _text(meta, "dataset") or train_config.dataset
    epochs_run = _optional(meta, "epochs_run", int)
    if epochs_run is not None and not 0 <= epochs_run <= limits.MAX_EPOCHS:
        raise ValueError(f"epochs_run must lie between 0 and {limits.MAX_EPOCHS}, got {epochs_run}")
    seconds = _optional(meta, "train_seconds", float)
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"train_seconds must be a non-negative number, got {seconds}")
    n_parameters = _optional(meta, "n_parameters", int)
    stored = _text(meta, "stored_dtype") or "float32"
    if stored not in ("float32", "float16"):
        raise ValueError(f"stored_dtype must be float32 or float16, got {stored!r}")
    return {
        "dataset": dataset,
        "created_at": _text(meta, "created_at"),
        "role": _text(meta, "role"),
        "group": _text(meta, "group"),
        "zoo_name": _text(meta, "zoo_name"),
        "epochs_run": epochs_run,
        "train_seconds": seconds,
        "hardware": _text(meta, "hardware"),
        "stored_dtype": stored,
        "n_parameters": n_parameters,
        "trained_in_app": bool(_optional(meta, "trained_in_app", bool)),
        "stopped_early": bool(_optional(meta, "stopped_early", bool)),
        "quick": bool(_optional(meta, "quick", bool)),
        "history": list(history),
    }


def _optional(meta: dict, key: str, kind: type) -> Any:
    """meta[key] if present and of kind (an int counts as a float; a bool never counts as a number)."""
    value = meta.get(key)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TypeError(f"{key} must be {'a number' if kind is float else kind.__name__}, got {type(value).__name__}")
    return value


def _text(meta: dict, key: str) -> str | None:
    value = _optional(meta, key, str)
    if value is not None and len(value) > limits.MAX_TEXT_LENGTH:
        raise ValueError(f"{key} is {len(value)} characters long, more than {limits.MAX_TEXT_LENGTH}")
    return value


def _tensor_shapes(state: Any) -> dict[str, tuple[int, ...]]:
    """state_dict key -> shape, for TensorRecords or tensors; TypeError if it is not a mapping of them."""
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise TypeError("state_dict is not a mapping of names to tensors")
    shapes = {}
    for key, value in state.items():
        shape = getattr(value, "shape", None)
        if shape is None:
            raise TypeError(f"weight {key[:40]!r} is a {type(value).__name__}, not a tensor")
        shapes[key] = tuple(int(s) for s in shape)
    return shapes


def _os_reason(err: BaseException) -> str:
    """An OSError as its strerror ("Too many levels of symbolic links"), anything else as its first line."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return first_line(err)


# --- the restricted reader --------------------------------------------------------------------------------------

_STORAGE_BYTES = {
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "DoubleStorage": 8,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
}


class _RefusedGlobal(Exception):
    """The pickle names something other than what save_checkpoint writes."""


class _MetadataUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.storages: dict[str, StorageRecord] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _tensor_record
        if module == "torch" and name in _STORAGE_BYTES:
            return name  # only ever named inside a storage's persistent id, never called
        raise _RefusedGlobal(f"{module}.{name}"[:100])

    def persistent_load(self, pid):
        # torch writes ("storage", storage type, key, location, numel) for each tensor's storage.
        if (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and pid[1] in _STORAGE_BYTES
            and isinstance(pid[2], str)
            and isinstance(pid[4], int)
            and pid[4] >= 0
        ):
            record = StorageRecord(pid[2], pid[1], pid[4])
            self.storages[record.key] = record
            return record
        raise _RefusedGlobal(f"persistent id {pid!r:.40}")


def _tensor_record(storage, storage_offset, size, *rest) -> TensorRecord:
    if (
        not isinstance(storage, StorageRecord)
        or not isinstance(size, tuple)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in size)
    ):
        raise ValueError("a tensor record is malformed")
    return TensorRecord(tuple(size), storage)


def _unpickle_restricted(path: Path, members: dict[str, zipfile.ZipInfo]) -> tuple[Any, dict[str, StorageRecord]]:
    name = next(n for n in members if n.count("/") == 1 and n.endswith("/data.pkl"))
    prefix = name[: -len("data.pkl")]
    try:
        with zipfile.ZipFile(path) as archive, archive.open(members[name]) as handle:
            data = handle.read(limits.MAX_PICKLE_BYTES + 1)
        if len(data) > limits.MAX_PICKLE_BYTES:
            raise CheckpointError(f"{path.name}: refused: its pickle is larger than it says")
        unpickler = _MetadataUnpickler(data)
        payload = unpickler.load()
    except CheckpointError:
        raise
    except _RefusedGlobal as err:
        raise CheckpointError(
            f"{path.name}: refused: the file holds code or objects the app will not load (it names {err})"
        ) from None
    except RecursionError:
        raise CheckpointError(f"{path.name}: refused: its pickle is nested too deeply") from None
    except MemoryError:
        raise CheckpointError(f"{path.name}: refused: its pickle does not fit in memory") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
        NotImplementedError,
        UnicodeDecodeError,
    ) as err:
        raise CheckpointError(
            f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
            f"({type(err).__name__}: {first_line(err)})"
        ) from None
    storages = unpickler.storages
    total = 0
    for record in storages.values():
        nbytes = record.numel * _STORAGE_BYTES[record.dtype]
        info = members.get(f"{prefix}data/{record.key}")
        if info is None or info.file_size != nbytes:
            raise CheckpointError(
                f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
                f"(tensor record {record.key[:20]!r} is missing or of the wrong size)"
            )
        total += nbytes
    if total > limits.MAX_TENSOR_BYTES:
        raise CheckpointError(
            f"{path.name}: refused: its weights take {total / 2**20:.0f} MB, more than the "
            f"largest model allowed ({limits.MAX_PARAMETERS:,} parameters)"
        )
    return payload, storages
