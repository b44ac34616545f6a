"""Checkpoint files: safetensors weights and a JSON document of configs and metadata, written atomically.

Reading what a file says about itself (configs, metadata, tensor shapes) is checkpoint_info's job, without
torch; this module adds torch: saving, and loading the weights (with the safetensors package) after
checkpoint_info has accepted the file.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import safetensors
import safetensors.torch
import torch

from vae_core import __version__
from vae_core.engine import limits
from vae_core.engine.atomic_files import claim_path, release_claim, write_atomically
from vae_core.engine.checkpoint_info import (
    CHECKSUM_KEY,
    FLOAT_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    SUFFIX,
    CheckpointError,
    CheckpointHeader,
    CheckpointInfo,
    check_checksum,
    content_checksum,
    encode_document,
    first_line,
    info_from_header,
    read_checkpoint_file,
    safe_checkpoint_name,
)
from vae_core.engine.config import TrainConfig, config_to_dict
from vae_core.engine.models import LatentModel, build_model
from vae_core.engine.replay import TrainingReplay
from vae_core.engine.replay_file import (
    REPLAY_DOCUMENT_KEY,
    expected_replay_tensors,
    has_replay_name,
    replay_arrays,
    replay_document,
    replay_from_arrays,
)

__all__ = [
    "LoadedCheckpoint",
    "checked_weights",
    "checkpoint_bytes",
    "claim_checkpoint_path",
    "load_checkpoint",
    "load_replay",
    "model_from_weights",
    "read_weights",
    "save_checkpoint",
]


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
    replay: TrainingReplay | None = None,
) -> Path:
    """Write model weights, configs and metadata to path (ending in .safetensors) atomically.

    half: store floating-point weights as float16 (half the size); loading restores float32.
    replay: the run's training replay, stored beside the weights (vae_core.engine.replay_file); load_replay reads it.
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        raise ValueError(f"{path.name}: a checkpoint's file name ends in {SUFFIX}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    if replay is not None:
        state.update({name: torch.from_numpy(array) for name, array in replay_arrays(replay).items()})
    meta = {
        "dataset": train_config.dataset,
        "seed": train_config.seed,
        "history": list(history or []),
        "metrics": dict(metrics or {}),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "vae_core": __version__,
            "torch": str(torch.__version__),
            "safetensors": safetensors.__version__,
            "python": platform.python_version(),
        },
        "stored_dtype": "float16" if half else "float32",
        "n_parameters": sum(p.numel() for p in model.parameters()),
        **(metadata or {}),
    }
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_config),
        "metadata": meta,
    }
    if replay is not None:
        document[REPLAY_DOCUMENT_KEY] = replay_document(replay)
    text = encode_document(document)  # refuses a non-plain value before any file is touched
    # Serialised inside the write, so a Ctrl-C meanwhile is held by write_atomically like one during the write.
    written = write_atomically(path, lambda handle: handle.write(checkpoint_bytes(text, state)))
    release_claim(written)  # if claim_checkpoint_path reserved this name, it is filled now
    return written


def checkpoint_bytes(document_text: str, state: dict[str, torch.Tensor]) -> bytes:
    """A checkpoint file's bytes: the tensors of state, with the document and its checksum in the header."""
    unsigned = safetensors.torch.save(state, metadata={FORMAT_NAME: document_text})
    # The tensors' bytes do not depend on the metadata: they are the same once the checksum is added.
    tensor_bytes = memoryview(unsigned)[8 + int.from_bytes(unsigned[:8], "little") :]
    checksum = content_checksum(document_text, tensor_bytes)
    return safetensors.torch.save(state, metadata={FORMAT_NAME: document_text, CHECKSUM_KEY: checksum})


def claim_checkpoint_path(folder: str | Path, stem: str) -> Path:
    """Reserve a free checkpoint name in folder: stem.safetensors, else stem-2.safetensors, ... (atomic).

    For a job that saves much later (a training started from the app): two jobs never get the same name, and
    a file saved without a claim is never overwritten. save_checkpoint(path, ...) fills the claimed name and
    drops the claim; a job that ends without saving calls atomic_files.release_claim(path). A claim left by
    a process that is gone is removed by the next claim, save or listing in the folder.
    """
    return claim_path(folder, safe_checkpoint_name(stem), SUFFIX)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model from the file's own config, load its weights as float32, and put it in eval mode.

    In order, each step refusing the file with a CheckpointError before the next one costs anything: its size
    and header (checkpoint_info), the configs and metadata, the stored dtypes and shapes against those of the
    config's model (built on the meta device: nothing allocated), the checksum, then the weights through
    safetensors, finite and bounded, and the model they fill.
    """
    path = Path(path)
    # The file's bytes live only during this call: the tensors hold copies, so they are freed before the checks.
    info, state = read_weights(path, *read_checkpoint_file(path))
    _check_weight_values(path, state)
    return LoadedCheckpoint(model_from_weights(path, info, state).to(device).eval(), info)


def read_weights(path: Path, header: CheckpointHeader, data: bytes) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    """A checkpoint's info and float32 weights from its bytes (data, with its checked header): its configs, the
    tensors' dtypes and shapes and the checksum are checked, not the weights' values. path names it in messages."""
    info = info_from_header(path, header)
    _check_tensor_index(path, info, header)
    check_checksum(path, header, data)
    try:
        state = safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"{path.name}: not a readable checkpoint, perhaps truncated or corrupt ({first_line(err)})"
        ) from None
    # The replay's tensors are read by load_replay, never loaded into the model.
    return info, {k: v.float() if v.is_floating_point() else v for k, v in state.items() if not has_replay_name(k)}


def load_replay(path: str | Path) -> TrainingReplay | None:
    """The training replay a checkpoint carries, or None when it has none.

    The file passes load_checkpoint's checks of its header, tensor index and checksum first; then the replay's
    values are checked (vae_core.engine.replay_file.replay_from_arrays). CheckpointError says what is wrong.
    """
    path = Path(path)
    header, data = read_checkpoint_file(path)
    info = info_from_header(path, header)
    if info.replay is None:
        return None
    _check_tensor_index(path, info, header)
    check_checksum(path, header, data)
    arrays = {}
    for name, (dtype, _) in expected_replay_tensors(info.replay, info.model_config.input_shape).items():
        entry = header.tensors[name]
        start, end = header.data_offset + entry.start, header.data_offset + entry.end
        arrays[name] = np.frombuffer(data[start:end], dtype=_NUMPY_DTYPES[dtype]).reshape(entry.shape).copy()
    try:
        return replay_from_arrays(info.replay, arrays, info.model_config.input_shape)
    except ValueError as err:
        raise CheckpointError(f"{path.name}: its training replay is refused ({first_line(err)})") from None


_NUMPY_DTYPES: dict[str, np.dtype] = {"F16": np.dtype("<f2"), "U8": np.dtype("u1"), "I64": np.dtype("<i8")}


def checked_weights(
    path: Path, header: CheckpointHeader, data: bytes
) -> tuple[CheckpointInfo, dict[str, torch.Tensor]]:
    """read_weights, and the weights' values checked: every check of load_checkpoint but the model's own."""
    info, state = read_weights(path, header, data)
    _check_weight_values(path, state)
    return info, state


def model_from_weights(path: Path, info: CheckpointInfo, state: dict[str, torch.Tensor]) -> LatentModel:
    """The model info's config builds, with state loaded (strict); CheckpointError if they do not fit."""
    try:
        model = build_model(info.model_config)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path.name}: its weights do not fit its model config ({first_line(err)})") from None
    return model


