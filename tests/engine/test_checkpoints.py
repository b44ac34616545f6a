"""vae_core.engine.checkpoints: round trips, atomic writes, and every way a file can be refused (without running it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import safetensors.torch
import torch
from safetensors import safe_open

from tests.hostile_files import write_checkpoint
from vae_core.engine.checkpoint_info import (
    CHECKSUM_KEY,
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointError,
    list_checkpoints,
    read_checkpoint_info,
    safe_checkpoint_name,
)
from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig, config_from_dict, config_to_dict
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


def document(model, train_cfg, /, **changes) -> dict:
    """A checkpoint's document as save_checkpoint writes it, with changes, for hand-made files."""
    values = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": config_to_dict(model.config),
        "train_config": config_to_dict(train_cfg),
        "metadata": {},
    }
    values.update(changes)
    return values


def stored_document(path: Path) -> dict:
    """The document as the safetensors package reads the file's metadata (not through vae_core)."""
    with safe_open(path, framework="pt") as handle:
        return json.loads(handle.metadata()[FORMAT_NAME])


# --- round trips ------------------------------------------------------------------------------------------------


def test_round_trip_restores_weights_configs_and_outputs(tmp_path, model, train_config):
    history = [{"epoch": 1, "train": {"objective": 50.0}}]
    path = save_checkpoint(
        tmp_path / "m.safetensors",
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
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config, history=history, metrics={"kl": 1.5})
    info = read_checkpoint_info(path)
    meta = info.metadata
    assert meta["dataset"] == "digits" and meta["seed"] == 11
    assert meta["history"] == history and meta["metrics"] == {"kl": 1.5}
    assert meta["created_at"].endswith("+00:00")  # ISO time in UTC
    assert set(meta["versions"]) == {"vae_core", "torch", "safetensors", "python"}
    assert meta["stored_dtype"] == "float32"
    assert meta["n_parameters"] == sum(p.numel() for p in model.parameters())
    raw = stored_document(path)
    assert raw["format"] == FORMAT_NAME and raw["format_version"] == FORMAT_VERSION
    assert raw["model_config"] == config_to_dict(model.config) and raw["metadata"] == meta


def test_checkpoint_id_changes_when_the_file_is_rewritten(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config)
    first = read_checkpoint_info(path).checkpoint_id
    os.utime(path, ns=(1, 1))  # a different mtime stands in for a rewrite, without waiting for the clock
    assert read_checkpoint_info(path).checkpoint_id != first


def test_half_storage_loads_as_float32(tmp_path, model, train_config):
    full = save_checkpoint(tmp_path / "full.safetensors", model, train_config)
    half = save_checkpoint(tmp_path / "half.safetensors", model, train_config, half=True)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    stored = safetensors.torch.load_file(half)
    assert stored.keys() == model.state_dict().keys() and all(v.dtype == torch.float16 for v in stored.values())
    loaded, info = load_checkpoint(half)
    assert info.metadata["stored_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.half().float())
    for a, b in zip(outputs(model), outputs(loaded), strict=True):
        assert torch.allclose(a, b, atol=5e-3)


# --- atomic writes ----------------------------------------------------------------------------------------------


def test_no_temporary_files_are_left(tmp_path, model, train_config):
    save_checkpoint(tmp_path / "sub" / "m.safetensors", model, train_config)
    save_checkpoint(tmp_path / "sub" / "m.safetensors", model, train_config)  # overwrite
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["m.safetensors"]


def test_failed_save_keeps_the_previous_file(tmp_path, model, train_config, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config, metrics={"version": 1})
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save", disk_full)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, train_config, metrics={"version": 2})
    assert path.read_bytes() == before
    assert read_checkpoint_info(path).metadata["metrics"] == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_name_without_the_suffix_or_a_tensor_in_the_metadata_is_refused_before_writing(tmp_path, model, train_config):
    with pytest.raises(ValueError, match=r"ends in \.safetensors"):
        save_checkpoint(tmp_path / "m.pt", model, train_config)
    with pytest.raises(TypeError, match="holds a Tensor"):
        save_checkpoint(tmp_path / "m.safetensors", model, train_config, metadata={"note": torch.zeros(2)})
    assert list(tmp_path.iterdir()) == []


# --- refusals ---------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_truncated_file(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=r"m\.safetensors: not a readable checkpoint"):
            reader(path)


@pytest.mark.parametrize("content", [os.urandom(4096), b""], ids=["random", "empty"])
def test_random_bytes(tmp_path, content):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(content)
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=r"noise\.safetensors"):
            reader(path)


