"""The disentanglement page (AppTest) on the shipped sprites models: it opens without training or measuring
anything, shows what their recorded numbers say, and its traversals are the decoder's."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.zoo.specs import disentanglement_specs

PAGE = LESSONS["disentanglement"].script
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.fixture
def page_with_sprites_models(open_page, app_env, tmp_path, monkeypatch):
    shipped = tmp_path / "shipped_with_sprites"
    shutil.copytree(app_env.folder, shipped)
    for spec in disentanglement_specs():
        shutil.copy(SHIPPED / spec.filename, shipped / spec.filename)
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(shipped))
    return open_page(PAGE)


def test_the_page_tells_the_claim_from_the_recorded_numbers(page_with_sprites_models, monkeypatch):
    at = page_with_sprites_models
    assert not at.exception
    recorded = {
        spec.name: read_checkpoint_info(SHIPPED / spec.filename).metadata["disentanglement"]
        for spec in disentanglement_specs()
    }
    story = next(md.value for md in at.markdown if "MIG of the VAEs by β" in md.value)
    for spec in disentanglement_specs():
        if spec.model.kind == "vae":
            assert f"{recorded[spec.name]['mig']:.2f} (β = {spec.model.beta:g})" in story
    assert len(at.get("plotly_chart")) == 4  # trade-off, MI maps, two traversals


def test_traversals_follow_the_chosen_sprite(page_with_sprites_models):
    at = page_with_sprites_models
    at.select_slider(key="disent_shape").set_value("heart").run()
    assert not at.exception
    at.select_slider(key="disent_x").set_value(at.select_slider(key="disent_x").options[0]).run()
    assert not at.exception


def test_one_more_model_trains_in_the_background_and_joins_the_chart(page_with_sprites_models, tmp_path):
    at = page_with_sprites_models
    at.selectbox(key="disent_new_kind").set_value("tcvae")
    at.number_input(key="disent_new_beta").set_value(9.0)
    at.slider(key="disent_new_epochs").set_value(1)
    next(b for b in at.button if b.label == "Train this model").click().run()
    assert not at.exception
    deadline = time.monotonic() + 300
    while not at.success and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception
    assert at.success, "the job did not finish in time"
    saved = list((tmp_path / "user_checkpoints").glob("*.safetensors"))
    assert [p.name for p in saved] == ["sprites-tcvae-z10-beta9.safetensors"]
    info = read_checkpoint_info(saved[0])
    assert info.metadata["role"] == "disentanglement" and info.model_config.tc_dataset_size == 10_368
    at.run()
    assert "β-TCVAE β = 9" in at.selectbox(key="disent_map_model").options  # measured, and offered with the others
    story = next(md.value for md in at.markdown if "MIG of the VAEs by β" in md.value)
    first = disentanglement_specs()[0]
    recorded = read_checkpoint_info(SHIPPED / first.filename).metadata["disentanglement"]["mig"]
    assert f"MIG of the VAEs by β: {recorded:.2f} (β = {first.model.beta:g})" in story  # the new one is no VAE


def test_without_the_sprites_models_the_page_says_how_to_build_them(open_page):
    at = open_page(PAGE)
    assert not at.exception
    assert any("python -m vae_core zoo" in info.value for info in at.info)


def test_the_reference_map_has_one_bright_cell_per_row():
    from vae_core.lessons.disentanglement import disentangled_reference, mig

    reference = disentangled_reference(5, 10)
    assert np.array_equal(reference.sum(1), np.ones(5)) and reference.max(0).sum() == 5
    assert mig(reference) == 1.0
