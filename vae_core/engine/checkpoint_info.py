"""What a checkpoint says about itself (configs and metadata), read without torch and without its weights.

A checkpoint is a safetensors file: 8 bytes giving the length N of a JSON header (unsigned, little-endian), the
N-byte header, then the tensors' bytes. The header maps each tensor's name to its dtype, shape and byte range,
and its `__metadata__`, a map of strings, holds two entries of ours:

- FORMAT_NAME: a JSON document {"format", "format_version", "model_config", "train_config", "metadata"}: the
  configs that rebuild the model, and the seed, history, metrics and whatever else the app shows;
- CHECKSUM_KEY: the SHA-256 of that document's text followed by the tensors' bytes. safetensors has no checksum
  of its own, so flipped bytes in the weights would load silently; checkpoints.load_checkpoint checks it.

Listing a folder reads the 8 bytes and the header with bounded reads (limits.MAX_HEADER_BYTES), parses both with
the standard library's json, and checks every tensor's dtype, shape and byte range against the file's size and
limits; then the configs are validated and the metadata the app shows type-checked, once, into CheckpointInfo's
fields. No torch, no weights, and never a pickle: a file of the old format (a torch pickle, `.pt`) is not opened,
only named, with the command that converts it once (vae_core.engine.legacy).

Every failure is a CheckpointError with a one-line message naming the file; list_checkpoints never raises
for a bad file (it is reported in `problems`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any, BinaryIO, NamedTuple

from vae_core.engine import limits
from vae_core.engine.atomic_files import remove_stale_temp_files
from vae_core.engine.config import ModelConfig, TrainConfig, config_from_dict
from vae_core.engine.replay_file import REPLAY_DOCUMENT_KEY, ReplayHeader, has_replay_name, parse_replay_header
from vae_core.engine.results import EvaluationReport

FORMAT_NAME = "vae-latent-explorer"  # also the __metadata__ key of the document
# 1: the torch pickle (.pt) of earlier versions, read only by `python -m vae_core convert`; 2: safetensors + JSON.
FORMAT_VERSION = 2
SUFFIX = ".safetensors"
OLD_SUFFIXES = (".pt", ".pth")  # torch pickles: listed only to say how to convert them, never opened
CHECKSUM_KEY = "sha256"
CONVERT_COMMAND = "python -m vae_core convert"

# safetensors dtype -> bytes per element, for the dtypes a state_dict of these models can hold.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})  # loaded as float32
_LENGTH_BYTES = 8  # the header's length, before the header
# The first bytes of the old format, recognised only to name it: torch's zip archive, a bare pickle (protocol 2-5).
_OLD_FORMAT_STARTS = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


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
    replay: ReplayHeader | None = None  # the training replay's small fields, when the file carries one

    @property
    def replay_frames(self) -> int:
        """Frames of the training replay the file carries (0: none)."""
        return 0 if self.replay is None else self.replay.frames

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


class TensorEntry(NamedTuple):
    """One tensor as the header describes it: what it is and where its bytes are, not its values."""

    dtype: str  # a key of DTYPE_BYTES
    shape: tuple[int, ...]
    start: int  # byte range [start, end) after the header
    end: int


class CheckpointHeader(NamedTuple):
    """A checked header: ours, of a format this version reads, its tensors' byte ranges consistent with the file."""

    document: dict[str, Any]  # format, format_version, model_config, train_config, metadata
    document_text: str  # the document as stored: what the checksum covers, with the tensors' bytes
    checksum: str  # hex SHA-256
    tensors: dict[str, TensorEntry]
    data_offset: int  # where the tensors' bytes begin in the file


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read and validate a checkpoint's configs and metadata (never its weights, never torch)."""
    path = Path(path)
    return info_from_header(path, read_header(path))


