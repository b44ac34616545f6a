"""Builders of hostile and damaged checkpoint files (issue #15), shared by the unit tests and the AppTests.

CASES maps a case name to (builder, words): `builder(path, model)` writes the bad file at path (a file, a
folder, a link or a FIFO) from a good tiny model and returns the path it wrote, which is path itself except for
the old-format cases (named *.pt); `words` is a phrase the one-line refusal must contain. LOAD_ONLY names the
cases that listing accepts (it reads no weights) and loading refuses.

The files are built here byte by byte (a JSON header with an 8-byte length before it) or with the safetensors
package directly, not with save_checkpoint, so a case can hold what save_checkpoint would never write.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import safetensors.torch
import torch

from vae_core.engine import limits
from vae_core.engine.checkpoint_info import CHECKSUM_KEY, FORMAT_NAME, FORMAT_VERSION, content_checksum
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig, config_to_dict
from vae_core.engine.models import build_model
from vae_core.engine.replay import MAX_FRAMES, REPLAY_IMAGES, ReplayFrame, TrainingReplay
from vae_core.engine.replay_file import (
    CODES_KEY,
    GRIDS_KEY,
    INDICES_KEY,
    LABELS_KEY,
    OFFSETS_KEY,
    REPLAY_DOCUMENT_KEY,
    replay_arrays,
    replay_document,
)
from vae_core.engine.replay_recorder import decoder_grid_png, latent_plane

MARKER = "code-ran-marker"
MB = 2**20


def base_document(model, **changes) -> dict:
    """The document save_checkpoint writes for model, with changes."""
    values = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(TrainConfig(dataset="digits")),
        "metadata": {"dataset": "digits", "metrics": {"neg_elbo": 30.0}},
    }
    values.update(changes)
    return values


def write_checkpoint(path: Path, document, state: dict[str, torch.Tensor], checksum: bool = True) -> Path:
    """A checkpoint of any document (Python's json, unchecked) and state, with a correct checksum unless told."""
    text = document if isinstance(document, str) else json.dumps(document)
    unsigned = safetensors.torch.save(state, metadata={FORMAT_NAME: text})
    metadata = {FORMAT_NAME: text}
    if checksum:
        metadata[CHECKSUM_KEY] = content_checksum(text, unsigned[8 + int.from_bytes(unsigned[:8], "little") :])
    path.write_bytes(safetensors.torch.save(state, metadata=metadata))
    return path


def split_file(data: bytes) -> tuple[dict, bytes]:
    """(header, tensor bytes) of a safetensors file's bytes."""
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def joined_file(header, tensor_bytes: bytes) -> bytes:
    """A safetensors file's bytes from a header (any JSON value) and the bytes after it."""
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + tensor_bytes


def state_of(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


# --- builders: (path, model) -> the hostile file, written at path -------------------------------------------------


def with_model_config(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        document = base_document(model, model_config={**config_to_dict(model.config), **changes})
        return write_checkpoint(path, document, state_of(model))

    return build


def with_train_config(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        train = {**config_to_dict(TrainConfig(dataset="digits")), **changes}
        return write_checkpoint(path, base_document(model, train_config=train), state_of(model))

    return build


def with_metadata(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        return write_checkpoint(path, base_document(model, metadata={"dataset": "digits", **changes}), state_of(model))

    return build


def with_document(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        return write_checkpoint(path, base_document(model, **changes), state_of(model))

    return build


def with_document_text(text: str) -> Callable:
    def build(path: Path, model) -> Path:
        return write_checkpoint(path, text, state_of(model))

    return build


def with_weights(change: Callable[[dict], None]) -> Callable:
    def build(path: Path, model) -> Path:
        state = state_of(model)
        change(state)
        return write_checkpoint(path, base_document(model), state)

    return build


def first_weight(fill: float) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        key = next(iter(state))
        state[key][0, 0] = fill

    return change


def without_checksum(path: Path, model) -> Path:
    return write_checkpoint(path, base_document(model), state_of(model), checksum=False)


def with_header(change: Callable[[dict, bytes], tuple[object, bytes]]) -> Callable:
    """The good file with its header (a dict) and tensor bytes rewritten by change(header, tensor_bytes)."""

    def build(path: Path, model) -> Path:
        header, tensor_bytes = split_file(write_checkpoint(path, base_document(model), state_of(model)).read_bytes())
        path.write_bytes(joined_file(*change(header, tensor_bytes)))
        return path

    return build


def first_tensor(header: dict) -> dict:
    return header[next(name for name in header if name != "__metadata__")]


def huge_shape(header, tensor_bytes):
    first_tensor(header)["shape"] = [1_000_000, 1_000_000]
    return header, tensor_bytes


def unknown_dtype(header, tensor_bytes):
    first_tensor(header)["dtype"] = "F8_E4M3"
    return header, tensor_bytes


def overlapping_ranges(header, tensor_bytes):
    names = [name for name in header if name != "__metadata__"]
    first, second = header[names[0]], header[names[1]]
    size = second["data_offsets"][1] - second["data_offsets"][0]
    second["data_offsets"] = [first["data_offsets"][0], first["data_offsets"][0] + size]
    return header, tensor_bytes


def many_tensors(header, tensor_bytes):
    header.update(
        {f"extra.{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(limits.MAX_TENSORS + 1)}
    )
    return header, tensor_bytes


def not_a_tensor_entry(header, tensor_bytes):
    name = next(name for name in header if name != "__metadata__")
    header[name] = {"dtype": "F32"}
    return header, tensor_bytes


def header_of_empty_lists(path: Path, model) -> Path:
    """A header of exactly limits.MAX_HEADER_BYTES of nested empty lists, the costliest JSON to parse."""
    unit, prefix = b"[[]],", b'{"x":['
    body = unit * ((limits.MAX_HEADER_BYTES - len(prefix) - 2) // len(unit))
    text = (prefix + body[:-1] + b"]").ljust(limits.MAX_HEADER_BYTES - 1) + b"}"
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    return path


def header_length(length: int) -> Callable:
    """The good file with its first 8 bytes saying the header is length bytes long."""

    def build(path: Path, model) -> Path:
        data = write_checkpoint(path, base_document(model), state_of(model)).read_bytes()
        path.write_bytes(length.to_bytes(8, "little") + data[8:])
        return path

    return build


def appended(extra: bytes) -> Callable:
    def build(path: Path, model) -> Path:
        data = write_checkpoint(path, base_document(model), state_of(model)).read_bytes()
        path.write_bytes(data + extra)
        return path

    return build


def raw_bytes(content: bytes) -> Callable:
    def build(path: Path, model) -> Path:
        path.write_bytes(content)
        return path

    return build


def truncated(fraction: float) -> Callable:
    def build(path: Path, model) -> Path:
        path = save_checkpoint(path, model, TrainConfig(dataset="digits"))
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return build


def flipped_tensor_bytes(path: Path, model) -> Path:
    path = save_checkpoint(path, model, TrainConfig(dataset="digits"))
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    for i in range(start, start + 16):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def sparse_file(size: int) -> Callable:
    """A file of size bytes that takes no disk space (a hole): refused on its size alone."""

    def build(path: Path, model) -> Path:
        with open(path, "wb") as handle:
            handle.truncate(size)
        return path

    return build


def foreign_safetensors(path: Path, model) -> Path:
    """A plain state_dict saved with safetensors, as another project would: no document of ours."""
    safetensors.torch.save_file(state_of(model), path)
    return path


class RunsCode:
    """Unpickling calls function(*args): stands in for any code a malicious file could carry."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def old_format(code: bool, suffix: str = ".pt") -> Callable:
    """A torch pickle as earlier versions saved checkpoints, holding code when asked, at path with suffix."""

    def build(path: Path, model) -> Path:
        path = path.with_suffix(suffix)
        metadata = {"dataset": "digits", "note": RunsCode(os.system, f"touch {MARKER}") if code else "plain"}
        payload = {**base_document(model, format_version=1, metadata=metadata), "state_dict": state_of(model)}
        torch.save(payload, path)
        return path

    return build


def directory(path: Path, model) -> Path:
    path.mkdir()
    return path


def symlink_loop(path: Path, model) -> Path:
    path.symlink_to(path.name)
    return path


def dangling_symlink(path: Path, model) -> Path:
    path.symlink_to("nowhere.safetensors")
    return path


def symlink_to_device(path: Path, model) -> Path:
    path.symlink_to("/dev/zero")  # endless zeros: reading it would never end
    return path


def symlink_to_own_folder(path: Path, model) -> Path:
    path.symlink_to(".")
    return path


def fifo(path: Path, model) -> Path:
    os.mkfifo(path)  # reading it would block forever
    return path


def good_replay(model, frames: int = 3, images: int = 5) -> TrainingReplay:
    """A small replay of model that save_checkpoint would write: its grids drawn by the recorder's drawing."""
    extent = (-3.0, 3.0, -3.0, 3.0)
    png = decoder_grid_png(model, latent_plane(2), extent)
    generator = torch.Generator().manual_seed(0)
    return TrainingReplay(
        frames=tuple(
            ReplayFrame(step, step / 10, torch.randn(images, 2, generator=generator).half().numpy(), png)
            for step in range(0, 10 * frames, 10)
        ),
        labels=torch.arange(images).to(torch.uint8).numpy(),
        image_indices=torch.arange(images).numpy(),
        extent=extent,
        plane="z",
        prior_centre=(0.0, 0.0),
        steps_per_epoch=10,
    )


def with_replay(
    change_document: Callable[[dict], None] | None = None,
    change_arrays: Callable[[dict[str, torch.Tensor]], None] | None = None,
    *,
    entry: bool = True,
) -> Callable:
    """The good model with a good replay whose document entry and tensors are changed in place; entry=False leaves
    the document's replay entry out."""

    def build(path: Path, model) -> Path:
        replay = good_replay(model)
        fields = replay_document(replay)
        arrays = {name: torch.from_numpy(array) for name, array in replay_arrays(replay).items()}
        if change_document:
            change_document(fields)
        if change_arrays:
            change_arrays(arrays)
        document = base_document(model, **({REPLAY_DOCUMENT_KEY: fields} if entry else {}))
        return write_checkpoint(path, document, {**state_of(model), **arrays})

    return build


def first_png(change: Callable[[bytes], bytes]) -> Callable[[dict[str, torch.Tensor]], None]:
    """Rewrite the first frame's PNG bytes (the same length, or the offsets and grid_bytes would not match)."""

    def apply(arrays: dict[str, torch.Tensor]) -> None:
        end = int(arrays[OFFSETS_KEY][1])
        data = bytearray(arrays[GRIDS_KEY].numpy().tobytes())
        new = change(bytes(data[:end]))
        assert len(new) == end
        data[:end] = new
        arrays[GRIDS_KEY] = torch.frombuffer(data, dtype=torch.uint8).clone()

    return apply


def png_of_size(width: int) -> Callable[[bytes], bytes]:
    """The PNG with its IHDR claiming another width (same byte count)."""
    return lambda png: png[:16] + width.to_bytes(4, "big") + png[20:]


def set_array(key: str, value: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict[str, torch.Tensor]], None]:
    def apply(arrays: dict[str, torch.Tensor]) -> None:
        arrays[key] = value(arrays[key])

    return apply


def set_field(key: str, value) -> Callable[[dict], None]:
    return lambda fields: fields.update({key: value})


NOT_READ = "an old-format checkpoint (a torch pickle), which this version does not read"
CASES: dict[str, tuple[Callable, str]] = {
    # configs: type and range of every field
    "hidden-inf": (with_model_config(hidden_dims=[math.inf]), "hidden_dims entries must be a whole number"),
    "hidden-negative": (with_model_config(hidden_dims=[-5]), "hidden_dims entries must lie between 1 and"),
    "hidden-zero": (with_model_config(hidden_dims=[0]), "hidden_dims entries must lie between 1 and"),
    "hidden-ten-million": (with_model_config(hidden_dims=[10**7]), "hidden_dims entries must lie between"),
    "hidden-2.5M-27KB": (with_model_config(hidden_dims=[2_500_000]), "hidden_dims entries must lie between"),
    "hidden-too-many-layers": (with_model_config(hidden_dims=[4] * 50), "at most 8 entries"),
    "hidden-a-string": (with_model_config(hidden_dims="512"), "hidden_dims must be a list"),
    "too-many-parameters": (
        with_model_config(input_shape=[4, 256, 256], hidden_dims=[4096, 4096]),
        "parameters; the limit is",
    ),
    "conv-without-channels": (with_model_config(arch="conv", hidden_dims=[]), "conv body needs"),
    "latent-2.5": (with_model_config(latent_dim=2.5), "latent_dim must be a whole number"),
    "latent-nan": (with_model_config(latent_dim=math.nan), "latent_dim must be a whole number"),
    "latent-1e9": (with_model_config(latent_dim=10**9), "latent_dim must lie between"),
    "latent-bool": (with_model_config(latent_dim=True), "latent_dim must be a whole number"),
    "input-shape-huge": (with_model_config(input_shape=[1, 100_000, 100_000]), "input_shape height and width"),
    "input-shape-2d": (with_model_config(input_shape=[28, 28]), "input_shape must be (C, H, W)"),
    "beta-nan": (with_model_config(beta=math.nan), "beta must be a finite number"),
    "beta-inf": (with_model_config(beta=math.inf), "beta must be a finite number"),
    "sigma-negative": (with_model_config(gaussian_sigma=-1.0), "gaussian_sigma must lie between"),
    "kind-a-list": (with_model_config(kind=["vae"]), "kind must be one of"),
    "unknown-config-field": (with_model_config(attention_heads=8), "unknown ModelConfig fields"),
    "model-config-a-list": (with_document(model_config=[1, 2]), "model_config must be a mapping"),
    "model-config-missing": (with_document(model_config=None), "model_config must be a mapping"),
    "lr-nan": (with_train_config(lr=math.nan), "lr must be a finite number"),
    "lr-inf": (with_train_config(lr=math.inf), "lr must be a finite number"),
    "epochs-1e9": (with_train_config(epochs=10**9), "epochs must lie between"),
    "epochs-a-string": (with_train_config(epochs="10"), "epochs must be a whole number"),
    "train-dataset-123": (with_train_config(dataset=123), "dataset must be a short name"),
    # metadata the app reads, of the wrong type
    "created-at-int": (with_metadata(created_at=12345), "created_at must be str"),
    "dataset-123": (with_metadata(dataset=123), "dataset must be str"),
    "metrics-a-list": (with_metadata(metrics=[1.0, 2.0]), "metrics must be a mapping"),
    "metrics-a-string": (with_metadata(metrics="88.3"), "metrics must be a mapping"),
    "role-a-list": (with_metadata(role=["beta-sweep"]), "role must be str"),
    "group-a-dict": (with_metadata(group={"a": 1}), "group must be str"),
    "group-an-int": (with_metadata(group=7), "group must be str"),
    "zoo-name-float": (with_metadata(zoo_name=1.5), "zoo_name must be str"),
    "epochs-run-string": (with_metadata(epochs_run="[link](http://x)"), "epochs_run must be int"),
    "epochs-run-negative": (with_metadata(epochs_run=-1), "epochs_run must lie between"),
    "train-seconds-nan": (with_metadata(train_seconds=math.nan), "train_seconds must be a non-negative"),
    "history-a-string": (with_metadata(history="x"), "history must be a list"),
    "role-100k-chars": (with_metadata(role="x" * 100_000), "role is 100000 characters long"),
    "metadata-a-list": (with_document(metadata=[1, 2]), "metadata must be a mapping"),
    "metadata-250k-values": (with_metadata(note=[0] * 250_000), "metadata is too large"),
    "metadata-nested-deep": (with_metadata(note=json.loads("[" * 200 + "]" * 200)), "nested too deeply"),
    "document-nested-100k": (with_document_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}"), "nested too deeply"),
    "document-not-json": (with_document_text("{'format': 'vae-latent-explorer'"), "its document is not JSON"),
    "document-a-list": (with_document_text("[1, 2]"), "not a VAE Latent Explorer checkpoint"),
    "newer-format": (with_document(format_version=FORMAT_VERSION + 1), "newer vae_core"),
    "format-version-bool": (with_document(format_version=True), "has no format version"),
    "no-checksum": (without_checksum, "it has no checksum"),
    "foreign-safetensors": (foreign_safetensors, "not a VAE Latent Explorer checkpoint"),
    # weights: listing reads only their index (LOAD_ONLY below: refused when loaded)
    "weights-nan": (with_weights(first_weight(math.nan)), "NaN or infinite"),
    "weights-inf": (with_weights(first_weight(math.inf)), "NaN or infinite"),
    "weights-1e30": (with_weights(first_weight(1e30)), "beyond the 1e+06"),
    "weights-wrong-shape": (
        with_weights(lambda s: s.update({next(iter(s)): torch.zeros(3, 3)})),
        "is stored as [3, 3]",
    ),
    "weights-missing-key": (with_weights(lambda s: s.pop(next(iter(s)))), "missing"),
    "weights-extra-key": (with_weights(lambda s: s.update(extra=torch.zeros(1))), "unexpected extra"),
    "weights-int64": (with_weights(lambda s: s.update({next(iter(s)): s[next(iter(s))].long()})), "stored as I64"),
    "weights-flipped-bytes": (flipped_tensor_bytes, "do not match its checksum"),
    # a training replay (vae_core.engine.replay_file): its document entry is read when listing...
    "replay-a-list": (with_document(replay=[1, 2]), "replay must be a mapping"),
    "replay-too-many-frames": (
        with_replay(set_field("frames", MAX_FRAMES + 1)),
        "replay.frames must be a whole number",
    ),
    "replay-too-many-images": (with_replay(set_field("images", REPLAY_IMAGES + 1)), "replay.images must be a whole"),
    "replay-plane-unknown": (with_replay(set_field("plane", "tsne")), "replay.plane must be one of"),
    "replay-extent-nan": (
        with_replay(set_field("extent", [math.nan, 1.0, 0.0, 1.0])),
        "replay.extent must be 4 finite",
    ),
    "replay-extent-inverted": (with_replay(set_field("extent", [1.0, -1.0, 0.0, 1.0])), "x_min < x_max"),
    "replay-steps-backwards": (with_replay(set_field("steps", [20, 10, 0])), "replay.steps must be increasing"),
    "replay-steps-miscounted": (with_replay(set_field("steps", [0, 10])), "replay.steps must be a list of 3"),
    "replay-prior-centre-text": (with_replay(set_field("prior_centre", "0,0")), "replay.prior_centre must be 2"),
    # ... and its tensors' index when loading (LOAD_ONLY)
    "replay-grid-bytes-1MB": (with_replay(set_field("grid_bytes", 10**6)), "more than 3 PNGs of 48x48 pixels"),
    "replay-tensor-missing": (with_replay(change_arrays=lambda a: a.pop(LABELS_KEY)), "its tensors do not match it"),
    "replay-tensors-without-entry": (with_replay(entry=False), "replay tensors without a replay entry"),
    "replay-codes-float32": (with_replay(change_arrays=set_array(CODES_KEY, lambda t: t.float())), "stored as F32"),
    "replay-codes-3d": (
        with_replay(change_arrays=set_array(CODES_KEY, lambda t: torch.zeros(3, 5, 3).half())),
        "is stored as F16 [3, 5, 3]",
    ),
    # the header: sizes, types and byte ranges
    "header-declares-1GiB": (header_length(2**30), "its header declares 1,073,741,824 bytes"),
    "header-past-the-end": (header_length(10**6), "its header runs past the end of the file"),
    "header-1MiB-of-empty-lists": (header_of_empty_lists, "not a VAE Latent Explorer checkpoint"),
    "header-a-list": (with_header(lambda h, b: ([h], b)), "its header is not a JSON object"),
    "header-a-string": (with_header(lambda h, b: ("not json", b)), "its header is not a JSON object"),
    "header-not-json": (raw_bytes(len(b"{not json}").to_bytes(8, "little") + b"{not json}"), "its header is not JSON"),
    "tensor-huge-shape": (with_header(huge_shape), "needs 4,000,000,000,000 bytes"),
    "tensor-unknown-dtype": (with_header(unknown_dtype), "has dtype 'F8_E4M3'"),
    "tensor-ranges-overlap": (with_header(overlapping_ranges), "starts at byte"),
    "tensor-not-an-entry": (with_header(not_a_tensor_entry), "is not a tensor entry"),
    "tensors-over-the-limit": (with_header(many_tensors), f"more than the {limits.MAX_TENSORS} a model may have"),
    "trailing-bytes": (appended(b"\0" * 64), "its tensors take"),
    "file-over-the-size-limit": (sparse_file(limits.MAX_TENSOR_BYTES + 2 * MB), "more than any checkpoint"),
    "truncated-half": (truncated(0.5), "not a readable checkpoint, perhaps truncated"),
    "truncated-to-header": (truncated(0.01), "not a readable checkpoint, perhaps truncated"),
    "random-bytes": (raw_bytes(bytes(range(256)) * 16), "not a readable checkpoint"),
    "empty-file": (raw_bytes(b""), "shorter than a safetensors header"),
    # the old format: a torch pickle is never opened (named *.pt) nor parsed (named *.safetensors)
    "old-format": (old_format(code=False), NOT_READ),
    "old-format-with-code": (old_format(code=True), NOT_READ),
    "old-format-named-safetensors": (old_format(code=True, suffix=".safetensors"), NOT_READ),
    # file-system oddities
    "a-directory": (directory, "a folder, not a file"),
    "symlink-loop": (symlink_loop, "a symbolic link that leads back to itself (a loop)"),
    "dangling-symlink": (dangling_symlink, "a symbolic link to nothing (dangling"),
    "symlink-to-dev-zero": (symlink_to_device, "a symbolic link to a device or other special file"),
    "symlink-to-its-folder": (symlink_to_own_folder, "a symbolic link to a folder, not a file"),
    "a-fifo": (fifo, "not a regular file"),
}

# Listing reads no weights: these files are listed, and refused when loaded (the app marks the model failed).
LOAD_ONLY = {
    "weights-nan",
    "weights-inf",
    "weights-1e30",
    "weights-wrong-shape",
    "weights-missing-key",
    "weights-extra-key",
    "weights-int64",
    "weights-flipped-bytes",
    "replay-grid-bytes-1MB",
    "replay-tensor-missing",
    "replay-tensors-without-entry",
    "replay-codes-float32",
    "replay-codes-3d",
}

# Replays whose structure is sound and whose values are not: the model lists and loads, and load_replay refuses
# the replay with a CheckpointError containing the words (vae_core.engine.replay_file says why).
REPLAY_VALUE_CASES: dict[str, tuple[Callable, str]] = {
    "replay-codes-nan": (with_replay(change_arrays=set_array(CODES_KEY, lambda t: t * math.nan)), "not all finite"),
    "replay-png-signature": (with_replay(change_arrays=first_png(lambda p: b"GIF89a\0\0" + p[8:])), "is not a PNG"),
    "replay-png-40-wide": (with_replay(change_arrays=first_png(png_of_size(40))), "is 40x48 pixels, not 48x48"),
    "replay-offsets-scrambled": (
        with_replay(change_arrays=set_array(OFFSETS_KEY, lambda t: t.flip(0))),
        "grid offsets do not split",
    ),
    "replay-index-negative": (
        with_replay(change_arrays=set_array(INDICES_KEY, lambda t: t - 100)),
        "not indices of a test split",
    ),
}


def tiny_model():
    """The good model every bad file starts from: an 8x8 VAE, 2-D latent, hidden 16-8, seeded."""
    torch.manual_seed(0)
    return build_model(ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16, 8))).eval()
