"""Hostile and damaged checkpoint files (issue #15): each is refused with one line, runs no code, changes no file.

Every case is one file in a folder beside a good checkpoint. For each: list_checkpoints lists the good one and
reports the bad one in `problems` (never raises); read_checkpoint_info and load_checkpoint raise CheckpointError
with a one-line message naming the file; `python -m vae_core evaluate` and `list` print one line, no traceback;
no marker file appears (no code ran) and no byte of any file in the folder changes. Cases about memory also
assert a ceiling on the memory the refusal costs.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import resource
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vae_core import cli
from vae_core.checkpoint_info import (
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointError,
    list_checkpoints,
    read_checkpoint_info,
)
from vae_core.checkpoints import load_checkpoint, save_checkpoint
from vae_core.config import ModelConfig, TrainConfig, config_to_dict
from vae_core.models import build_model

MARKER = "code-ran-marker"
MB = 2**20


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16, 8))).eval()


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


# --- builders: (folder, model) -> the hostile file -----------------------------------------------------------------


def with_model_config(**changes) -> Callable:
    def build(folder: Path, model) -> Path:
        path = folder / "bad.pt"
        torch.save(base_payload(model, model_config={**config_to_dict(model.config), **changes}), path)
        return path

    return build


def with_train_config(**changes) -> Callable:
    def build(folder: Path, model) -> Path:
        path = folder / "bad.pt"
        torch.save(base_payload(model, train_config={**config_to_dict(TrainConfig(dataset="digits")), **changes}), path)
        return path

    return build


def with_metadata(**changes) -> Callable:
    def build(folder: Path, model) -> Path:
        path = folder / "bad.pt"
        torch.save(base_payload(model, metadata={"dataset": "digits", **changes}), path)
        return path

    return build


def with_payload(**changes) -> Callable:
    def build(folder: Path, model) -> Path:
        path = folder / "bad.pt"
        torch.save(base_payload(model, **changes), path)
        return path

    return build


def with_weights(change: Callable[[dict], None]) -> Callable:
    def build(folder: Path, model) -> Path:
        state = {k: v.clone() for k, v in model.state_dict().items()}
        change(state)
        path = folder / "bad.pt"
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
    def build(folder: Path, model) -> Path:
        path = folder / "bad.pt"
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


def raw_bytes(content: bytes, name: str = "bad.pt") -> Callable:
    def build(folder: Path, model) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def truncated(fraction: float) -> Callable:
    def build(folder: Path, model) -> Path:
        path = save_checkpoint(folder / "bad.pt", model, TrainConfig(dataset="digits"))
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return build


def flipped_tensor_bytes(folder: Path, model) -> Path:
    path = save_checkpoint(folder / "bad.pt", model, TrainConfig(dataset="digits"))
    with zipfile.ZipFile(path) as archive:
        info = (
            archive.getinfo("bad/data/0")
            if "bad/data/0" in archive.namelist()
            else next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
        )
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)  # the local header's
    start = info.header_offset + 30 + name_length + extra_length
    for i in range(start, start + 16):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def rezipped(transform: Callable[[dict[str, bytes]], dict[str, bytes]], compress: int = zipfile.ZIP_STORED):
    """The good file's members, transformed, written back as a zip."""

    def build(folder: Path, model) -> Path:
        good = save_checkpoint(folder / "bad.pt", model, TrainConfig(dataset="digits"))
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


def lying_pickle_size(folder: Path, model) -> Path:
    """A zip whose central directory says data.pkl inflates to 1 GiB (it does not): refused on the number."""
    path = save_checkpoint(folder / "bad.pt", model, TrainConfig(dataset="digits"))
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

    def build(folder: Path, model) -> Path:
        good = save_checkpoint(folder / "bad.pt", model, TrainConfig(dataset="digits"))
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


def directory(folder: Path, model) -> Path:
    path = folder / "bad.pt"
    path.mkdir()
    return path