def list_checkpoints(folder: str | Path) -> CheckpointScan:
    """Metadata of every checkpoint in folder (not recursive); a bad file is reported in problems, never raised.

    Old-format files (*.pt) are reported too, with the command that converts them. Also removes the temp files
    of killed writers (see atomic_files.remove_stale_temp_files).
    """
    folder = Path(folder)
    infos, problems = [], []
    try:
        if not folder.is_dir():
            return CheckpointScan([], [])
        paths = sorted(p for p in folder.iterdir() if is_listed_name(p.name))
    except OSError as err:
        return CheckpointScan([], [(folder, f"{folder.name}: cannot list the folder ({_os_reason(err)})")])
    remove_stale_temp_files(folder)
    for path in paths:
        try:
            infos.append(read_checkpoint_info(path))
        except CheckpointError as err:
            problems.append((path, str(err)))
        except Exception as err:  # one odd file must never break the listing of the others
            problems.append((path, f"{path.name}: not a readable checkpoint ({type(err).__name__}: {first_line(err)})"))
    return CheckpointScan(infos, problems)


def is_listed_name(name: str) -> bool:
    """Whether a listing looks at a file of this name: a checkpoint, or an old-format one to report."""
    return not name.startswith(".") and name.endswith((SUFFIX, *OLD_SUFFIXES))


def safe_checkpoint_name(name: str) -> str:
    """A file stem made only of letters, digits, '-', '_' and '.', without path parts."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-_")[:80]
    if not stem:
        raise ValueError("the checkpoint name needs at least one letter or digit")
    return stem


def old_format_note(path: Path) -> str:
    """The one line that names an old-format file and what to do with it (nothing of the file is parsed)."""
    converted = path.with_suffix(SUFFIX)
    if converted != path and converted.exists():
        return f"{path.name}: old format, already converted to {converted.name}; delete {path.name}"
    return (
        f"{path.name}: an old-format checkpoint (a torch pickle), which this version does not read; convert it "
        f"once with `{CONVERT_COMMAND} {path.parent}`"
    )


def read_header(path: Path) -> CheckpointHeader:
    """The checked header of the checkpoint at path: at most 8 + limits.MAX_HEADER_BYTES bytes are read."""
    with _open_checkpoint(path) as (handle, size):
        length = _header_length(path, handle.read(_LENGTH_BYTES), size)
        raw = handle.read(length)
    return parse_header(path, raw, length, size)


def read_checkpoint_file(path: Path) -> tuple[CheckpointHeader, bytes]:
    """The checked header and the whole file, read once: what load_checkpoint takes the weights from.

    One read, so the header checked and the weights loaded come from the same file even when a writer replaces
    it meanwhile; its size is bounded by the limits before anything is read.
    """
    with _open_checkpoint(path) as (handle, size):
        data = handle.read(size + 1)
    if len(data) != size:
        raise CheckpointError(f"{path.name}: not a readable checkpoint (it changed while it was read)")
    return parse_checkpoint_bytes(path, data), data


def parse_checkpoint_bytes(path: Path, data: bytes) -> CheckpointHeader:
    """The checked header of a whole checkpoint file's bytes; path names the file in messages."""
    length = _header_length(path, data[:_LENGTH_BYTES], len(data))
    return parse_header(path, data[_LENGTH_BYTES : _LENGTH_BYTES + length], length, len(data))


def parse_header(path: Path, raw: bytes, length: int, file_size: int) -> CheckpointHeader:
    """Check the header's bytes: JSON, ours, of a format this version reads, tensors consistent with the file."""
    if len(raw) != length:
        raise _damaged(path, "its header runs past the end of the file")
    if not raw.startswith(b"{"):
        raise _damaged(path, "its header is not a JSON object")
    header = _json(path, raw, "header")
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    text = meta.get(FORMAT_NAME) if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise CheckpointError(
            f"{path.name}: not a VAE Latent Explorer checkpoint (a safetensors file without its document)"
        )
    document = checked_document(path, _json(path, text, "document"))
    checksum = meta.get(CHECKSUM_KEY)
    if not isinstance(checksum, str) or not re.fullmatch(r"[0-9a-f]{64}", checksum):
        raise _damaged(path, "it has no checksum")
    data_offset = _LENGTH_BYTES + length
    tensors = _tensor_entries(path, header, file_size - data_offset)
    return CheckpointHeader(document, text, checksum, tensors, data_offset)