@pytest.mark.parametrize("foreign", ["safetensors", "old-format", "json"])
def test_foreign_files(tmp_path, model, foreign):
    path = tmp_path / "foreign.safetensors"
    if foreign == "safetensors":
        safetensors.torch.save_file(model.state_dict(), path)  # weights without a document of ours
    elif foreign == "old-format":
        torch.save({"state_dict": model.state_dict()}, path)  # a torch pickle, named like a checkpoint
    else:
        path.write_text(json.dumps({"format": FORMAT_NAME}))
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=r"foreign\.safetensors: (not a|an old-format)"):
            reader(path)


def test_newer_format_version(tmp_path, model, train_config):
    path = write_checkpoint(
        tmp_path / "future.safetensors", document(model, train_config, format_version=FORMAT_VERSION + 1), {}
    )
    with pytest.raises(CheckpointError, match="newer vae_core"):
        load_checkpoint(path)


def test_missing_format_version(tmp_path, model, train_config):
    path = write_checkpoint(tmp_path / "nover.safetensors", document(model, train_config, format_version="1"), {})
    with pytest.raises(CheckpointError, match="no format version"):
        read_checkpoint_info(path)


def test_config_with_unknown_fields(tmp_path, model, train_config):
    config = {**config_to_dict(model.config), "attention_heads": 8}
    path = tmp_path / "odd.safetensors"
    write_checkpoint(path, document(model, train_config, model_config=config), model.state_dict())
    with pytest.raises(CheckpointError, match=r"invalid configuration.*attention_heads"):
        read_checkpoint_info(path)
    bad_train = {**config_to_dict(train_config), "epochs": 0}
    write_checkpoint(path, document(model, train_config, train_config=bad_train), model.state_dict())
    with pytest.raises(CheckpointError, match=r"invalid configuration.*epochs"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config(tmp_path, model, train_config, tiny_config):
    other = build_model(tiny_config(kind="vae", latent_dim=5))
    path = write_checkpoint(tmp_path / "mismatch.safetensors", document(model, train_config), other.state_dict())
    with pytest.raises(CheckpointError, match="do not fit its model config"):
        load_checkpoint(path)


def test_a_changed_byte_anywhere_after_the_header_fails_the_checksum(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config)
    good = path.read_bytes()
    data_start = 8 + int.from_bytes(good[:8], "little")
    for offset in (data_start, (data_start + len(good)) // 2, len(good) - 1):
        damaged = bytearray(good)
        damaged[offset] ^= 0x01  # the lowest bit of one byte: a weight changes by a hair, still finite
        path.write_bytes(bytes(damaged))
        read_checkpoint_info(path)  # listing reads no weights
        with pytest.raises(CheckpointError, match="do not match its checksum"):
            load_checkpoint(path)


def test_the_checksum_covers_the_document(tmp_path, model, train_config):
    path = save_checkpoint(tmp_path / "m.safetensors", model, train_config, metrics={"neg_elbo": 30.0})
    with safe_open(path, framework="pt") as handle:
        metadata, state = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    metadata[FORMAT_NAME] = metadata[FORMAT_NAME].replace('"neg_elbo":30.0', '"neg_elbo":20.0')
    safetensors.torch.save_file(state, path, metadata=metadata)  # the old checksum kept
    assert read_checkpoint_info(path).metadata["metrics"] == {"neg_elbo": 20.0}
    with pytest.raises(CheckpointError, match="do not match its checksum"):
        load_checkpoint(path)
    assert metadata[CHECKSUM_KEY]


def test_an_old_format_file_is_refused_with_the_command_that_converts_it(tmp_path, model, train_config):
    old = tmp_path / "old.pt"
    torch.save({"format": FORMAT_NAME, "format_version": 1, "state_dict": model.state_dict()}, old)
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError) as refused:
            reader(old)
        assert str(refused.value) == (
            "old.pt: an old-format checkpoint (a torch pickle), which this version does not read; convert it once "
            f"with `python -m vae_core convert {tmp_path}`"
        )


# --- listing and names ------------------------------------------------------------------------------------------


def test_list_checkpoints_sorts_and_reports_problems(tmp_path, model, train_config):
    for name in ("zeta", "alpha", "mid"):
        save_checkpoint(tmp_path / f"{name}.safetensors", model, train_config)
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    (tmp_path / "notes.txt").write_text("ignored: not a .safetensors")
    (tmp_path / "nested").mkdir()
    save_checkpoint(tmp_path / "nested" / "deep.safetensors", model, train_config)
    scan = list_checkpoints(tmp_path)
    assert [info.name for info in scan.infos] == ["alpha", "mid", "zeta"]
    assert [(p.name, "broken.safetensors" in why) for p, why in scan.problems] == [("broken.safetensors", True)]
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


def test_header_reader_agrees_with_the_safetensors_package(tmp_path, model, train_config):
    shipped = sorted((Path(__file__).resolve().parents[2] / "checkpoints").glob("*.safetensors"))
    history = [{"epoch": 1, "beta": 1.0, "train": {"objective": 50.5}, "test": None}]
    saved = [
        save_checkpoint(
            tmp_path / "full.safetensors",
            model,
            train_config,
            history=history,
            half=True,
            metrics={"neg_elbo": 33.0, "kl_per_dim": [0.5, 0.25, 0.0], "iw_nll": float("nan")},
            metadata={"role": "default", "nested": {"a": [1, 2.5, None, True, "x"]}},
        )
    ]
    assert len(shipped) == 37  # the zoo: 29, the digits lesson models (4) and the sprites models (4)
    for path in shipped + saved:
        info = read_checkpoint_info(path)
        with safe_open(path, framework="pt") as handle:
            shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
        reference = stored_document(path)
        # tensor_shapes are the model's; a training replay's tensors are described by info.replay
        replay_shapes = {k: v for k, v in shapes.items() if k.startswith("replay.")}
        assert info.tensor_shapes == {k: v for k, v in shapes.items() if k not in replay_shapes}, path.name
        if info.replay is None:
            assert not replay_shapes and "replay" not in reference, path.name
        else:
            frames, images = len(reference["replay"]["steps"]), reference["replay"]["images"]
            assert replay_shapes["replay.codes"] == (frames, images, 2) == (info.replay_frames, images, 2), path.name
        assert (info.model_config, info.train_config) == (
            config_from_dict(ModelConfig, reference["model_config"]),  # files from before num_classes lack it
            config_from_dict(TrainConfig, reference["train_config"]),
        ), path.name
        assert json.dumps(info.metadata) == json.dumps(reference["metadata"]), path.name  # NaN == NaN as text


def test_listing_checkpoints_does_not_import_torch(tmp_path, model, train_config):
    for name in ("a", "b"):
        save_checkpoint(tmp_path / f"{name}.safetensors", model, train_config)
    script = (
        "import sys; from vae_core.engine.checkpoint_info import list_checkpoints; "
        f"scan = list_checkpoints({str(tmp_path)!r}); "
        "print(len(scan.infos), len(scan.problems), 'torch' in sys.modules, 'pickle' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "0", "False", "False"]  # no torch, and no pickle is ever parsed


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
        "digits-vae-z2-2.safetensors",
        "digits-vae-z2-3.safetensors",
        "digits-vae-z2-4.safetensors",
        "digits-vae-z2.safetensors",
    ]
    scan = list_checkpoints(tmp_path)
    assert sorted(info.train_config.seed for info in scan.infos) == [0, 1, 2, 3] and not scan.problems
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # claims released
