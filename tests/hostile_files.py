"""Builders of hostile and damaged checkpoint files (issue #15), shared by the unit tests and the AppTests.

CASES maps a case name to (builder, words): `builder(path, model)` writes the bad file at path (a file, a
folder, a link or a FIFO) from a good tiny model and returns the path; `words` is a phrase the one-line refusal
must contain. LOAD_ONLY names the cases that listing accepts (it reads no weights) and loading refuses.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from vae_core.engine.checkpoint_info import FORMAT_NAME, FORMAT_VERSION
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig, config_to_dict
from vae_core.engine.models import build_model

MARKER = "code-ran-marker"
MB = 2**20


def base_payload(model, **changes) -> dict:
    values = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(TrainConfig(dataset="digits")),
        "metadata": {"dataset": "digits", "metrics": {"neg_elbo": 30.0}},
        "state_dict": {k: v.clone() for k, v in model.state_dict().items()},
    }
    values.update(changes)
    return values


class RunsCode:
    """Unpickling calls function(*args): stands in for any code a malicious file could carry."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


# --- builders: (path, model) -> the hostile file, written at path -------------------------------------------------


def with_model_config(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        torch.save(base_payload(model, model_config={**config_to_dict(model.config), **changes}), path)
        return path

    return build


def with_train_config(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        torch.save(base_payload(model, train_config={**config_to_dict(TrainConfig(dataset="digits")), **changes}), path)
        return path

    return build


def with_metadata(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        torch.save(base_payload(model, metadata={"dataset": "digits", **changes}), path)
        return path

    return build


def with_payload(**changes) -> Callable:
    def build(path: Path, model) -> Path:
        torch.save(base_payload(model, **changes), path)
        return path

    return build


def with_weights(change: Callable[[dict], None]) -> Callable:
    def build(path: Path, model) -> Path:
        state = {k: v.clone() for k, v in model.state_dict().items()}
        change(state)
        torch.save(base_payload(model, state_dict=state), path)
        return path

    return build


def first_weight(fill: float) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        key = next(iter(state))
        state[key][0, 0] = fill

    return change


def shared_references(depth: int = 9, width: int = 10):
    """A "billion laughs": width**depth leaves, but only depth lists in the pickle."""
    value: list = [0] * width
    for _ in range(depth):
        value = [value] * width
    return value


def nested(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def code(function, *args) -> Callable:
    def build(path: Path, model) -> Path:
        torch.save(base_payload(model, metadata={"note": RunsCode(function, *args)}), path)
        return path

    return build


def marker_args(function_name: str):
    """Arguments that make each function create the marker file, if it were ever called."""
    return {
        "system": (f"touch {MARKER}",),
        "open": (MARKER, "w"),
        "eval": (f"open({MARKER!r}, 'w')",),
        "exec": (f"open({MARKER!r}, 'w')",),
    }[function_name]


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
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)  # the local header's
    start = info.header_offset + 30 + name_length + extra_length
    for i in range(start, start + 16):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def rezipped(transform: Callable[[dict[str, bytes]], dict[str, bytes]], compress: int = zipfile.ZIP_STORED):
    """The good file's members, transformed, written back as a zip."""

    def build(path: Path, model) -> Path:
        good = save_checkpoint(path, model, TrainConfig(dataset="digits"))
        with zipfile.ZipFile(good) as archive:
            members = {i.filename: archive.read(i) for i in archive.infolist()}
        members = transform(members)
        with zipfile.ZipFile(good, "w", compression=compress) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return good

    return build


def pickle_member(members: dict[str, bytes]) -> str:
    return next(n for n in members if n.endswith("/data.pkl"))


def shorter_record(members):
    name = next(n for n in members if n.endswith("/data/0"))
    members[name] = members[name][:-4]
    return members


def many_members(members):
    members.update({f"bad/extra/{i}": b"" for i in range(2000)})
    return members


def lying_pickle_size(path: Path, model) -> Path:
    """A zip whose central directory says data.pkl inflates to 1 GiB (it does not): refused on the number."""
    path = save_checkpoint(path, model, TrainConfig(dataset="digits"))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data.pkl"))
    central = data.find(b"PK\x01\x02")
    while True:  # data.pkl's central directory entry
        name_length, extra, comment = struct.unpack_from("<HHH", data, central + 28)
        if data[central + 46 : central + 46 + name_length].decode() == info.filename:
            break
        central = data.find(b"PK\x01\x02", central + 46 + name_length + extra + comment)
    struct.pack_into("<I", data, central + 24, 2**30)
    struct.pack_into("<I", data, info.header_offset + 22, 2**30)
    path.write_bytes(bytes(data))
    return path


def deflate_bomb(inflated_bytes: int, member: str = "data.pkl") -> Callable:
    """A small archive whose pickle (or first tensor record) really inflates to inflated_bytes."""

    def build(path: Path, model) -> Path:
        good = save_checkpoint(path, model, TrainConfig(dataset="digits"))
        with zipfile.ZipFile(good) as archive:
            members = {i.filename: archive.read(i) for i in archive.infolist()}
        target = next(n for n in members if n.endswith(f"/{member}"))
        chunk = bytes(16 * MB)
        with zipfile.ZipFile(good, "w") as archive:
            for name, data in members.items():
                if name != target:
                    archive.writestr(name, data)
                    continue
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as handle:
                    handle.write(data)
                    for _ in range(inflated_bytes // len(chunk)):
                        handle.write(chunk)
        return good

    return build


def directory(path: Path, model) -> Path:
    path.mkdir()
    return path


def symlink_loop(path: Path, model) -> Path:
    path.symlink_to(path.name)
    return path


def dangling_symlink(path: Path, model) -> Path:
    path.symlink_to("nowhere.pt")
    return path


def fifo(path: Path, model) -> Path:
    os.mkfifo(path)  # reading it would block forever
    return path


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
    "model-config-a-list": (with_payload(model_config=[1, 2]), "model_config must be a mapping"),
    "model-config-missing": (with_payload(model_config=None), "model_config must be a mapping"),
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
    "metadata-a-list": (with_payload(metadata=[1, 2]), "metadata must be a mapping"),
    "metadata-int-keys": (with_metadata(split_sizes={1: 2}), "has a key of type int"),
    "metadata-billion-laughs": (with_metadata(note=shared_references()), "metadata is too large"),
    "metadata-nested-deep": (with_metadata(note=nested(200)), "nested too deeply"),
    "tensor-in-metadata": (with_metadata(note=torch.zeros(3)), "holds a TensorRecord"),
    # weights
    "weights-nan": (with_weights(first_weight(math.nan)), "NaN or infinite"),
    "weights-inf": (with_weights(first_weight(math.inf)), "NaN or infinite"),
    "weights-1e30": (with_weights(first_weight(1e30)), "beyond the 1e+06"),
    "weights-wrong-shape": (
        with_weights(lambda s: s.update({next(iter(s)): torch.zeros(3, 3)})),
        "is stored as [3, 3]",
    ),
    "weights-missing-key": (with_weights(lambda s: s.pop(next(iter(s)))), "missing"),
    "weights-extra-key": (with_weights(lambda s: s.update(extra=torch.zeros(1))), "unexpected extra"),
    "weights-not-a-dict": (with_payload(state_dict=[1, 2]), "its weights are missing or not tensors"),
    "weights-are-lists": (with_payload(state_dict={"w": [1.0]}), "its weights are missing or not tensors"),
    "weights-flipped-bytes": (flipped_tensor_bytes, "Bad CRC-32"),
    "tensor-record-short": (rezipped(shorter_record), "of the wrong size"),
    # archives
    "pickle-declares-1GiB": (lying_pickle_size, "its pickle would inflate to 1024 MB"),
    "pickle-inflates-64MiB": (deflate_bomb(64 * MB), "its pickle would inflate to 64 MB"),
    "archive-2000-members": (rezipped(many_members), "members"),
    "archive-no-pickle": (
        rezipped(lambda m: {k: v for k, v in m.items() if not k.endswith("data.pkl")}),
        "no single data.pkl",
    ),
    "archive-two-pickles": (rezipped(lambda m: {**m, "other/data.pkl": m[pickle_member(m)]}), "no single data.pkl"),
    "truncated-half": (truncated(0.5), "not a readable checkpoint"),
    "truncated-to-header": (truncated(0.01), "not a readable checkpoint"),
    "random-bytes": (raw_bytes(bytes(range(256)) * 16), "not a PyTorch zip archive"),
    "empty-file": (raw_bytes(b""), "not a PyTorch zip archive"),
    "a-plain-pickle": (raw_bytes(pickle.dumps({"format": FORMAT_NAME})), "not a PyTorch zip archive"),
    "foreign-state-dict": (
        lambda path, model: torch.save(model.state_dict(), path) or path,
        "not a VAE Latent Explorer checkpoint",
    ),
    "newer-format": (with_payload(format_version=FORMAT_VERSION + 1), "newer vae_core"),
    "format-version-bool": (with_payload(format_version=True), "has no format version"),
    # code and objects in the pickle
    "code-posix-system": (code(os.system, *marker_args("system")), "(it names posix.system)"),
    "code-eval": (code(eval, *marker_args("eval")), "(it names __builtin__.eval)"),
    "code-exec": (code(exec, *marker_args("exec")), "(it names __builtin__.exec)"),
    "code-open": (code(open, *marker_args("open")), "(it names io.open)"),
    "torch-size-in-metadata": (with_metadata(shape=torch.Size([2, 3])), "(it names torch.Size)"),
    "a-parameter-not-a-tensor": (
        with_payload(state_dict={"w": torch.nn.Parameter(torch.zeros(2))}),
        "(it names torch._utils._rebuild_parameter)",
    ),
    # file-system oddities
    "a-directory": (directory, "a folder, not a file"),
    "symlink-loop": (symlink_loop, "a symbolic link that leads to no file"),
    "dangling-symlink": (dangling_symlink, "a symbolic link that leads to no file"),
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
    "weights-flipped-bytes",
}


def tiny_model():
    """The good model every bad file starts from: an 8x8 VAE, 2-D latent, hidden 16-8, seeded."""
    torch.manual_seed(0)
    return build_model(ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16, 8))).eval()