def checked_document(path: Path, document: Any) -> dict:
    """The document if it is ours and of a format version this one reads; CheckpointError otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path.name}: not a VAE Latent Explorer checkpoint")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path.name}: has no format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name}: written in format {version} by a newer vae_core; this one reads up "
            f"to format {FORMAT_VERSION}. Upgrade vae_core to load it."
        )
    return document


def info_from_header(path: Path, header: CheckpointHeader) -> CheckpointInfo:
    """The CheckpointInfo of a checked header; CheckpointError if its configs or metadata are invalid."""
    document = header.document
    try:
        model_config = config_from_dict(ModelConfig, _plain_dict(document.get("model_config"), "model_config"))
        train_config = config_from_dict(TrainConfig, _plain_dict(document.get("train_config"), "train_config"))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as err:
        raise CheckpointError(f"{path.name}: invalid configuration ({first_line(err)})") from None
    try:
        raw = document.get("metadata")
        metadata = {} if raw is None else _plain_dict(raw, "metadata")
        _check_plain(metadata, "metadata", [limits.MAX_METADATA_NODES], depth=0)
        typed = _typed_metadata(metadata, train_config)
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{path.name}: invalid metadata ({first_line(err)})") from None
    try:
        stored_replay = document.get(REPLAY_DOCUMENT_KEY)
        replay = None if stored_replay is None else parse_replay_header(stored_replay)
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"{path.name}: invalid training replay ({first_line(err)})") from None
    shapes = {name: entry.shape for name, entry in header.tensors.items() if not has_replay_name(name)}
    return CheckpointInfo(path, model_config, train_config, metadata, tensor_shapes=shapes, replay=replay, **typed)


def encode_document(document: dict[str, Any]) -> str:
    """The JSON text a checkpoint stores its document as; TypeError or ValueError unless it is plain values.

    Python's json, with NaN and infinities as such (not strict JSON): a NaN metric reads back as NaN.
    """
    _check_plain(document, "document", [limits.MAX_METADATA_NODES], depth=0)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def content_checksum(document_text: str, tensor_bytes: bytes | memoryview) -> str:
    """Hex SHA-256 of the document's UTF-8 text followed by the tensors' bytes: what CHECKSUM_KEY holds."""
    digest = hashlib.sha256(document_text.encode("utf-8"))
    digest.update(tensor_bytes)
    return digest.hexdigest()


def check_checksum(path: Path, header: CheckpointHeader, data: bytes) -> None:
    """Raise CheckpointError unless the file's bytes (data, as read_checkpoint_file returns them) match the
    header's checksum."""
    if content_checksum(header.document_text, memoryview(data)[header.data_offset :]) != header.checksum:
        raise _damaged(path, "its weights or metadata do not match its checksum")


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


# --- reading the file -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _open_checkpoint(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """(handle, size) of a regular file within the size limit; CheckpointError for anything else.

    An old-format file is refused by its name, before it is opened. O_NONBLOCK: a FIFO put in place of the file
    after the check opens without blocking, and is then refused as not a regular file.
    """
    if not path.is_file():
        raise CheckpointError(f"{path.name}: {_not_a_file(path)}")
    if path.name.endswith(OLD_SUFFIXES):
        raise CheckpointError(old_format_note(path))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise CheckpointError(f"{path.name}: not a readable checkpoint ({_os_reason(err)})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not S_ISREG(info.st_mode):
            raise CheckpointError(f"{path.name}: not a regular file")
        if info.st_size > _LENGTH_BYTES + limits.MAX_HEADER_BYTES + limits.MAX_TENSOR_BYTES:
            raise CheckpointError(
                f"{path.name}: the file is {info.st_size / 2**20:.0f} MB, more than any checkpoint within the "
                f"model-size limit"
            )
        try:
            yield handle, info.st_size
        except OSError as err:
            raise CheckpointError(f"{path.name}: not a readable checkpoint ({_os_reason(err)})") from None


def _not_a_file(path: Path) -> str:
    """What stands at path instead of a checkpoint file, in words (the name only: never a server path)."""
    if not path.is_symlink():
        if path.is_dir():
            return "a folder, not a file"
        return "not a regular file" if path.exists() else "no such checkpoint file"
    try:
        target = os.stat(path)  # follows the link
    except FileNotFoundError:
        return "a symbolic link to nothing (dangling: its target does not exist)"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link that leads back to itself (a loop)"
        return f"a symbolic link whose target cannot be read ({_os_reason(err)})"
    if S_ISDIR(target.st_mode):
        return "a symbolic link to a folder, not a file"
    return "a symbolic link to a device or other special file (not a regular file)"


def _header_length(path: Path, first: bytes, file_size: int) -> int:
    """The header length the file's first 8 bytes declare, once it is plausible."""
    if len(first) < _LENGTH_BYTES:
        raise _damaged(path, "shorter than a safetensors header")
    length = int.from_bytes(first, "little")
    if length > limits.MAX_HEADER_BYTES:
        if first.startswith(_OLD_FORMAT_STARTS):
            raise CheckpointError(old_format_note(path))
        raise CheckpointError(
            f"{path.name}: not a readable checkpoint (its header declares {length:,} bytes; a checkpoint's "
            f"holds at most {limits.MAX_HEADER_BYTES:,})"
        )
    if length > file_size - _LENGTH_BYTES:
        raise _damaged(path, "its header runs past the end of the file")
    return length


