"""Checkpoint files: tensors and plain values only, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import datetime as _dt
import pickle
import platform
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

from . import __version__
from .atomic_files import write_atomically
# What a file says about itself lives in checkpoint_info (no torch needed); re-exported here.
from .checkpoint_info import (FORMAT_NAME, FORMAT_VERSION, SUFFIX, CheckpointError, CheckpointInfo,
                              CheckpointScan, check_is_zip, checked_payload, first_line, info_from_payload,
                              list_checkpoints, read_checkpoint_info, safe_checkpoint_name)
from .config import TrainConfig, config_to_dict
from .models import LatentModel, build_model

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "SUFFIX", "CheckpointError", "CheckpointInfo", "CheckpointScan",
           "LoadedCheckpoint", "list_checkpoints", "load_checkpoint", "read_checkpoint_info",
           "read_payload_with_torch", "safe_checkpoint_name", "save_checkpoint"]


class LoadedCheckpoint(NamedTuple):
    model: LatentModel
    info: CheckpointInfo


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


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model from the file's own config, load its weights as float32, and put it in eval mode."""
    path = Path(path)
    payload = read_payload_with_torch(path, mmap=False)
    info = info_from_payload(path, payload)
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


def read_payload_with_torch(path: Path, mmap: bool) -> dict:
    """The whole payload through torch.load(weights_only=True), checked (checkpoint_info reads metadata only)."""
    check_is_zip(path)
    try:
        # weights_only=True: a file can only hold tensors and plain values; a pickle with code is refused.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path.name}: refused to load; it holds objects other than tensors and plain "
                              f"values ({_unpickler_reason(err)})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt "
                              f"({first_line(err)})") from None
    return checked_payload(path, payload)


def _unpickler_reason(err: BaseException) -> str:
    """torch's refusal is a long advice text; the line naming the refused object is the useful part."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        # The reason may follow on the same line or after blank lines, depending on the torch version.
        rest = text.split("WeightsUnpickler error:", 1)[1].strip()
        if rest:
            return rest.splitlines()[0].split(". ")[0][:200]
    return first_line(err)
