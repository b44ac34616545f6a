"""vae_core.engine.checkpoints: round trips, atomic writes, and every way a file can be refused (without running it)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from vae_core.engine.checkpoint_info import (
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointError,
    info_from_payload,
    list_checkpoints,
    read_checkpoint_info,
    safe_checkpoint_name,
)
from vae_core.engine.checkpoints import load_checkpoint, read_payload_with_torch, save_checkpoint
from vae_core.engine.config import TrainConfig, config_to_dict
from vae_core.engine.models import build_model


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return build_model(tiny_config(kind="vae", latent_dim=3)).eval()


@pytest.fixture
def train_config():
    return TrainConfig(dataset="digits", epochs=2, seed=11)


def probe_images() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def outputs(model) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        x = probe_images()
        return model.reconstruct(x), model.decode(torch.linspace(-2, 2, 9).view(3, 3))


def payload(model, train_cfg, /, **changes) -> dict:
    """A checkpoint payload as save_checkpoint writes it, with changes, for hand-made files."""
    values = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_cfg),
        "metadata": {},
        "state_dict": model.state_dict(),
    }
    values.update(changes)
    return values


# --- round trips ------------------------------------------------------------------------------------------------


def test_round_trip_restores_weights_configs_and_outputs(tmp_path, model, train_config):
    history = [{"epoch": 1, "train": {"objective": 50.0}}]
    path = save_checkpoint(
        tmp_path / "m.pt",
        model,
        train_config,
        history=history,
        metrics={"neg_elbo": 33.0},
        metadata={"role": "default", "group": "g"},
    )
    loaded, info = load_checkpoint(path)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config == model.config and info.model_config == model.config and info.train_config == train_config
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    for a, b in zip(outputs(model), outputs(loaded), strict=True):
        assert torch.equal(a, b)
    assert info.name == "m" and info.metadata["metrics"] == {"neg_elbo": 33.0}
    assert info.metadata["role"] == "default" and info.metadata["group"] == "g"


def test_metadata_fields(tmp_path, model, train_config):
    history = [{"epoch": 1}, {"epoch": 2}]
    path = save_checkpoint(tmp_path / "m.pt", model, train_config, history=history, metrics={"kl": 1.5})
    info = read_checkpoint_info(path)
    meta = info.metadata
    assert meta["dataset"] == "digits" and meta["seed"] == 11
    assert meta["history"] == history and meta["metrics"] == {"kl": 1.5}
    assert meta["created_at"].endswith("+00:00")  # ISO time in UTC
    assert set(meta["versions"]) == {"vae_core", "torch", "python"}
    assert meta["stored_dtype"] == "float32"
    assert meta["n_parameters"] == sum(p.numel() for p in model.parameters())
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT_NAME and raw["format_version"] == FORMAT_VERSION
    assert raw["model_config"] == config_to_dict(model.config)


def test_checkpoint_id_changes_when_the_file_is_rewritten(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.pt", model, train_config)
    first = read_checkpoint_info(path).checkpoint_id
    os.utime(path, ns=(1, 1))  # a different mtime stands in for a rewrite, without waiting for the clock
    assert read_checkpoint_info(path).checkpoint_id != first


def test_half_storage_loads_as_float32(tmp_path, model, train_config):
    full = save_checkpoint(tmp_path / "full.pt", model, train_config)
    half = save_checkpoint(tmp_path / "half.pt", model, train_config, half=True)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    stored = torch.load(half, weights_only=True)["state_dict"]
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    loaded, info = load_checkpoint(half)
    assert info.metadata["stored_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.half().float())
    for a, b in zip(outputs(model), outputs(loaded), strict=True):
        assert torch.allclose(a, b, atol=5e-3)


# --- atomic writes ----------------------------------------------------------------------------------------------


def test_no_temporary_files_are_left(tmp_path, model, train_config):
    save_checkpoint(tmp_path / "sub" / "m.pt", model, train_config)
    save_checkpoint(tmp_path / "sub" / "m.pt", model, train_config)  # overwrite
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["m.pt"]


def test_failed_save_keeps_the_previous_file(tmp_path, model, train_config, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", model, train_config, metrics={"version": 1})
    before = path.read_bytes()

    def save_half_then_fail(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, train_config, metrics={"version": 2})
    assert path.read_bytes() == before
    assert read_checkpoint_info(path).metadata["metrics"] == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


# --- refusals ---------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_truncated_file(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.pt", model, train_config)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=r"m\.pt: not a readable checkpoint"):
            reader(path)


@pytest.mark.parametrize("content", [os.urandom(4096), b""], ids=["random", "empty"])
def test_random_bytes(tmp_path, content):
    path = tmp_path / "noise.pt"
    path.write_bytes(content)
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=r"noise\.pt"):
            reader(path)


@pytest.mark.parametrize("foreign", ["state_dict", "dict", "list"])
def test_foreign_torch_files(tmp_path, model, foreign):
    content = {"state_dict": model.state_dict(), "dict": {"foo": 1}, "list": [1, 2, 3]}[foreign]
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match="not a VAE Latent Explorer checkpoint"):
            reader(path)


def test_newer_format_version(tmp_path, model, train_config):
    path = tmp_path / "future.pt"
    torch.save(payload(model, train_config, format_version=FORMAT_VERSION + 1), path)
    with pytest.raises(CheckpointError, match="newer vae_core"):
        load_checkpoint(path)


def test_missing_format_version(tmp_path, model, train_config):
    path = tmp_path / "nover.pt"
    torch.save(payload(model, train_config, format_version="1"), path)
    with pytest.raises(CheckpointError, match="no format version"):
        read_checkpoint_info(path)


def test_config_with_unknown_fields(tmp_path, model, train_config):
    config = {**config_to_dict(model.config), "attention_heads": 8}
    path = tmp_path / "odd.pt"
    torch.save(payload(model, train_config, model_config=config), path)
    with pytest.raises(CheckpointError, match=r"invalid configuration.*attention_heads"):
        read_checkpoint_info(path)
    bad_train = {**config_to_dict(train_config), "epochs": 0}
    torch.save(payload(model, train_config, train_config=bad_train), path)
    with pytest.raises(CheckpointError, match=r"invalid configuration.*epochs"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config(tmp_path, model, train_config, tiny_config):
    other = build_model(tiny_config(kind="vae", latent_dim=5))
    path = tmp_path / "mismatch.pt"
    torch.save(payload(model, train_config, state_dict=other.state_dict()), path)
    with pytest.raises(CheckpointError, match="do not fit its model config"):
        load_checkpoint(path)
    torch.save(payload(model, train_config, state_dict={"w": [1.0, 2.0]}), path)
    with pytest.raises(CheckpointError, match="missing or not tensors"):
        load_checkpoint(path)


class CodePayload:
    """Unpickling this calls open(marker, 'w'): a stand-in for any code a malicious file could run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the plain-pickle file
