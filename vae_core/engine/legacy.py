"""The old checkpoint format, read once on request to convert it: `python -m vae_core convert <folder or file>`.

Before safetensors, a checkpoint was a torch pickle (`.pt`) of {"format", "format_version": 1, "model_config",
"train_config", "metadata", "state_dict"}. The app never opens such a file: checkpoint_info names it with this
command. Converting reads it with torch.load(weights_only=True), torch's public loader that accepts tensors and
plain values only and refuses a pickle naming anything else without running it, because the user asked for that
file to be read. The new file is checked as load_checkpoint checks one and must give back the old weights
exactly (float16 stays float16) and the same configs and metadata, before it is written, atomically, beside the
old file; the old file is left as it was.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch

from vae_core.engine import limits
from vae_core.engine.atomic_files import claim_path, release_claim, write_atomically
from vae_core.engine.checkpoint_info import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OLD_SUFFIXES,
    SUFFIX,
    CheckpointError,
    encode_document,
    first_line,
    parse_checkpoint_bytes,
)
from vae_core.engine.checkpoints import checked_weights, checkpoint_bytes, model_from_weights
from vae_core.engine.config import ModelConfig, config_from_dict
from vae_core.engine.models import current_state_keys

OLD_FORMAT_VERSION = 1  # the torch pickle's format_version; the same document, in another container


class Conversion(NamedTuple):
    source: Path  # the old file
    target: Path  # the .safetensors beside it
    note: str  # what was done (converted, or left alone), in one line


def old_checkpoints(path: Path) -> list[Path]:
    """The old-format files a conversion of path is about: path itself, or the folder path's *.pt files."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.name.endswith(OLD_SUFFIXES) and not p.name.startswith("."))
    if path.name.endswith(SUFFIX):
        raise ValueError(f"{path}: already a {SUFFIX} checkpoint; nothing to convert")
    if not path.name.endswith(OLD_SUFFIXES):
        raise ValueError(f"{path}: not an old-format checkpoint (a folder, or a file ending in .pt)")
    return [path]


def convert_old_checkpoint(source: str | Path) -> Conversion:
    """Write the checkpoint of the old-format file source as source.with_suffix(".safetensors").

    A target that is already there is left alone (the note says so). CheckpointError, and nothing written, when
    source is not an old-format checkpoint this version can read, or does not convert exactly.
    """
    source = Path(source)
    target = source.with_suffix(SUFFIX)
    if target.exists():
        return Conversion(source, target, f"{source.name}: left alone, {target.name} is already there")
    payload = _read_old(source)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": payload.get("model_config"),
        "train_config": payload.get("train_config"),
        "metadata": payload.get("metadata"),
    }
    try:
        text = encode_document(document)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source.name}: invalid metadata ({first_line(err)})") from None
    try:
        stored_config = payload.get("model_config")
        if not isinstance(stored_config, dict):
            raise TypeError("it is missing or not a mapping")
        model_config = config_from_dict(ModelConfig, stored_config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source.name}: invalid model config ({first_line(err)})") from None
    # contiguous copies, no storage shared; an older layout's keys (the CVAE's before its shared bodies) renamed
    state = current_state_keys(model_config, {k: v.clone() for k, v in payload["state_dict"].items()})
    content = checkpoint_bytes(text, state)
    # Every check load_checkpoint makes, on the bytes about to be written (messages name the old file), and an
    # exact round trip.
    info, weights = checked_weights(source, parse_checkpoint_bytes(source, content), content)
    model_from_weights(source, info, weights)
    for key, value in state.items():
        if not torch.equal(weights[key], value.float() if value.is_floating_point() else value):
            raise CheckpointError(f"{source.name}: {key[:60]} does not read back as stored; nothing written")
    claimed = claim_path(source.parent, target.stem, SUFFIX)  # a training job may be about to save this name
    if claimed != target:
        release_claim(claimed)
        return Conversion(source, target, f"{source.name}: left alone, {target.name} is already taken")
    try:
        write_atomically(target, lambda handle: handle.write(content))
    finally:
        release_claim(target)
    dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in state.values()})
    return Conversion(
        source,
        target,
        f"converted {source.name} -> {target.name} ({len(state)} tensors, {', '.join(dtypes)}, "
        f"{len(content) / 1e6:.2f} MB); {source.name} is left as it was: delete it when you no longer need it",
    )


def _read_old(source: Path) -> dict[str, Any]:
    """The old file's payload through torch.load(weights_only=True), once its size and archive are plausible."""
    if not source.is_file():
        raise CheckpointError(f"{source}: {'not a regular file' if source.exists() else 'no such checkpoint file'}")
    bound = limits.MAX_TENSOR_BYTES + limits.MAX_HEADER_BYTES + 2**20
    try:
        if source.stat().st_size > bound or not zipfile.is_zipfile(source):
            raise CheckpointError(f"{source.name}: not an old-format checkpoint (torch.save's zip archive)")
        with zipfile.ZipFile(source) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        raise CheckpointError(f"{source.name}: not a readable checkpoint ({first_line(err)})") from None
    if declared > bound:  # a deflated record that would inflate far past any model's weights
        raise CheckpointError(f"{source.name}: refused: its records would inflate to {declared / 2**20:.0f} MB")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{source.name}: refused: it holds code or objects torch's safe loader does not load ({_refused(err)})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise CheckpointError(f"{source.name}: not a readable checkpoint ({first_line(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{source.name}: not a VAE Latent Explorer checkpoint")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= OLD_FORMAT_VERSION:
        raise CheckpointError(f"{source.name}: not of the old format version {OLD_FORMAT_VERSION}")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"{source.name}: its weights are missing or not tensors")
    return payload


def _refused(err: BaseException) -> str:
    """What torch's safe loader refused ("it names posix.system"), not its page of advice."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err)) or re.search(r"Unsupported global: ([\w.]+)", str(err))
    return f"it names {found.group(1)}" if found else first_line(err)[:120]
