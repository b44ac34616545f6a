"""Hostile and damaged checkpoint files (issue #15): each is refused with one line, runs no code, changes no file.

Every case is one file in a folder beside a good checkpoint. For each: list_checkpoints lists the good one and
reports the bad one in `problems` (never raises); read_checkpoint_info and load_checkpoint raise CheckpointError
with a one-line message naming the file; `python -m vae_core evaluate` and `list` print one line, no traceback;
no marker file appears (no code ran) and no byte of any file in the folder changes. Cases about memory also
assert a ceiling on the memory the refusal costs.
"""

from __future__ import annotations

import builtins
import hashlib
import math
import os
import resource
import tracemalloc
from pathlib import Path

import pytest
import torch

from tests.hostile_files import (
    CASES,
    LOAD_ONLY,
    MARKER,
    MB,
    REPLAY_VALUE_CASES,
    base_document,
    good_replay,
    state_of,
    tiny_model,
    with_metadata,
    with_replay,
    write_checkpoint,
)
from vae_core.engine.checkpoint_info import (
    CheckpointError,
    list_checkpoints,
    read_checkpoint_info,
)
from vae_core.engine.checkpoints import load_checkpoint, load_replay, save_checkpoint
from vae_core.engine.config import TrainConfig
from vae_core.zoo import cli


@pytest.fixture(scope="module")
def model():
    return tiny_model()


# Each case that is about memory, and the most its refusal may allocate in Python (tracemalloc). The header of
# nested empty lists is the costliest JSON a header may hold (vae_core/engine/limits.py: about 35 MB).
MEMORY_CASES = {
    "hidden-2.5M-27KB": 20 * MB,
    "hidden-ten-million": 20 * MB,
    "too-many-parameters": 20 * MB,
    "header-declares-1GiB": 20 * MB,
    "header-1MiB-of-empty-lists": 40 * MB,
    "metadata-250k-values": 20 * MB,
    "tensor-huge-shape": 20 * MB,
    "file-over-the-size-limit": 20 * MB,
    "latent-1e9": 20 * MB,
    "input-shape-huge": 20 * MB,
}
RSS_GROWTH_LIMIT = 150 * MB  # peak RSS growth: torch's C++ allocations too (a generous bound)


