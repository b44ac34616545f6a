"""vae_core.zoo.cli: every subcommand's help, train -> evaluate -> list on digits, and one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from tests.hostile_files import CASES, MARKER, tiny_model
from vae_core.engine.checkpoint_info import FORMAT_NAME, list_checkpoints
from vae_core.engine.checkpoints import load_checkpoint, load_replay
from vae_core.engine.config import TrainConfig, config_to_dict
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.replay_recorder import frame_steps
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
    path = tmp_path_factory.mktemp("cli") / "tiny.safetensors"
    assert cli.main([*TRAIN_ARGS, "--binarize", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def trained_grey(tmp_path_factory) -> Path:
    """The same on grey levels: a Bernoulli decoder whose numbers are cross-entropies."""
    path = tmp_path_factory.mktemp("cli") / "tiny-grey.safetensors"
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


def test_train_records_the_replay_only_when_asked(trained, tmp_path, digits_train):
    assert load_replay(trained) is None, "a plain run records none, as before"
    path = tmp_path / "replayed.safetensors"
    assert cli.main([*TRAIN_ARGS, "--latent-dim", "2", "--replay", "--out", str(path)]) == 0
    replay, (model, _) = load_replay(path), load_checkpoint(path)
    steps_per_epoch = math.ceil(len(digits_train) / 256)
    assert replay is not None and [frame.step for frame in replay.frames] == frame_steps(steps_per_epoch)
    with torch.no_grad():  # the last frame: the saved model's codes of the first test images (2-D: z itself)
        codes = model.encode(load_dataset("digits", "test").images[: len(replay.labels)]).mean
    torch.testing.assert_close(torch.from_numpy(replay.frames[-1].codes).float(), codes, rtol=2e-3, atol=2e-3)


def test_replay_of_a_conditional_model_is_refused_before_training(tmp_path, capsys):
    code = cli.main([*TRAIN_ARGS, "--model", "cvae", "--replay", "--out", str(tmp_path / "c.safetensors")])
    assert_one_line_error(capsys, code, "--replay", "class labels")
    assert list(tmp_path.iterdir()) == []


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
    (trained.parent / "broken.safetensors").write_bytes(b"garbage")
    try:
        assert cli.main(["list", str(trained.parent)]) == 0
    finally:
        (trained.parent / "broken.safetensors").unlink()
    captured = capsys.readouterr()
    header, *rows = captured.out.strip().splitlines()
    assert header.split()[:3] == ["name", "model", "arch"]
    assert len(rows) == 1
    cells = rows[0].split()
    assert cells[:4] == ["tiny", "vae", "mlp", "3"] and "digits" in cells
    assert "broken.safetensors" in captured.err and "skipped" in captured.err


def test_list_of_an_empty_folder(tmp_path, capsys):
    assert cli.main(["list", str(tmp_path)]) == 0
    assert f"no checkpoints in {tmp_path}" in capsys.readouterr().err


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    code = cli.main(["evaluate", str(tmp_path / "absent.safetensors")])
    assert_one_line_error(capsys, code, "absent.safetensors", "no such checkpoint")


def test_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(os.urandom(2048))
    code = cli.main(["evaluate", str(path), "--json"])
    assert_one_line_error(capsys, code, "corrupt.safetensors")


def test_out_without_the_suffix_is_refused_before_training(tmp_path, capsys):
    code = cli.main([*TRAIN_ARGS, "--out", str(tmp_path / "model.ckpt")])
    assert_one_line_error(capsys, code, "--out must end in .safetensors")
    assert list(tmp_path.iterdir()) == []


def test_bad_config_value_is_one_line(tmp_path, capsys):
    code = cli.main(["train", "--dataset", "digits", "--latent-dim", "0", "--out", str(tmp_path / "m.safetensors")])
    assert_one_line_error(capsys, code, "latent_dim must lie between 1 and")


def test_dataset_with_other_image_shape_is_refused(trained, tmp_path, capsys, monkeypatch, write_fake_mnist):
    write_fake_mnist(tmp_path, "MNIST")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    code = cli.main(["evaluate", str(trained), "--dataset", "mnist"])
    assert_one_line_error(capsys, code, "expects images shaped (1, 8, 8)", "(1, 28, 28)")


def test_unavailable_data_set_is_one_line(tmp_path, capsys, monkeypatch, no_download):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    code = cli.main(["train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "m.safetensors")])
    assert_one_line_error(capsys, code, "Fashion-MNIST's training images are not here", "data fetch fashion-mnist")


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    # `python -m vae_core list | head -1`: here the reader is gone before the first line is written.
    import subprocess

    from vae_core.engine.checkpoints import save_checkpoint
    from vae_core.engine.config import ModelConfig, TrainConfig
    from vae_core.engine.models import build_model

    model = build_model(ModelConfig(input_shape=(1, 8, 8), hidden_dims=(4,)))
    save_checkpoint(tmp_path / "model.safetensors", model, TrainConfig(dataset="digits"))
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


# --- convert: the old format (torch pickles) to safetensors, once ------------------------------------------------


def old_format_checkpoint(path: Path, model, train_config: TrainConfig, metadata: dict, state=None) -> Path:
    """A checkpoint as vae_core wrote them before safetensors: torch.save of one dict (float16 weights here)."""
    payload = {
        "format": FORMAT_NAME,
        "format_version": 1,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_config),
        "metadata": metadata,
        "state_dict": state if state is not None else {k: v.half() for k, v in model.state_dict().items()},
    }
    torch.save(payload, path)
    return path


OLD_METADATA = {
    "dataset": "digits",
    "seed": 3,
    "history": [{"epoch": 1, "beta": 1.0, "train": {"objective": 50.5, "recon": 40.25}, "test": None}],
    "metrics": {"neg_elbo": 30.125, "kl_per_dim": [0.5, 0.0], "iw_nll": math.nan},
    "created_at": "2024-05-01T10:00:00+00:00",
    "versions": {"vae_core": "0.1.0", "torch": "2.4.0", "python": "3.11.7"},
    "stored_dtype": "float16",
    "role": "family-2d",
    "group": "digits-family-2d",
}


def test_convert_writes_the_same_checkpoint_beside_the_old_file_once(tmp_path, capsys):
    model, train_config = tiny_model(), TrainConfig(dataset="digits", seed=3)
    old = old_format_checkpoint(tmp_path / "mine.pt", model, train_config, OLD_METADATA)
    old_bytes = old.read_bytes()
    assert cli.main(["convert", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("converted mine.pt -> mine.safetensors (12 tensors, float16, ") and out.count("\n") == 0
    new = tmp_path / "mine.safetensors"

    stored = safetensors.torch.load_file(new)  # as stored: float16, bit for bit
    original = model.state_dict()
    assert stored.keys() == original.keys()
    assert all(stored[k].dtype == torch.float16 and torch.equal(stored[k], original[k].half()) for k in original)
    loaded, info = load_checkpoint(new)  # as loaded: float32 from those float16 values
    assert all(torch.equal(loaded.state_dict()[k], original[k].half().float()) for k in original)
    assert info.model_config == model.config and info.train_config == train_config
    assert json.dumps(info.metadata) == json.dumps(OLD_METADATA)  # NaN included; created_at and versions kept
    assert info.role == "family-2d" and info.stored_dtype == "float16"
    assert old.read_bytes() == old_bytes

    scan = list_checkpoints(tmp_path)
    assert [i.name for i in scan.infos] == ["mine"]
    assert scan.problems == [(old, "mine.pt: old format, already converted to mine.safetensors; delete mine.pt")]

    converted = new.read_bytes()
    assert cli.main(["convert", str(old)]) == 0
    assert capsys.readouterr().out.strip() == "mine.pt: left alone, mine.safetensors is already there"
    assert new.read_bytes() == converted


def test_convert_refuses_code_and_broken_weights_and_converts_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a marker the pickle's code would write lands here
    model = tiny_model()
    CASES["old-format-with-code"][0](tmp_path / "evil.safetensors", model)  # written as evil.pt
    nan = {k: v.clone() for k, v in model.state_dict().items()}
    next(iter(nan.values()))[0, 0] = math.nan
    old_format_checkpoint(tmp_path / "diverged.pt", model, TrainConfig(dataset="digits"), OLD_METADATA, state=nan)
    old_format_checkpoint(tmp_path / "good.pt", model, TrainConfig(dataset="digits"), OLD_METADATA)

    assert cli.main(["convert", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("converted good.pt -> good.safetensors") and "Traceback" not in captured.err
    errors = captured.err.strip().splitlines()
    assert errors[0].startswith("error: diverged.pt: refused: 1 of its weights") and "NaN" in errors[0]
    assert errors[1] == (
        "error: evil.pt: refused: it holds code or objects torch's safe loader does not load (it names posix.system)"
    )
    assert not (tmp_path / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diverged.pt", "evil.pt", "good.pt", "good.safetensors"]