def _json(path: Path, text: bytes | str, what: str) -> Any:
    """Parse JSON of bounded size (the header's limit); nesting deep enough to exhaust the stack is refused."""
    try:
        return json.loads(text)
    except RecursionError:
        raise CheckpointError(f"{path.name}: refused: its {what} is nested too deeply") from None
    except MemoryError:
        raise CheckpointError(f"{path.name}: refused: its {what} does not fit in memory") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise _damaged(path, f"its {what} is not JSON: {first_line(err)[:80]}") from None


def _tensor_entries(path: Path, header: dict, data_size: int) -> dict[str, TensorEntry]:
    """Every tensor entry, checked; their byte ranges must tile the data after the header exactly."""
    if len(header) > limits.MAX_TENSORS:
        raise CheckpointError(
            f"{path.name}: refused: it holds {len(header)} tensors, more than the {limits.MAX_TENSORS} a model may have"
        )
    if data_size > limits.MAX_TENSOR_BYTES:
        raise CheckpointError(
            f"{path.name}: refused: its weights take {data_size / 2**20:.0f} MB, more than the largest model "
            f"allowed ({limits.MAX_PARAMETERS:,} parameters)"
        )
    entries = {}
    for name, value in header.items():
        try:
            entries[name] = _tensor_entry(value)
        except ValueError as err:
            raise _damaged(path, f"tensor {name[:40]!r} {err}") from None
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1].start):
        if entry.start != position:
            raise _damaged(path, f"tensor {name[:40]!r} starts at byte {entry.start}, not {position}")
        position = entry.end
    if position != data_size:
        raise _damaged(path, f"its tensors take {position} bytes, the file holds {data_size} after the header")
    return entries


def _tensor_entry(value: Any) -> TensorEntry:
    """A header's tensor entry, or ValueError saying what is wrong with it."""
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise ValueError("is not a tensor entry (dtype, shape, data_offsets)")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"has dtype {str(dtype)[:12]!r}, not one of {', '.join(DTYPE_BYTES)}")
    if not isinstance(shape, list) or len(shape) > limits.MAX_TENSOR_DIMS or not all(map(_is_size, shape)):
        raise ValueError(
            f"has no valid shape (at most {limits.MAX_TENSOR_DIMS} sizes of at most {limits.MAX_TENSOR_BYTES})"
        )
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_size, offsets)) or offsets[0] > offsets[1]:
        raise ValueError("has no valid byte range")
    needed = math.prod(shape) * DTYPE_BYTES[dtype]
    if needed != offsets[1] - offsets[0]:
        raise ValueError(f"of shape {shape} needs {needed:,} bytes, its byte range holds {offsets[1] - offsets[0]:,}")
    return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limits.MAX_TENSOR_BYTES


def _damaged(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt ({reason})")


# --- metadata types -----------------------------------------------------------------------------------------------


def _plain_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping with string keys, got {type(value).__name__}")
    return dict(value)


def _check_plain(value: Any, where: str, budget: list[int], depth: int) -> None:
    """Raise TypeError unless value is made of plain values only, within a bounded size and depth.

    budget counts the values visited, so walking a document costs a bounded time whatever its shape.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("metadata is too large")
    if depth > 16:
        raise ValueError(f"{where} is nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        return  # NaN in a stored metric is a value; the JSON writers of the CLI turn it into null
    if type(value) in (list, tuple):  # tuples are written as lists
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


def _os_reason(err: BaseException) -> str:
    """An OSError as its strerror ("Too many levels of symbolic links"), anything else as its first line."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return first_line(err)
