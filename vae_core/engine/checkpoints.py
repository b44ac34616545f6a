"""Checkpoint files: tensors and plain values only, written atomically, loaded with weights_only=True.

Reading what a file says about itself (configs, metadata, tensor shapes) is checkpoint_info's job, without
torch; this module adds torch: saving, and loading the weights after checkpoint_info has accepted the file.
"""

from __future__ import annotations

import datetime as _dt
import pickle
import platform
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

from vae_core import __version__
from vae_core.engine import limits
from vae_core.engine.atomic_files import claim_path, release_claim, write_atomically
from vae_core.engine.checkpoint_info import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SUFFIX,
    CheckpointError,
    CheckpointInfo,
    check_record_checksums,
    checked_payload,
    first_line,
    info_from_payload,
    read_plain_payload,
    safe_checkpoint_name,
)
from vae_core.engine.config import TrainConfig, config_to_dict
from vae_core.engine.models import LatentModel, build_model, current_state_keys

__all__ = ["LoadedCheckpoint", "claim_checkpoint_path", "load_checkpoint", "save_checkpoint"]


class LoadedCheckpoint(NamedTuple):
    model: LatentModel
    info: CheckpointInfo


def save_checkpoint(
    path: str | Path,
    model: LatentModel,
    train_config: TrainConfig,
    *,
    history: list[dict] | None = None,
    metrics: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
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
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
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
    written = write_atomically(path, lambda handle: torch.save(payload, handle))
    release_claim(written)  # if claim_checkpoint_path reserved this name, it is filled now
    return written


def claim_checkpoint_path(folder: str | Path, stem: str) -> Path:
    """Reserve a free checkpoint name in folder: stem.pt, else stem-2.pt, stem-3.pt, ... (atomic).

    For a job that saves much later (a training started from the app): two jobs never get the same name, and
    a file saved without a claim is never overwritten. save_checkpoint(path, ...) fills the claimed name and
    drops the claim; a job that ends without saving calls atomic_files.release_claim(path). A claim left by
    a process that is gone is removed by the next claim, save or listing in the folder.
    """
    return claim_path(folder, safe_checkpoint_name(stem), SUFFIX)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model from the file's own config, load its weights as float32, and put it in eval mode.

    In order, each step refusing the file with a CheckpointError before the next one costs anything: the
    archive's declared sizes, the restricted pickle reader (checkpoint_info), the configs and metadata, the
    stored shapes against those of the config's model (built on the meta device: nothing allocated), the
    records' checksums, then torch.load(weights_only=True) and finite, bounded weights.
    """
    path = Path(path)
    plain, _ = read_plain_payload(path)
    info = info_from_payload(path, plain)
    _check_shapes(path, info)
    check_record_checksums(path)
    payload = read_payload_with_torch(path, mmap=False)
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: its weights are missing or not tensors")
    state = current_state_keys(
        info.model_config, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    )
    _check_weight_values(path, state)
    try:
        model = build_model(info.model_config)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path.name}: its weights do not fit its model config ({first_line(err)})") from None
    return LoadedCheckpoint(model.to(device).eval(), info)


def expected_shapes(info: CheckpointInfo) -> dict[str, tuple[int, ...]]:
    """state_dict key -> shape of the model its config builds, without allocating it (the meta device)."""
    with torch.device("meta"):
        skeleton = build_model(info.model_config)
    return {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}


def _check_shapes(path: Path, info: CheckpointInfo) -> None:
    try:
        expected = expected_shapes(info)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path.name}: its model config does not build ({first_line(err)})") from None
    stored = current_state_keys(info.model_config, info.tensor_shapes)
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or unexpected:
        names = ", ".join([f"missing {k}" for k in missing[:2]] + [f"unexpected {k}" for k in unexpected[:2]])
        raise CheckpointError(f"{path.name}: its weights do not fit its model config ({names[:160]})")
    for key, shape in expected.items():
        if stored[key] != shape:
            raise CheckpointError(
                f"{path.name}: its weights do not fit its model config ({key[:60]} is stored "
                f"as {list(stored[key])}, its config builds {list(shape)})"
            )


def _check_weight_values(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Refuse NaN, inf and |w| > limits.MAX_ABS_WEIGHT: they load silently and then every output is garbage."""
    for key, value in state.items():
        if not value.is_floating_point() or value.numel() == 0:
            continue
        if not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(
                f"{path.name}: refused: {bad} of its weights in {key[:60]} are NaN or "
                f"infinite (a corrupted or diverged model)"
            )
        largest = float(value.abs().max())
        if largest > limits.MAX_ABS_WEIGHT:
            raise CheckpointError(
                f"{path.name}: refused: a weight in {key[:60]} is {largest:.3g}, beyond the "
                f"{limits.MAX_ABS_WEIGHT:g} no trained model reaches (a corrupted file)"
            )


def read_payload_with_torch(path: Path, mmap: bool) -> dict:
    """The whole payload through torch.load(weights_only=True), after the archive's sizes are checked."""
    try:
        # weights_only=True: a file can only hold tensors and plain values; a pickle with code is refused.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path.name}: refused: the file holds code or objects the app will not load ({_unpickler_reason(err)})"
        ) from None
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
        MemoryError,
    ) as err:
        raise CheckpointError(
            f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt ({first_line(err)})"
        ) from None
    return checked_payload(path, payload)


def _unpickler_reason(err: BaseException) -> str:
    """The refused global torch names ("it names posix.system"), not its advice text."""
    text = str(err)
    found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported global: ([\w.]+)", text)
    if found:
        return f"it names {found.group(1)}"
    if "WeightsUnpickler error:" in text:
        rest = text.split("WeightsUnpickler error:", 1)[1].strip()
        if rest:
            return rest.splitlines()[0].split(". ")[0][:120]
    return first_line(err)[:120]
