"""vae_core.serving.disk_cache: results keyed by a checkpoint's content (not its name or mtime), recomputed when
the checkpoint changes or the file is damaged, and read back equal to what was computed."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
from vae_core.engine.config import TrainConfig
from vae_core.engine.models import build_model
from vae_core.lessons import posterior
from vae_core.serving import disk_cache


@pytest.fixture
def checkpoint(tmp_path, tiny_config):
    torch.manual_seed(0)
    model = build_model(tiny_config(kind="vae", latent_dim=2))
    return save_checkpoint(tmp_path / "m.safetensors", model, TrainConfig(dataset="digits"))


def inference(path):
    model, _ = load_checkpoint(path)
    image = torch.linspace(0, 1, 64).reshape(1, 8, 8)
    return posterior.infer_image(model.eval(), image, k=50, iw_seeds=(0, 1), fit_q_star=True)


def cached_inference(path, folder, calls):
    def compute():
        calls.append(path)
        return inference(path)

    key = {"model": disk_cache.checkpoint_content(path)}
    return disk_cache.cached("test-inference/1", key, posterior.ImageInference, compute, folder=folder)


def test_a_result_reads_back_equal_to_what_was_computed(checkpoint, tmp_path):
    calls: list = []
    first = cached_inference(checkpoint, tmp_path / "cache", calls)
    again = cached_inference(checkpoint, tmp_path / "cache", calls)
    assert len(calls) == 1
    assert again.report.grid.log_px == first.report.grid.log_px
    assert torch.equal(again.report.grid.log_joint, first.report.grid.log_joint)
    assert again.report.grid.log_joint.dtype == first.report.grid.log_joint.dtype
    assert again.iw == first.iw and isinstance(again.iw.seeds, tuple)
    assert again.amortisation is not None and first.amortisation is not None
    assert again.amortisation.approximation_gap == first.amortisation.approximation_gap
    assert torch.equal(again.amortisation.q_star.logvar, first.amortisation.q_star.logvar)


def test_the_key_is_the_checkpoint_content_not_its_name_or_time(checkpoint, tmp_path, tiny_config):
    calls: list = []
    folder = tmp_path / "cache"
    cached_inference(checkpoint, folder, calls)
    copy = shutil.copy2(checkpoint, tmp_path / "renamed.safetensors")  # same content, another name
    cached_inference(copy, folder, calls)
    assert len(calls) == 1
    # Other weights at the same path with the same mtime: a stale entry would be found by name or time.
    stat = os.stat(checkpoint)
    torch.manual_seed(1)
    save_checkpoint(checkpoint, build_model(tiny_config(kind="vae", latent_dim=2)), TrainConfig(dataset="digits"))
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = cached_inference(checkpoint, folder, calls)
    assert len(calls) == 2
    assert changed.report.grid.log_px == inference(checkpoint).report.grid.log_px


def test_a_damaged_entry_is_recomputed_and_replaced(checkpoint, tmp_path):
    calls: list = []
    folder = tmp_path / "cache"
    cached_inference(checkpoint, folder, calls)
    (entry,) = folder.rglob("*.safetensors")
    entry.write_bytes(entry.read_bytes()[:100])
    cached_inference(checkpoint, folder, calls)
    cached_inference(checkpoint, folder, calls)
    assert len(calls) == 2


def test_the_cache_lives_under_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    path = disk_cache.cache_path("anomaly-scores/1", {"a": 1})
    assert path.is_relative_to(tmp_path / "data" / ".cache")
    assert path != disk_cache.cache_path("anomaly-scores/2", {"a": 1})  # a new code version is a new entry
