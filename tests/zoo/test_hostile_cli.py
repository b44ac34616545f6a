"""Bad command lines and signals (issue #15): every failure exits non-zero with one line, before any training.

Each case runs `python -m vae_core ...` in-process and asserts: a non-zero exit, exactly one line on stderr
that says why (no traceback), nothing on stdout, no training started and no file written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch

from vae_core.engine import limits
from vae_core.engine.checkpoint_info import list_checkpoints, read_checkpoint_info
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.models import build_model
from vae_core.zoo import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "digits", "--epochs", "1", "--hidden", "4", "--batch-size", "512", "--threads", "1"]

# (argv with {tmp} for the test's folder, words the one line must contain, expected exit code)
CASES = {
    "iw-samples-1e9": (
        ["train", *TINY, "--iw-samples", str(10**9), "--out", "{tmp}/m.safetensors"],
        f"outside 0..{limits.MAX_IW_SAMPLES}",
        2,
    ),
    "iw-samples-negative": (["train", *TINY, "--iw-samples", "-1", "--out", "{tmp}/m.safetensors"], "outside 0..", 2),
    "evaluate-iw-1e9": (["evaluate", "{tmp}/m.safetensors", "--iw-samples", str(10**9)], "outside 0..", 2),
    "lr-nan": (["train", *TINY, "--lr", "nan", "--out", "{tmp}/m.safetensors"], "nan is not a finite number", 2),
    "lr-inf": (["train", *TINY, "--lr", "inf", "--out", "{tmp}/m.safetensors"], "inf is not a finite number", 2),
    "lr-negative": (["train", *TINY, "--lr", "-1", "--out", "{tmp}/m.safetensors"], "lr must lie between", 1),
    "lr-huge": (["train", *TINY, "--lr", "1e10", "--out", "{tmp}/m.safetensors"], "lr must lie between", 1),
    "lr-not-a-number": (["train", *TINY, "--lr", "fast", "--out", "{tmp}/m.safetensors"], "'fast' is not a number", 2),
    "beta-nan": (["train", *TINY, "--beta", "nan", "--out", "{tmp}/m.safetensors"], "nan is not a finite number", 2),
    "beta-minus-inf": (["train", *TINY, "--beta=-inf", "--out", "{tmp}/m.safetensors"], "not a finite number", 2),
    "beta-negative": (["train", *TINY, "--beta", "-1", "--out", "{tmp}/m.safetensors"], "beta must lie between", 1),
    "hidden-negative": (
        ["train", *TINY, "--hidden", "-5", "--out", "{tmp}/m.safetensors"],
        "hidden_dims entries must lie between 1 and",
        1,
    ),
    "conv-hidden-zero": (
        ["train", *TINY, "--arch", "conv", "--hidden", "0", "--out", "{tmp}/m.safetensors"],
        "hidden_dims entries must lie between 1 and",
        1,
    ),
    "hidden-2.5M": (["train", *TINY, "--hidden", "2500000", "--out", "{tmp}/m.safetensors"], "hidden_dims entries", 1),
    "hidden-nine-layers": (["train", *TINY, "--hidden", *["4"] * 9, "--out", "{tmp}/m.safetensors"], "at most 8", 1),
    "hidden-not-a-number": (
        ["train", *TINY, "--hidden", "wide", "--out", "{tmp}/m.safetensors"],
        "invalid int value",
        2,
    ),
    "latent-zero": (["train", *TINY, "--latent-dim", "0", "--out", "{tmp}/m.safetensors"], "latent_dim must lie", 1),
    "latent-1e9": (
        ["train", *TINY, "--latent-dim", str(10**9), "--out", "{tmp}/m.safetensors"],
        "latent_dim must lie",
        1,
    ),
    "latent-2.5": (["train", *TINY, "--latent-dim", "2.5", "--out", "{tmp}/m.safetensors"], "invalid int value", 2),
    "epochs-zero": (["train", *TINY, "--epochs", "0", "--out", "{tmp}/m.safetensors"], "epochs must lie between", 1),
    "epochs-1e9": (["train", *TINY, "--epochs", str(10**9), "--out", "{tmp}/m.safetensors"], "epochs must lie", 1),
    "batch-size-zero": (
        ["train", *TINY, "--batch-size", "0", "--out", "{tmp}/m.safetensors"],
        "batch_size must lie",
        1,
    ),
    "batch-size-1e9": (["train", *TINY, "--batch-size", str(10**9), "--out", "{tmp}/m.safetensors"], "batch_size", 1),
    "threads-negative": (
        ["train", *TINY, "--threads", "-1", "--out", "{tmp}/m.safetensors"],
        "num_threads must lie",
        1,
    ),
    "kl-warmup-negative": (
        ["train", *TINY, "--kl-warmup", "-1", "--out", "{tmp}/m.safetensors"],
        "kl_warmup_epochs",
        1,
    ),
    "unknown-dataset": (["train", "--dataset", "imagenet", "--out", "{tmp}/m.safetensors"], "invalid choice", 2),
    "unknown-model": (["train", *TINY, "--model", "gan", "--out", "{tmp}/m.safetensors"], "invalid choice", 2),
    "out-not-safetensors": (["train", *TINY, "--out", "{tmp}/m.pt"], "--out must end in .safetensors", 1),
    "out-is-a-folder": (["train", *TINY, "--out", "{tmp}/folder.safetensors"], "is a folder", 1),
    "out-under-a-file": (["train", *TINY, "--out", "{tmp}/a-file/m.safetensors"], "cannot write to", 1),
    "out-in-proc": (["train", *TINY, "--out", "/proc/vae-core-test/m.safetensors"], "cannot write to", 1),
    "out-missing": (["train", *TINY], "the following arguments are required: --out", 2),
    "out-with-a-line-break": (["train", *TINY, "--out", "{tmp}/m\nx.safetensors"], "holds a control character", 1),
    "out-with-a-bidi-override": (["train", *TINY, "--out", "{tmp}/m\u202ex.safetensors"], "control character", 1),
    "list-missing-folder": (["list", "{tmp}/nonexistent"], "no such folder", 1),
    "list-a-file": (["list", "{tmp}/a-file"], "no such folder", 1),
    "evaluate-missing": (["evaluate", "{tmp}/absent.safetensors"], "no such checkpoint file", 1),
    "evaluate-a-folder": (["evaluate", "{tmp}/folder.safetensors"], "a folder, not a file", 1),
    "evaluate-a-text-file": (["evaluate", "{tmp}/a-file"], "a-file: not a readable checkpoint", 1),
    "evaluate-an-old-format-file": (["evaluate", "{tmp}/old.pt"], "convert it once with", 1),
    "convert-missing": (["convert", "{tmp}/absent.pt"], "absent.pt: no such checkpoint file", 1),
    "convert-a-text-file": (["convert", "{tmp}/a-file"], "not an old-format checkpoint", 1),
    "convert-an-old-file-that-is-not-one": (["convert", "{tmp}/old.pt"], "not an old-format checkpoint", 1),
    "convert-no-path": (["convert"], "the following arguments are required: FOLDER_OR_FILE", 2),
    "evaluate-seed-negative": (["evaluate", "{tmp}/a-file", "--seed", "-1"], "outside 0..", 2),
    "unknown-command": (["explode"], "invalid choice", 2),
    "no-command": ([], "the following arguments are required: command", 2),
}


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def tmp(tmp_path, monkeypatch) -> Path:
    (tmp_path / "a-file").write_text("not a checkpoint")
    (tmp_path / "old.pt").write_text("not a pickle either")
    (tmp_path / "folder.safetensors").mkdir()

    def no_training(*args, **kwargs):
        raise AssertionError("training started for a command that should have been refused")

    monkeypatch.setattr(cli, "fit", no_training)
    return tmp_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_command_line_is_one_line(case, tmp, capsys):
    argv, words, expected_code = CASES[case]
    before = sorted(p.name for p in tmp.rglob("*"))
    code, out, err = run([a.replace("{tmp}", str(tmp)) for a in argv], capsys)
    lines = err.strip().splitlines()
    assert code == expected_code, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in tmp.rglob("*")) == before  # nothing written, not even a temp file


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_fails_before_training(tmp, capsys):
    locked = tmp / "locked"
    locked.mkdir(mode=0o555)
    code, _, err = run(["train", *TINY, "--out", str(locked / "m.safetensors")], capsys)
    assert code == 1 and err.startswith("error: cannot write to") and len(err.strip().splitlines()) == 1


def good_checkpoint(folder: Path) -> Path:
    model = build_model(ModelConfig(input_shape=(1, 8, 8), hidden_dims=(4,)))
    return save_checkpoint(folder / "good.safetensors", model, TrainConfig(dataset="digits"))


def test_json_output_is_strict_when_a_metric_is_not_finite(tmp_path, capsys, monkeypatch):
    path = good_checkpoint(tmp_path)
    real_evaluate = cli.evaluate

    def nan_report(*args, **kwargs):
        report = real_evaluate(*args, **kwargs)
        return dataclasses.replace(report, recon=math.nan, kl_per_dim=(math.inf, 0.5))

    monkeypatch.setattr(cli, "evaluate", nan_report)
    code, out, err = run(["evaluate", str(path), "--json"], capsys)
    assert code == 0, err

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    parsed = json.loads(out, parse_constant=refuse)
    assert parsed["recon"] is None and parsed["kl_per_dim"] == [None, 0.5]


def test_ctrl_c_while_saving_exits_130_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    out = good_checkpoint(tmp_path)
    before = out.read_bytes()
    real_save = safetensors.torch.save

    def save_with_ctrl_c(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        return real_save(*args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save", save_with_ctrl_c)
    code, _, err = run(["train", *TINY, "--out", str(out)], capsys)
    assert code == 130
    assert err.strip().splitlines()[-1].startswith("interrupted") and "Traceback" not in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.safetensors"]


def test_a_writer_killed_with_sigkill_leaves_a_temp_file_the_next_listing_removes(tmp_path):
    good_checkpoint(tmp_path)
    before = (tmp_path / "good.safetensors").read_bytes()
    script = (
        "import sys, time; from vae_core.engine.atomic_files import write_atomically; "
        "write_atomically(sys.argv[1], lambda h: (h.write(b'x' * 4096), h.flush(), time.sleep(120)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "good.safetensors")], env=env)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]:
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.05)
    finally:
        writer.kill()
        writer.wait(timeout=30)
    (temp,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert temp.name.startswith(".good.safetensors.") and temp.name.endswith(f"-{writer.pid}.tmp")
    assert (tmp_path / "good.safetensors").read_bytes() == before  # the previous checkpoint is intact
    assert [i.name for i in list_checkpoints(tmp_path).infos] == ["good"]
    assert temp.exists()  # written moments ago: left alone for now
    old = time.time() - 120
    os.utime(temp, (old, old))
    scan = list_checkpoints(tmp_path)
    assert not temp.exists() and [i.name for i in scan.infos] == ["good"] and not scan.problems
    read_checkpoint_info(tmp_path / "good.safetensors")


@pytest.mark.slow
def test_sigint_during_training_in_a_real_process(tmp_path):
    """A real Ctrl-C (SIGINT from outside) while `python -m vae_core train` runs: exit 130, one line."""
    out = tmp_path / "m.safetensors"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    argv = [
        sys.executable,
        "-m",
        "vae_core",
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "1000",
        "--hidden",
        "4",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    first = process.stderr.read(1)  # the progress bar's first character: training is under way
    assert first, "the training process ended before it started training"
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = (first + rest).decode()
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