def test_code_payload_is_refused_without_running(tmp_path, model, train_config):
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(CodePayload(control))).close()  # the payload is live when unpickled freely
    assert control.exists()

    marker = tmp_path / "marker"
    as_torch = tmp_path / "evil.pt"
    torch.save(payload(model, train_config, metadata={"note": CodePayload(marker)}), as_torch)
    as_pickle = tmp_path / "evil-pickle.pt"
    as_pickle.write_bytes(pickle.dumps(payload(model, train_config, metadata={"note": CodePayload(marker)})))
    refused = r"evil\.pt: refused: the file holds code or objects the app will not load \(it names io\.open\)"
    with pytest.raises(CheckpointError, match=refused):
        load_checkpoint(as_torch)
    for path in (as_torch, as_pickle):
        for reader in (load_checkpoint, read_checkpoint_info):
            with pytest.raises(CheckpointError):
                reader(path)
    assert not marker.exists()
    scan = list_checkpoints(tmp_path)
    assert len(scan.problems) == 2 and not marker.exists()


# --- listing and names ------------------------------------------------------------------------------------------


def test_list_checkpoints_sorts_and_reports_problems(tmp_path, model, train_config):
    for name in ("zeta", "alpha", "mid"):
        save_checkpoint(tmp_path / f"{name}.pt", model, train_config)
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "notes.txt").write_text("ignored: not a .pt")
    (tmp_path / "nested").mkdir()
    save_checkpoint(tmp_path / "nested" / "deep.pt", model, train_config)
    scan = list_checkpoints(tmp_path)
    assert [info.name for info in scan.infos] == ["alpha", "mid", "zeta"]
    assert [(p.name, "broken.pt" in why) for p, why in scan.problems] == [("broken.pt", True)]
    assert list_checkpoints(tmp_path / "absent") == ([], [])