def folder_state(folder: Path) -> dict[str, str]:
    state = {}
    for path in folder.iterdir():
        if path.is_symlink() or not path.is_file() or path.name == MARKER:
            state[path.name] = "special"
        else:
            state[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def assert_one_line(message: str, name: str = "bad.safetensors") -> None:
    assert "\n" not in message and "Traceback" not in message, message
    assert name in message and len(message) < 400, message


@pytest.fixture
def folder(tmp_path, model, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # any marker a payload writes lands here
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    save_checkpoint(folder / "good.safetensors", model, TrainConfig(dataset="digits"), metrics={"neg_elbo": 30.0})
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused_in_one_line(case, folder, model, capsys):
    build, words = CASES[case]
    path = build(folder / "bad.safetensors", model)
    before = folder_state(folder)

    scan = list_checkpoints(folder)
    if case in LOAD_ONLY:
        assert [info.name for info in scan.infos] == ["bad", "good"] and not scan.problems
    else:
        assert [info.name for info in scan.infos] == ["good"]
        assert [p.name for p, _ in scan.problems] == [path.name]
        assert_one_line(scan.problems[0][1], path.name)
        assert words in scan.problems[0][1]

    for reader in (load_checkpoint,) if case in LOAD_ONLY else (read_checkpoint_info, load_checkpoint):
        with pytest.raises(CheckpointError) as refused:
            reader(path)
        assert_one_line(str(refused.value), path.name)
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


@pytest.mark.parametrize("case", sorted(REPLAY_VALUE_CASES))
def test_a_bad_replay_is_refused_and_its_model_still_loads(case, folder, model):
    """The model's own bytes pass every check: it loads; only the replay is refused, in one line."""
    build, words = REPLAY_VALUE_CASES[case]
    path = build(folder / "bad.safetensors", model)
    before = folder_state(folder)
    assert read_checkpoint_info(path).replay_frames == 3
    loaded, _ = load_checkpoint(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with pytest.raises(CheckpointError) as refused:
        load_replay(path)
    assert_one_line(str(refused.value), path.name)
    assert words in str(refused.value) and "training replay is refused" in str(refused.value)
    assert folder_state(folder) == before


def test_the_replay_builders_good_file_reads_back(folder, model):
    """The hostile replays differ from this good one by their one change."""
    path = with_replay()(folder / "good-replay.safetensors", model)
    replay, expected = load_replay(path), good_replay(model)
    assert replay is not None and len(replay.frames) == 3
    for got, frame in zip(replay.frames, expected.frames, strict=True):
        assert got.step == frame.step and got.grid_png == frame.grid_png
        assert (got.codes == frame.codes).all()
    assert load_replay(folder / "good.safetensors") is None  # a checkpoint without a replay


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
    path = CASES[case][0](folder / "bad.safetensors", model)
    with PeakRSS() as rss:
        tracemalloc.start()
        try:
            assert [p.name for p, _ in list_checkpoints(folder).problems] == ["bad.safetensors"]
            with pytest.raises(CheckpointError):
                load_checkpoint(path)
            _, python_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    rss_growth = rss.growth
    assert python_peak < MEMORY_CASES[case], f"{case}: {python_peak / MB:.1f} MB of Python allocations"
    assert rss_growth < RSS_GROWTH_LIMIT, f"{case}: peak RSS grew by {rss_growth / MB:.0f} MB"


def test_odd_but_harmless_metrics_are_listed(folder, model, capsys):
    # A partial or odd metrics mapping is not a reason to refuse a model: listing and the CLI's table cope.
    for name, metrics in {
        "partial": {"neg_elbo": 1.0},
        "strings": {"neg_elbo": "88", "recon": None},
        "nan": {"neg_elbo": math.nan},
    }.items():
        write_checkpoint(
            folder / f"{name}.safetensors", base_document(model, metadata={"metrics": metrics}), state_of(model)
        )
    scan = list_checkpoints(folder)
    assert sorted(info.name for info in scan.infos) == ["good", "nan", "partial", "strings"] and not scan.problems
    assert cli.main(["list", str(folder)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_typed_metadata_fields(folder):
    info = read_checkpoint_info(folder / "good.safetensors")
    assert info.dataset == "digits" and info.role is None and info.group is None and info.epochs_run is None
    assert isinstance(info.created_at, str) and info.stored_dtype == "float32" and info.history == []
    assert info.tensor_shapes and all(isinstance(s, tuple) for s in info.tensor_shapes.values())


def test_unreadable_file_is_a_problem_not_an_exception(folder, model, monkeypatch):
    path = with_metadata()(folder / "bad.safetensors", model)
    real_open = os.open

    def refuse(file, *args, **kwargs):
        if Path(file).name == "bad.safetensors":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)  # a file the server's user may not read, even as root
    scan = list_checkpoints(folder)
    assert [p.name for p, _ in scan.problems] == [path.name]
    assert "Permission denied" in scan.problems[0][1]
    assert_one_line(scan.problems[0][1])


def test_unexpected_errors_in_one_file_do_not_break_the_listing(folder, model, monkeypatch):
    from vae_core.engine import checkpoint_info

    with_metadata()(folder / "bad.safetensors", model)
    real = checkpoint_info.read_checkpoint_info

    def boom(path):
        if Path(path).name == "bad.safetensors":
            raise ZeroDivisionError("something nobody foresaw")
        return real(path)

    monkeypatch.setattr(checkpoint_info, "read_checkpoint_info", boom)
    scan = checkpoint_info.list_checkpoints(folder)
    assert [i.name for i in scan.infos] == ["good"]
    assert "ZeroDivisionError" in scan.problems[0][1] and "bad.safetensors" in scan.problems[0][1]


def test_listing_a_folder_that_is_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    assert list_checkpoints(loop) == ([], [])


def test_an_old_format_file_is_named_without_being_opened(folder, model, monkeypatch):
    path = CASES["old-format-with-code"][0](folder / "bad.safetensors", model)
    opened: list[str] = []
    real_os_open, real_open = os.open, builtins.open

    def os_open(file, *args, **kwargs):
        opened.append(Path(file).name)
        return real_os_open(file, *args, **kwargs)

    def io_open(file, *args, **kwargs):
        opened.append(Path(file).name if isinstance(file, (str, os.PathLike)) else "")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", io_open)
    scan = list_checkpoints(folder)
    for reader in (read_checkpoint_info, load_checkpoint):
        with pytest.raises(CheckpointError, match="convert it once with `python -m vae_core convert "):
            reader(path)
    assert [i.name for i in scan.infos] == ["good"] and [p.name for p, _ in scan.problems] == ["bad.pt"]
    assert "good.safetensors" in opened and "bad.pt" not in opened
    assert not (folder.parent / MARKER).exists()
