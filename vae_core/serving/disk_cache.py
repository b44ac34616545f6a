"""On-disk caches of results that cost more than a page can wait for, shared by every server process.

A result (a frozen dataclass of arrays, tensors, numbers, strings and nested dataclasses of the same) is stored as
one safetensors file: its arrays as tensors, the rest as a JSON document in the header's metadata. The file's
name is the SHA-256 of its key: the kind of result and its code version, and whatever the result depends on,
which for a model is the SHA-256 its checkpoint carries in its header (so a retrained or edited checkpoint
never meets a stale entry, whatever its name or mtime). Files are written atomically, under
<data dir>/.cache/v<CACHE_FORMAT_VERSION>/ (gitignored, never inside the package). No pickle is read: a damaged
or foreign file is recomputed and replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import safetensors.numpy
import torch

from vae_core.engine.atomic_files import write_atomically
from vae_core.engine.checkpoint_info import read_header
from vae_core.engine.data import data_dir

CACHE_FORMAT_VERSION = 1  # the file layout below; each kind of result carries its own code version in its key
DOCUMENT_KEY = "vae-latent-explorer-cache"
CACHE_DIR_NAME = ".cache"

T = TypeVar("T")


def cache_folder() -> Path:
    """<data dir>/.cache/v1: beside the data sets, which are never committed either."""
    return data_dir() / CACHE_DIR_NAME / f"v{CACHE_FORMAT_VERSION}"


def checkpoint_content(path: str | Path) -> str:
    """The SHA-256 of a checkpoint's document and weights, as its header records it (only the header is read)."""
    return read_header(Path(path)).checksum


def content_digest(tensor: torch.Tensor | np.ndarray) -> str:
    """The SHA-256 of an array's dtype, shape and bytes: a key for results computed from data."""
    array = tensor.detach().cpu().contiguous().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
    digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def cache_path(kind: str, key: dict[str, Any], folder: Path | None = None) -> Path:
    text = json.dumps({"kind": kind, **key}, sort_keys=True, default=str)
    return (folder or cache_folder()) / kind.split("/")[0] / f"{hashlib.sha256(text.encode()).hexdigest()}.safetensors"


def cached(
    kind: str, key: dict[str, Any], result_type: type[T], compute: Callable[[], T], folder: Path | None = None
) -> T:
    """The result stored under (kind, key), or compute() stored there now. kind names the result and its code
    version ("anomaly-scores/1"); bump the version when the computation changes what it returns."""
    path = cache_path(kind, key, folder)
    stored = read(kind, key, result_type, folder)
    if stored is not None:
        return stored
    result = compute()
    arrays: dict[str, np.ndarray] = {}
    document = encode(result, arrays, "")
    data = safetensors.numpy.save(arrays, metadata={DOCUMENT_KEY: json.dumps(document)})
    with contextlib.suppress(OSError):  # a read-only or full disk costs speed, never the result
        write_atomically(path, lambda handle: handle.write(data))
    return result


def read(kind: str, key: dict[str, Any], result_type: type[T], folder: Path | None = None) -> T | None:
    """The result stored under (kind, key), or None when there is none (missing, damaged, another version)."""
    try:
        return decode(result_type, *_read(cache_path(kind, key, folder)))
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, safetensors.SafetensorError):
        return None


def _read(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + length]).get("__metadata__", {})
    return json.loads(meta[DOCUMENT_KEY]), safetensors.numpy.load(data)


# --- a frozen dataclass <-> (JSON document, arrays) ---------------------------------------------------------


def encode(value: Any, arrays: dict[str, np.ndarray], name: str) -> Any:
    """value as JSON, its arrays and tensors moved into `arrays` under dotted names."""
    if isinstance(value, torch.Tensor):
        arrays[name] = value.detach().cpu().contiguous().numpy()
        return {"tensor": name}
    if isinstance(value, np.ndarray):
        arrays[name] = np.ascontiguousarray(value)
        return {"array": name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "fields": {
                f.name: encode(getattr(value, f.name), arrays, f"{name}.{f.name}")
                for f in dataclasses.fields(value)
                if f.init
            }
        }
    if isinstance(value, (list, tuple)):
        return {"list": [encode(item, arrays, f"{name}.{i}") for i, item in enumerate(value)]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{name}: only string-keyed dicts are cached")
        return {"dict": {k: encode(v, arrays, f"{name}.{k}") for k, v in value.items()}}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TypeError(f"{name}: a {type(value).__name__} is not cached")


def decode(hint: Any, document: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of encode, guided by the type hints of the expected dataclass (nothing is named by the file)."""
    if not isinstance(document, dict) or len(document) != 1:
        raise ValueError("not a cached value")
    ((tag, body),) = document.items()
    if tag == "tensor":
        return torch.from_numpy(arrays[body].copy())
    if tag == "array":
        return arrays[body].copy()
    if tag == "value":
        return body
    if tag == "list":
        item_hints = _item_hints(hint, len(body))
        items = [decode(h, item, arrays) for h, item in zip(item_hints, body, strict=True)]
        return tuple(items) if _origin(hint) is tuple else items
    if tag == "dict":
        args = typing.get_args(_concrete(hint))
        value_hint = args[1] if len(args) == 2 else Any
        return {k: decode(value_hint, v, arrays) for k, v in body.items()}
    if tag == "fields":
        cls = _concrete(hint)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"expected {hint}, found a dataclass")
        hints = typing.get_type_hints(cls)
        return cls(**{name: decode(hints[name], value, arrays) for name, value in body.items()})
    raise ValueError(f"unknown tag {tag!r}")


def _concrete(hint: Any) -> Any:
    """X for X | None; the hint itself otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return options[0] if len(options) == 1 else Any
    return hint


def _origin(hint: Any) -> Any:
    return typing.get_origin(_concrete(hint)) if hint is not Any else None


def _item_hints(hint: Any, n: int) -> list[Any]:
    args = typing.get_args(_concrete(hint))
    if len(args) == 2 and args[1] is Ellipsis:
        return [args[0]] * n
    if args and len(args) == n:
        return list(args)
    return [args[0] if len(args) == 1 else Any] * n
