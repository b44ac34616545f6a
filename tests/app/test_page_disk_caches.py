"""The Anomaly and Inference pages' results on disk and in memory: keyed by the checkpoint's content (a copy under
another name hits, other weights at the same path and time miss and are recomputed), never by a file name."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import streamlit as st
import torch

from ui.state import anomaly_cache, inference_cache
from ui.state.loaders import load_model
from ui.state.memo import ServerMemo
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.models import build_model
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.registry import ModelRef
from vae_core.lessons import anomaly, posterior
from vae_core.serving import disk_cache

PROTOCOL = DataProtocol.BINARIZED.value


@pytest.fixture
def data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()  # the server memos: every test starts with none
    yield tmp_path / "data"
    st.cache_resource.clear()


def write_vae(path, tiny_config, seed: int) -> ModelRef:
    torch.manual_seed(seed)
    save_checkpoint(path, build_model(tiny_config(kind="vae", latent_dim=2)), TrainConfig(dataset="digits"))
    stat = os.stat(path)
    return ModelRef(f"{path}:{stat.st_mtime_ns}:{stat.st_size}:{seed}", str(path))


def rewrite_keeping_time(path, tiny_config, seed: int) -> ModelRef:
    """Other weights at the same path with the same mtime: a cache keyed by name or time would serve stale ones."""
    stat = os.stat(path)
    ref = write_vae(path, tiny_config, seed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return ref


def test_the_scores_key_is_the_checkpoints_content(tmp_path, tiny_config):
    ref = write_vae(tmp_path / "vae.safetensors", tiny_config, seed=0)
    copy = ModelRef("another id", str(shutil.copy2(ref.path, tmp_path / "renamed.safetensors")))

    def key(vae: ModelRef) -> dict[str, object]:
        return anomaly_cache.scores_key(vae, None, PROTOCOL, "digits", "test", subset=20, iw_samples=10, seed=0)

    before = key(ref)
    assert key(copy) == before
    assert before["vae"] == disk_cache.checkpoint_content(ref.path)
    changed = rewrite_keeping_time(tmp_path / "vae.safetensors", tiny_config, seed=1)
    assert key(changed) != before


def test_a_changed_checkpoint_gets_a_new_study(data_dir, tmp_path, tiny_config):
    ref = write_vae(tmp_path / "vae.safetensors", tiny_config, seed=0)

    def study(vae: ModelRef) -> anomaly.AnomalyStudy:
        return anomaly_cache.study(
            vae, None, PROTOCOL, "digits", subset=12, iw_samples=4, seed=0, include_synthetic=False
        )

    first = study(ref)
    assert study(ref) is first  # memo: the same object
    files = sorted((disk_cache.cache_folder() / "anomaly-scores").iterdir())
    assert files, "the sets are kept on disk"
    st.cache_resource.clear()  # a new server process: read back from disk, equal
    again = study(ref)
    np.testing.assert_array_equal(again.inside.scores.iw_nll, first.inside.scores.iw_nll)
    assert sorted((disk_cache.cache_folder() / "anomaly-scores").iterdir()) == files
    changed = rewrite_keeping_time(tmp_path / "vae.safetensors", tiny_config, seed=1)
    fresh = study(changed)
    assert not np.array_equal(fresh.inside.scores.iw_nll, first.inside.scores.iw_nll)
    assert len(list((disk_cache.cache_folder() / "anomaly-scores").iterdir())) == len(files) + 1


def test_a_changed_checkpoint_gets_a_new_inference(data_dir, tmp_path, tiny_config):
    ref = write_vae(tmp_path / "vae.safetensors", tiny_config, seed=0)
    image = load_dataset("digits", "test").images[3, 0].numpy()
    steps: list[float] = []
    first = inference_cache.image_inference(ref, image, fit_q_star=False, progress=lambda f, _: steps.append(f))
    assert steps and steps[0] == 0.0  # computed: every step reported
    steps.clear()
    assert inference_cache.image_inference(ref, image, fit_q_star=False, progress=lambda f, _: steps.append(f)) is first
    assert steps == []  # kept: nothing to report
    copy = ModelRef("another id", str(shutil.copy2(ref.path, tmp_path / "renamed.safetensors")))
    st.cache_resource.clear()
    assert inference_cache.image_inference(copy, image, fit_q_star=False).report.log_px == first.report.log_px
    changed = rewrite_keeping_time(tmp_path / "vae.safetensors", tiny_config, seed=1)
    fresh = inference_cache.image_inference(changed, image, fit_q_star=False)
    assert fresh.report.log_px != first.report.log_px


def test_the_memo_keeps_the_most_recently_used():
    memo: ServerMemo[int] = ServerMemo(max_entries=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # now "b" is the least recently used
    memo.put("c", 3)
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3


def test_switching_q_star_reuses_the_other_result(data_dir, tmp_path, tiny_config):
    ref = write_vae(tmp_path / "vae.safetensors", tiny_config, seed=0)
    image = load_dataset("digits", "test").images[4, 0].numpy()
    with_q_star = inference_cache.image_inference(ref, image, fit_q_star=True)
    steps: list[str] = []
    without = inference_cache.image_inference(ref, image, fit_q_star=False, progress=lambda _, w: steps.append(w))
    assert steps == [] and without.amortisation is None  # nothing computed: the numbers above, less q*
    fresh = posterior.infer_image(
        load_model(ref),
        torch.as_tensor(image)[None],
        k=inference_cache.IW_K,
        iw_seeds=inference_cache.IW_SEEDS,
        fit_q_star=False,
    )
    assert without.report.log_px == fresh.report.log_px and without.iw == fresh.iw
    assert without.report.log_px == with_q_star.report.log_px

    other = load_dataset("digits", "test").images[5, 0].numpy()
    inference_cache.image_inference(ref, other, fit_q_star=False)
    again = inference_cache.image_inference(ref, other, fit_q_star=True, progress=lambda _, w: steps.append(w))
    assert steps == ["fitting q*"]  # only q* was fitted
    full = posterior.infer_image(
        load_model(ref),
        torch.as_tensor(other)[None],
        k=inference_cache.IW_K,
        iw_seeds=inference_cache.IW_SEEDS,
        fit_q_star=True,
    )
    assert again.amortisation is not None and full.amortisation is not None
    assert again.amortisation.approximation_gap == full.amortisation.approximation_gap


def test_the_scores_key_says_which_images_the_reference_is_fitted_to(monkeypatch, tmp_path, tiny_config):
    """Fetching the training split refits the likelihood ratio's reference: the scores cached before are stale."""
    ref = write_vae(tmp_path / "vae.safetensors", tiny_config, seed=0)

    def key() -> dict[str, object]:
        return anomaly_cache.scores_key(ref, None, PROTOCOL, "mnist", "test", subset=20, iw_samples=10, seed=0)

    monkeypatch.setattr("vae_core.engine.data.has_split", lambda name, split, root=None: False)
    before_fetch = key()
    monkeypatch.setattr("vae_core.engine.data.has_split", lambda name, split, root=None: True)
    assert key() != before_fetch