def expected_tensors(info: CheckpointInfo) -> dict[str, torch.Tensor]:
    """state_dict of the model its config builds, on the meta device (shapes and dtypes, nothing allocated)."""
    with torch.device("meta"):
        skeleton = build_model(info.model_config)
    return dict(skeleton.state_dict())


def _check_tensor_index(path: Path, info: CheckpointInfo, header: CheckpointHeader) -> None:
    """The stored tensors are exactly the config's model's: the same names and shapes, float where it has floats."""
    try:
        expected = expected_tensors(info)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path.name}: its model config does not build ({first_line(err)})") from None
    stored = {name: entry for name, entry in header.tensors.items() if not has_replay_name(name)}
    _check_replay_index(path, info, header)
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or unexpected:
        names = ", ".join([f"missing {k}" for k in missing[:2]] + [f"unexpected {k}" for k in unexpected[:2]])
        raise CheckpointError(f"{path.name}: its weights do not fit its model config ({names[:160]})")
    for key, tensor in expected.items():
        entry = stored[key]
        if entry.shape != tuple(tensor.shape):
            raise CheckpointError(
                f"{path.name}: its weights do not fit its model config ({key[:60]} is stored "
                f"as {list(entry.shape)}, its config builds {list(tensor.shape)})"
            )
        if tensor.is_floating_point() != (entry.dtype in FLOAT_DTYPES):
            raise CheckpointError(
                f"{path.name}: its weights do not fit its model config ({key[:60]} is stored as {entry.dtype}, "
                f"its config builds {str(tensor.dtype).removeprefix('torch.')})"
            )


def _check_replay_index(path: Path, info: CheckpointInfo, header: CheckpointHeader) -> None:
    """The replay tensors are exactly those the document's replay entry promises, of its dtypes and shapes."""
    stored = {name: entry for name, entry in header.tensors.items() if has_replay_name(name)}
    if info.replay is None:
        if stored:
            raise CheckpointError(
                f"{path.name}: it holds replay tensors without a replay entry ({next(iter(stored))[:60]})"
            )
        return
    try:
        expected = expected_replay_tensors(info.replay, info.model_config.input_shape)
    except ValueError as err:
        raise CheckpointError(f"{path.name}: invalid training replay ({first_line(err)})") from None
    if set(stored) != set(expected):
        names = sorted(set(stored) ^ set(expected))
        raise CheckpointError(
            f"{path.name}: invalid training replay (its tensors do not match it: {', '.join(names)[:120]})"
        )
    for name, (dtype, shape) in expected.items():
        entry = stored[name]
        if entry.dtype != dtype or entry.shape != shape:
            raise CheckpointError(
                f"{path.name}: invalid training replay ({name} is stored as {entry.dtype} {list(entry.shape)}, "
                f"its replay entry needs {dtype} {list(shape)})"
            )


def _check_weight_values(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Refuse NaN, inf and |w| > limits.MAX_ABS_WEIGHT: they load silently and then every output is garbage."""
    for key, value in state.items():
        if not value.is_floating_point() or value.numel() == 0:
            continue
        low, high = (float(v) for v in torch.aminmax(value))  # NaN if any is NaN; no temporary the tensor's size
        if not (math.isfinite(low) and math.isfinite(high)):
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(
                f"{path.name}: refused: {bad} of its weights in {key[:60]} are NaN or "
                f"infinite (a corrupted or diverged model)"
            )
        largest = max(-low, high)
        if largest > limits.MAX_ABS_WEIGHT:
            raise CheckpointError(
                f"{path.name}: refused: a weight in {key[:60]} is {largest:.3g}, beyond the "
                f"{limits.MAX_ABS_WEIGHT:g} no trained model reaches (a corrupted file)"
            )
