"""Checkpoint files: tensors and plain values only, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import datetime as _dt
import pickle
import platform
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from . import __version__
from .atomic_files import write_atomically
from .config import ModelConfig, TrainConfig, config_from_dict, config_to_dict
from .models import LatentModel, build_model

FORMAT_NAME = "vae-latent-explorer"
FORMAT_VERSION = 1
SUFFIX = ".pt"


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
    def metrics(self) -> dict[str, Any]:
        return self.metadata.get("metrics") or {}


class LoadedCheckpoint(NamedTuple):
    model: LatentModel
    info: CheckpointInfo


class CheckpointScan(NamedTuple):
    infos: list[CheckpointInfo]  # the loadable ones, sorted by name
    problems: list[tuple[Path, str]]  # (file, why it was skipped)


def save_checkpoint(path: str | Path, model: LatentModel, train_config: TrainConfig, *,
                    history: list[dict] | None = None, metrics: dict[str, Any] | None = None,
                    metadata: dict[str, Any] | None = None, half: bool = False) -> Path:
    """Write model weights, configs and metadata to path atomically (temp file, then os.replace).

    half: store floating-point weights as float16 (half the size); loading restores float32.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {
        "dataset": train_config.dataset,
        "seed": train_config.seed,
        "history": list(history or []),
        "metrics": dict(metrics or {}),
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"vae_core": __version__, "torch": str(torch.__version__), "python": platform.python_version()},
        "stored_dtype": "float16" if half else "float32",
        "n_parameters": sum(p.numel() for p in model.parameters()),
        **(metadata or {}),
    }
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_config),
        "metadata": meta,
        "state_dict": state,
    }
    return write_atomically(path, lambda handle: torch.save(payload, handle))


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read and validate a checkpoint's configs and metadata (the weights are memory-mapped, not read)."""
    payload = _read_payload(Path(path), mmap=True)
    return _info_from_payload(Path(path), payload)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model from the file's own config, load its weights as float32, and put it in eval mode."""
    path = Path(path)
    payload = _read_payload(path, mmap=False)
    info = _info_from_payload(path, payload)
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: its weights are missing or not tensors")
    model = build_model(info.model_config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path.name}: its weights do not fit its model config ({first})") from None
    return LoadedCheckpoint(model.to(device).eval(), info)


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


def _read_payload(path: Path, mmap: bool) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        # save_checkpoint always writes torch's zip format; anything else is truncated, corrupt or foreign.
        raise CheckpointError(f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
                              f"(not a PyTorch zip archive)")
    try:
        # weights_only=True: a file can only hold tensors and plain values; a pickle with code is refused.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path.name}: refused to load; it holds objects other than tensors and plain "
                              f"values ({_unpickler_reason(err)})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
                              f"({_first_line(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path.name}: not a VAE Latent Explorer checkpoint")
    version = payload.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path.name}: has no format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path.name}: written in format {version} by a newer vae_core; this one reads up "
                              f"to format {FORMAT_VERSION}. Upgrade vae_core to load it.")
    return payload


def _info_from_payload(path: Path, payload: dict) -> CheckpointInfo:
    try:
        model_config = config_from_dict(ModelConfig, dict(payload["model_config"]))
        train_config = config_from_dict(TrainConfig, dict(payload["train_config"]))
        metadata = dict(payload.get("metadata") or {})
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path.name}: invalid configuration ({_first_line(err)})") from None
    return CheckpointInfo(path, model_config, train_config, metadata)


def _unpickler_reason(err: BaseException) -> str:
    """torch's refusal is a long advice text; the line naming the refused object is the useful part."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        # The reason may follow on the same line or after blank lines, depending on the torch version.
        rest = text.split("WeightsUnpickler error:", 1)[1].strip()
        if rest:
            return rest.splitlines()[0].split(". ")[0][:200]
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