def test_the_contractive_parts_numbers_are_read_back_from_disk(data_dir, monkeypatch):
    """The contractive AE part's Jacobian norms, contraction summary and toy-curve slopes: computed once, equal to
    the lesson functions' own results, then read from disk by a fresh server without computing anything."""
    from ui.state import autoencoder_lesson as state
    from vae_core.lessons.autoencoders import numbers, parts
    from vae_core.lessons.autoencoders.lesson_models import TOY_SPECS
    from vae_core.lessons.autoencoders.toy_zoo import toy_data

    # a fresh server over this empty data directory: earlier tests in this process may hold these numbers in memory,
    # which would answer without writing them here
    st.cache_data.clear()
    st.cache_resource.clear()
    model = state.lesson_model("digits", "cae")
    images = state.test_images("digits")
    expected_norms = numbers.jacobian_norms_sq(model.embed, images).numpy()
    expected_summary = numbers.contraction_summary(model.embed, images, 1.0)
    settings, specs = toy_data("curve"), {"plain AE": TOY_SPECS["plain-2d"], "CAE": TOY_SPECS["cae"]}
    toy_models = {label: state.toy_fit(settings, spec).model for label, spec in specs.items()}
    expected_slopes = parts.curve_slopes(toy_models, state.toy_manifold(settings))

    np.testing.assert_allclose(state.jacobian_norms("digits", "cae"), expected_norms, rtol=1e-6)
    assert state.contraction("digits", "cae", 1.0) == expected_summary
    assert state.curve_slopes(settings, specs) == expected_slopes
    kinds = {p.name for p in disk_cache.cache_folder().iterdir()}
    assert {"ae-jacobian-norms", "ae-contraction", "ae-curve-slopes"} <= kinds

    st.cache_data.clear()  # a new server process: everything from disk
    st.cache_resource.clear()

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed instead of read from disk")

    monkeypatch.setattr(numbers, "jacobian_norms_sq", refuse)
    monkeypatch.setattr(numbers, "contraction_summary", refuse)
    monkeypatch.setattr(parts, "curve_slopes", refuse)
    np.testing.assert_allclose(state.jacobian_norms("digits", "cae"), expected_norms, rtol=1e-6)
    assert state.contraction("digits", "cae", 1.0) == expected_summary
    assert state.curve_slopes(settings, specs) == expected_slopes