def symlink_loop(folder: Path, model) -> Path:
    path = folder / "bad.pt"
    path.symlink_to(path.name)
    return path


def dangling_symlink(folder: Path, model) -> Path:
    path = folder / "bad.pt"
    path.symlink_to("nowhere.pt")
    return path


def fifo(folder: Path, model) -> Path:
    path = folder / "bad.pt"
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
        lambda folder, model: torch.save(model.state_dict(), folder / "bad.pt") or folder / "bad.pt",
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

# Each case that is about memory: the most the refusal may add to the process, measured two ways.
MEMORY_CASES = {
    "hidden-2.5M-27KB",
    "hidden-ten-million",
    "too-many-parameters",
    "pickle-declares-1GiB",
    "pickle-inflates-64MiB",
    "metadata-billion-laughs",
    "latent-1e9",
    "input-shape-huge",
}
PYTHON_PEAK_LIMIT = 20 * MB  # tracemalloc: every Python allocation during the refusal
RSS_GROWTH_LIMIT = 150 * MB  # peak RSS growth: torch's C++ allocations too (a generous bound)


def folder_state(folder: Path) -> dict[str, str]:
    state = {}
    for path in folder.iterdir():
        if path.is_symlink() or not path.is_file() or path.name == MARKER:
            state[path.name] = "special"
        else:
            state[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def assert_one_line(message: str, name: str = "bad.pt") -> None:
    assert "\n" not in message and "Traceback" not in message, message
    assert name in message and len(message) < 400, message


@pytest.fixture
def folder(tmp_path, model, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # any marker a payload writes lands here
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    save_checkpoint(folder / "good.pt", model, TrainConfig(dataset="digits"), metrics={"neg_elbo": 30.0})
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused_in_one_line(case, folder, model, capsys):
    build, words = CASES[case]
    path = build(folder, model)
    before = folder_state(folder)

    scan = list_checkpoints(folder)
    if case in LOAD_ONLY:
        assert [info.name for info in scan.infos] == ["bad", "good"] and not scan.problems
    else:
        assert [info.name for info in scan.infos] == ["good"]
        assert [p.name for p, _ in scan.problems] == ["bad.pt"]
        assert_one_line(scan.problems[0][1])
        assert words in scan.problems[0][1]

    for reader in (load_checkpoint,) if case in LOAD_ONLY else (read_checkpoint_info, load_checkpoint):
        with pytest.raises(CheckpointError) as refused:
            reader(path)
        assert_one_line(str(refused.value))
        assert words in str(refused.value)

    capsys.readouterr()
    assert cli.main(["evaluate", str(path), "--json"]) == 1
    assert cli.main(["list", str(folder)]) == 0
    captured = capsys.readouterr()
    evaluate_error, *list_lines = captured.err.strip().splitlines()
    assert evaluate_error.startswith("error: ") and words in evaluate_error, evaluate_error
    assert list_lines == [f"skipped {why}" for _, why in scan.problems]
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == [i.name for i in scan.infos]

    assert not (folder.parent / MARKER).exists() and not (folder / MARKER).exists()
    assert folder_state(folder) == before


class PeakRSS:
    """Growth of the process's peak resident memory over a block, in bytes.

    On Linux the peak (VmHWM) is reset to the current RSS first (/proc/self/clear_refs), so the growth is the
    block's own; elsewhere ru_maxrss, the lifetime peak, which can only under-report (a looser check).
    """

    def __enter__(self):
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.before = self._status("VmRSS:")
            self.peak = lambda: self._status("VmHWM:")
        except OSError:
            self.before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return self

    def __exit__(self, *exc):
        self.growth = self.peak() - self.before

    @staticmethod
    def _status(key: str) -> int:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(key))
        return int(line.split()[1]) * 1024


@pytest.mark.parametrize("case", sorted(MEMORY_CASES))
def test_refusal_memory_is_bounded(case, folder, model):
    path = CASES[case][0](folder, model)
    with PeakRSS() as rss:
        tracemalloc.start()
        try:
            assert [p.name for p, _ in list_checkpoints(folder).problems] == ["bad.pt"]
            with pytest.raises(CheckpointError):
                load_checkpoint(path)
            _, python_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    rss_growth = rss.growth
    assert python_peak < PYTHON_PEAK_LIMIT, f"{case}: {python_peak / MB:.1f} MB of Python allocations"
    assert rss_growth < RSS_GROWTH_LIMIT, f"{case}: peak RSS grew by {rss_growth / MB:.0f} MB"


def test_odd_but_harmless_metrics_are_listed(folder, model, capsys):
    # A partial or odd metrics mapping is not a reason to refuse a model: listing and the CLI's table cope.
    for name, metrics in {
        "partial": {"neg_elbo": 1.0},
        "strings": {"neg_elbo": "88", "recon": None},
        "nan": {"neg_elbo": math.nan},
    }.items():
        torch.save(base_payload(model, metadata={"metrics": metrics}), folder / f"{name}.pt")
    scan = list_checkpoints(folder)
    assert sorted(info.name for info in scan.infos) == ["good", "nan", "partial", "strings"] and not scan.problems
    assert cli.main(["list", str(folder)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_typed_metadata_fields(folder):
    info = read_checkpoint_info(folder / "good.pt")
    assert info.dataset == "digits" and info.role is None and info.group is None and info.epochs_run is None
    assert isinstance(info.created_at, str) and info.stored_dtype == "float32" and info.history == []
    assert info.tensor_shapes and all(isinstance(s, tuple) for s in info.tensor_shapes.values())


def test_unreadable_file_is_a_problem_not_an_exception(folder, model, monkeypatch):
    path = with_metadata()(folder, model)
    real_open = zipfile.ZipFile.__init__

    def refuse(self, file, *args, **kwargs):
        if Path(str(file)).name == "bad.pt":
            raise PermissionError(13, "Permission denied", str(file))
        real_open(self, file, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", refuse)
    monkeypatch.setattr(zipfile, "is_zipfile", lambda f: True)
    scan = list_checkpoints(folder)
    assert [p.name for p, _ in scan.problems] == [path.name]
    assert "Permission denied" in scan.problems[0][1]
    assert_one_line(scan.problems[0][1])


def test_unexpected_errors_in_one_file_do_not_break_the_listing(folder, model, monkeypatch):
    from vae_core import checkpoint_info

    with_metadata()(folder, model)
    real = checkpoint_info.read_checkpoint_info

    def boom(path):
        if Path(path).name == "bad.pt":
            raise ZeroDivisionError("something nobody foresaw")
        return real(path)

    monkeypatch.setattr(checkpoint_info, "read_checkpoint_info", boom)
    scan = checkpoint_info.list_checkpoints(folder)
    assert [i.name for i in scan.infos] == ["good"]
    assert "ZeroDivisionError" in scan.problems[0][1] and "bad.pt" in scan.problems[0][1]


def test_listing_a_folder_that_is_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    assert list_checkpoints(loop) == ([], [])


@pytest.mark.slow
def test_a_1mb_archive_whose_pickle_inflates_to_1gib(folder, model):
    path = deflate_bomb(2**30)(folder, model)
    assert path.stat().st_size < 2 * MB
    with PeakRSS() as rss:
        scan = list_checkpoints(folder)
        with pytest.raises(CheckpointError, match="inflate to 1024 MB"):
            load_checkpoint(path)
    assert [p.name for p, _ in scan.problems] == ["bad.pt"]
    assert rss.growth < RSS_GROWTH_LIMIT


def test_a_tensor_record_that_inflates_is_refused(folder, model):
    path = deflate_bomb(64 * MB, member="data/0")(folder, model)
    with pytest.raises(CheckpointError, match="of the wrong size"):
        load_checkpoint(path)