def test_safe_checkpoint_name():
    assert safe_checkpoint_name("../../etc/passwd") == "etc-passwd"
    assert safe_checkpoint_name("  my model (beta=4) ") == "my-model-beta-4"
    assert safe_checkpoint_name("mnist-vae-z2.v1") == "mnist-vae-z2.v1"
    assert len(safe_checkpoint_name("x" * 500)) == 80
    for name in ("../../etc/passwd", "a/b\\c", "./.hidden", "..\\..\\win"):
        cleaned = safe_checkpoint_name(name)
        assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    for empty in ("", "   ", "..", "///", "-_-"):
        with pytest.raises(ValueError, match="at least one letter or digit"):
            safe_checkpoint_name(empty)


# --- metadata without torch -------------------------------------------------------------------------------------


def info_through_torch(path: Path):
    """The reference: the whole payload through torch.load(weights_only=True)."""
    return info_from_payload(path, read_payload_with_torch(path, mmap=True))


def test_metadata_reader_agrees_with_torch_load(tmp_path, model, train_config):
    shipped = sorted((Path(__file__).resolve().parents[2] / "checkpoints").glob("*.pt"))
    history = [{"epoch": 1, "beta": 1.0, "train": {"objective": 50.5}, "test": None}]
    saved = [
        save_checkpoint(
            tmp_path / "full.pt",
            model,
            train_config,
            history=history,
            half=True,
            metrics={"neg_elbo": 33.0, "kl_per_dim": [0.5, 0.25, 0.0]},
            metadata={"role": "default", "nested": {"a": [1, 2.5, None, True, "x"]}},
        )
    ]
    for path in shipped + saved:
        fast, reference = read_checkpoint_info(path), info_through_torch(path)
        assert (fast.model_config, fast.train_config, fast.metadata) == (
            reference.model_config,
            reference.train_config,
            reference.metadata,
        ), path.name


def test_metadata_reader_refuses_globals_it_does_not_know(tmp_path, model, train_config):
    # torch.Size and a dtype are globals torch's safe loader accepts, but save_checkpoint never writes them:
    # the file is refused by name, by listing and loading alike (torch never sees it).
    path = tmp_path / "unusual.pt"
    torch.save(payload(model, train_config, metadata={"shape": torch.Size([2, 3])}), path)
    for reader in (read_checkpoint_info, load_checkpoint):
        with pytest.raises(
            CheckpointError,
            match=r"unusual.pt: refused: the file holds code or objects the app "
            r"will not load \(it names torch.Size\)",
        ):
            reader(path)


def test_listing_checkpoints_does_not_import_torch(tmp_path, model, train_config):
    for name in ("a", "b"):
        save_checkpoint(tmp_path / f"{name}.pt", model, train_config)
    script = (
        "import sys; from vae_core.engine.checkpoint_info import list_checkpoints; "
        f"scan = list_checkpoints({str(tmp_path)!r}); "
        "print(len(scan.infos), len(scan.problems), 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "0", "False"]


# --- claimed names ----------------------------------------------------------------------------------------------


def test_concurrent_jobs_claim_distinct_names_and_all_models_survive(tmp_path, model, train_config):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from vae_core.engine.checkpoints import claim_checkpoint_path

    barrier = threading.Barrier(4)

    def job(seed: int) -> Path:
        barrier.wait()
        path = claim_checkpoint_path(tmp_path, "digits vae z2")  # the name is chosen at submit time...
        barrier.wait()
        save_checkpoint(path, model, TrainConfig(dataset="digits", seed=seed))  # ...and filled at the end
        return path

    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(job, range(4)))
    assert sorted(p.name for p in paths) == [
        "digits-vae-z2-2.pt",
        "digits-vae-z2-3.pt",
        "digits-vae-z2-4.pt",
        "digits-vae-z2.pt",
    ]
    scan = list_checkpoints(tmp_path)
    assert sorted(info.train_config.seed for info in scan.infos) == [0, 1, 2, 3] and not scan.problems
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # claims released
