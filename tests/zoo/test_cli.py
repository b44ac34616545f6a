"""vae_core.zoo.cli: every subcommand's help, train -> evaluate -> list on digits, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.protocol import DataProtocol
from vae_core.zoo import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_ARGS = [
    "train",
    "--dataset",
    "digits",
    "--epochs",
    "1",
    "--hidden",
    "32",
    "16",
    "--latent-dim",
    "3",
    "--batch-size",
    "256",
    "--iw-samples",
    "5",
    "--threads",
    "1",
]


def subcommands() -> list[str]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return sorted(sub.choices)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One checkpoint trained through the CLI on binarised digits (numbers that are likelihoods), shared."""
    path = tmp_path_factory.mktemp("cli") / "tiny.pt"
    assert cli.main([*TRAIN_ARGS, "--binarize", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def trained_grey(tmp_path_factory) -> Path:
    """The same on grey levels: a Bernoulli decoder whose numbers are cross-entropies."""
    path = tmp_path_factory.mktemp("cli") / "tiny-grey.pt"
    assert cli.main([*TRAIN_ARGS, "--out", str(path)]) == 0
    return path


def assert_one_line_error(capsys, code: int, *words: str) -> str:
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for word in words:
        assert word in lines[0]
    return lines[0]


def test_python_dash_m_help():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "vae_core", "--help"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m vae_core")
    for name in ("train", "evaluate", "list"):
        assert name in done.stdout


@pytest.mark.parametrize("name", subcommands())
def test_subcommand_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m vae_core {name}")


def test_train_writes_a_checkpoint_with_its_metrics(trained, digits_test):
    model, info = load_checkpoint(trained)
    assert info.model_config.hidden_dims == (32, 16) and info.model_config.latent_dim == 3
    assert info.model_config.input_shape == (1, 8, 8) and info.model_config.kind == "vae"
    assert info.train_config.epochs == 1 and info.train_config.dataset == "digits"
    meta = info.metadata
    assert meta["epochs_run"] == 1 and len(meta["history"]) == 1
    assert meta["split_sizes"] == {"train": 1437, "test": 360}
    assert meta["train_seconds"] > 0 and meta["hardware"]
    # The stored metrics are those of the stored weights: re-evaluating the loaded model reproduces them.
    again = evaluate(model, digits_test, iw_samples=5, seed=0, protocol=DataProtocol.BINARIZED)
    assert meta["metrics"]["neg_elbo"] == pytest.approx(again.neg_elbo, rel=1e-6)
    assert meta["metrics"]["iw_nll"] == pytest.approx(again.iw_nll, rel=1e-6)


def test_evaluate_json(trained, capsys):
    assert cli.main(["evaluate", str(trained), "--json", "--iw-samples", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("neg_elbo", "recon", "kl", "kl_per_dim", "active_units", "iw_nll"):
        assert key in out
    assert out["dataset"] == "digits" and out["split"] == "test" and out["iw_samples"] == 10
    assert out["neg_elbo"] == pytest.approx(out["recon"] + out["kl"])
    assert len(out["kl_per_dim"]) == 3
    expected = evaluate(
        load_checkpoint(trained).model,
        load_dataset("digits", "test"),
        iw_samples=10,
        seed=0,
        protocol=DataProtocol.BINARIZED,
    )
    assert out["protocol"] == "binarised" and out["binarized"] and out["entropy_floor"] is None
    assert out["neg_elbo"] == pytest.approx(expected.neg_elbo, rel=1e-6)
    assert out["iw_nll"] == pytest.approx(expected.iw_nll, rel=1e-6)


def test_evaluate_text_on_the_train_split(trained, capsys):
    assert cli.main(["evaluate", str(trained), "--split", "train"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(": ")[0].strip(): line.split(": ")[1].strip() for line in out.strip().splitlines()}
    assert lines["protocol"] == "binarised"
    expected = evaluate(
        load_checkpoint(trained).model, load_dataset("digits", "train"), protocol=DataProtocol.BINARIZED
    )
    assert float(lines["−ELBO, an upper bound on −log p(x)"].split()[0]) == pytest.approx(expected.neg_elbo, abs=1e-3)
    assert float(lines["KL(q(z|x) ‖ p(z))"].split()[0]) == pytest.approx(expected.kl, abs=1e-3)
    assert int(lines["active units"]) == expected.active_units


def test_evaluate_never_calls_a_grey_level_cross_entropy_a_likelihood(trained_grey, capsys):
    assert cli.main(["evaluate", str(trained_grey), "--iw-samples", "10"]) == 0
    out = capsys.readouterr().out
    lines = {
        line.split(": ")[0].strip(): line.split(": ")[1].strip() for line in out.strip().splitlines() if ": " in line
    }
    assert lines["protocol"] == "grey-bernoulli"
    assert not any("log p(x" in name for name in lines)  # no number is named a likelihood or a bound on one
    assert "not −log p(x)" in out  # the caveat says so
    images = load_dataset("digits", "test").images.double()
    floor = torch.distributions.Bernoulli(probs=images).entropy().flatten(1).sum(1).mean()
    assert float(lines["entropy floor of these images"].split()[0]) == pytest.approx(float(floor), abs=1e-3)
    assert float(lines["reconstruction cross-entropy"].split()[0]) >= float(floor)


def test_list_prints_a_row_and_skips_bad_files(trained, capsys):
    (trained.parent / "broken.pt").write_bytes(b"garbage")
    try:
        assert cli.main(["list", str(trained.parent)]) == 0
    finally:
        (trained.parent / "broken.pt").unlink()
    captured = capsys.readouterr()
    header, *rows = captured.out.strip().splitlines()
    assert header.split()[:3] == ["name", "model", "arch"]
    assert len(rows) == 1
    cells = rows[0].split()
    assert cells[:4] == ["tiny", "vae", "mlp", "3"] and "digits" in cells
    assert "broken.pt" in captured.err and "skipped" in captured.err


def test_list_of_an_empty_folder(tmp_path, capsys):
    assert cli.main(["list", str(tmp_path)]) == 0
    assert f"no checkpoints in {tmp_path}" in capsys.readouterr().err


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    code = cli.main(["evaluate", str(tmp_path / "absent.pt")])
    assert_one_line_error(capsys, code, "absent.pt", "no such checkpoint")


def test_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(os.urandom(2048))
    code = cli.main(["evaluate", str(path), "--json"])
    assert_one_line_error(capsys, code, "corrupt.pt")


def test_out_without_pt_suffix_is_refused_before_training(tmp_path, capsys):
    code = cli.main([*TRAIN_ARGS, "--out", str(tmp_path / "model.ckpt")])
    assert_one_line_error(capsys, code, "--out must end in .pt")
    assert list(tmp_path.iterdir()) == []


def test_bad_config_value_is_one_line(tmp_path, capsys):
    code = cli.main(["train", "--dataset", "digits", "--latent-dim", "0", "--out", str(tmp_path / "m.pt")])
    assert_one_line_error(capsys, code, "latent_dim must lie between 1 and")


def test_dataset_with_other_image_shape_is_refused(trained, tmp_path, capsys, monkeypatch, write_fake_mnist):
    write_fake_mnist(tmp_path, "MNIST")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    code = cli.main(["evaluate", str(trained), "--dataset", "mnist"])
    assert_one_line_error(capsys, code, "expects images shaped (1, 8, 8)", "(1, 28, 28)")


def test_unavailable_data_set_is_one_line(tmp_path, capsys, monkeypatch, no_download):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    code = cli.main(["train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "m.pt")])
    assert_one_line_error(capsys, code, "fashion-mnist is not available")


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    # `python -m vae_core list | head -1`: here the reader is gone before the first line is written.
    import subprocess

    from vae_core.engine.checkpoints import save_checkpoint
    from vae_core.engine.config import ModelConfig, TrainConfig
    from vae_core.engine.models import build_model

    model = build_model(ModelConfig(input_shape=(1, 8, 8), hidden_dims=(4,)))
    save_checkpoint(tmp_path / "model.pt", model, TrainConfig(dataset="digits"))
    process = subprocess.Popen(
        [sys.executable, "-m", "vae_core", "list", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert "Broken pipe" not in stderr and "Error" not in stderr, stderr
