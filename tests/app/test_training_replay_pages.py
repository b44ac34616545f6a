"""The Train and β pages show training replays: a model's own, a running job's frames as they come, the saved
model's once it is saved; one line where there is none.

AppTest runs no JavaScript: it sees the component's data (the browser's side is test_training_replay_browser.py).
What the pages send is checked against computations made here: the last frame's codes against the model's
posterior means of the fixed test images, the steps against the run's length.
"""

from __future__ import annotations

import json
import math
import shutil
import time

import numpy as np
import pytest
import torch

from tools.synthetic_replay import synthetic_replay
from ui.figures.colours import MIN_CONTRAST, THEME_PAPERS, contrast_on
from ui.shell.lessons import LESSONS
from ui.widgets.training_replay import replay_data
from vae_core.engine.checkpoints import load_checkpoint, load_replay, save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.literal_text import literal
from vae_core.engine.protocol import protocol_of
from vae_core.engine.replay import PLANE_LATENT, PLANE_PCA, REPLAY_IMAGES
from vae_core.engine.replay_recorder import ReplayRecorder
from vae_core.engine.training import fit, training_metadata
from vae_core.serving.replay_payload import payload_codes, replay_payload

REPLAY = "vae_latent_explorer.training_replay"
JOB_TIMEOUT_S = 120
BATCH = 128


def replays(at) -> list[dict]:
    """The data of every replay component on the page, in page order."""
    return [json.loads(e.proto.json) for e in at.get("bidi_component") if e.proto.component_name == REPLAY]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def train_with_replay(path, *, latent_dim=2, beta=1.0, role=None, group=None, epochs=2):
    """A tiny digits VAE trained as the tiny zoo's are, recording its replay (the recorder's own API), saved."""
    train_data, test_data = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_config = ModelConfig(
        kind="vae", input_shape=train_data.input_shape, latent_dim=latent_dim, hidden_dims=(64,), beta=beta
    )
    train_config = TrainConfig(
        dataset="digits", epochs=epochs, batch_size=BATCH, lr=3e-3, seed=0, eval_each_epoch=False
    )
    recorder = ReplayRecorder.for_run(model_config, train_config, len(train_data), test_data)
    result = fit(model_config, train_config, recorder, train_data=train_data, test_data=test_data, model=recorder.model)
    metadata = training_metadata(result.seconds, len(train_data), len(test_data), len(result.history))
    if role:
        metadata.update(role=role, group=group)
    return save_checkpoint(
        path,
        result.model,
        train_config,
        history=[r.to_dict() for r in result.history],
        metrics=evaluate(result.model, test_data, protocol=protocol_of(train_config, model_config)).to_dict(),
        metadata=metadata,
        replay=recorder.finish(result.model),
    )


@pytest.fixture
def replay_zoo(app_env, tmp_path, monkeypatch):
    """The tiny zoo, with its 2-D VAE and two of its β sweep's three models carrying replays."""
    folder = tmp_path / "zoo_with_replays"
    shutil.copytree(app_env.folder, folder)
    train_with_replay(folder / app_env.vae_2d.name, role="family-2d", group=app_env.family_group)
    sweep = dict(latent_dim=3, role="beta-sweep", group=app_env.sweep_group)
    for path in app_env.sweep[:2]:
        train_with_replay(folder / path.name, beta=load_checkpoint(path)[1].model_config.beta, **sweep)
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(folder))
    return folder


def posterior_means(path, n: int) -> np.ndarray:
    model, _ = load_checkpoint(path)
    with torch.no_grad():
        mean, _ = model.encode(load_dataset("digits", "test").images[:n])
    return mean.numpy()


def steps_of(epochs: int) -> int:
    return epochs * math.ceil(len(load_dataset("digits", "train")) / BATCH)


# --- Train ------------------------------------------------------------------------------------------------------
def test_without_replays_the_train_page_says_so_in_one_line(open_page):
    at = open_page(LESSONS["train"].script)
    assert not at.exception and not replays(at)
    line = next(c.value for c in at.caption if "carries no training replay" in c.value)
    assert "no shipped model carries one" in line and "a model trained on this page records its own" in line


def test_the_train_page_replays_the_picked_models_own_run(open_page, replay_zoo):
    at = open_page(LESSONS["train"].script)
    assert not at.exception
    assert at.sidebar.selectbox(key="sidebar_model").value == "shipped/digits-vae-z2", "digits' default model"
    assert "Watch digits-vae-z2 learn" in [h.value for h in at.subheader]
    (data,) = replays(at)
    payload = data["blobs"][data["replay"]]
    assert payload is not None, "the first run sends the replay"
    n = min(REPLAY_IMAGES, len(load_dataset("digits", "test")))
    assert payload["n"] == n and payload["plane"] == PLANE_LATENT and payload["prior_centre"] == [0.0, 0.0]
    assert payload["steps"][0] == 0 and payload["steps"][-1] == steps_of(2), "from the untrained model to the end"
    # the last frame is the saved model: its posterior means of the first n test images, in float16
    np.testing.assert_allclose(
        payload_codes(payload)[-1].astype(np.float32),
        posterior_means(replay_zoo / "digits-vae-z2.safetensors", n),
        rtol=2e-3,
        atol=2e-3,
    )
    assert data["axis_titles"] == ["z₁", "z₂"] and data["live"] is False
    caption = texts(at.caption)
    assert f"one of {n:,} fixed test images: its posterior mean" in caption and "1σ of the prior" in caption
    assert "z₁, z₂" in caption

    at.sidebar.selectbox(key="sidebar_model").select("shipped/digits-ae-z2").run()  # it carries none
    assert not replays(at)
    line = next(c.value for c in at.caption if "carries no training replay" in c.value)
    assert line.startswith("digits-ae-z2 carries no training replay")
    named = [literal(name) for name in ("digits-vae-z2", "digits-vae-z3-beta0.5", "digits-vae-z3-beta1")]
    assert f"the shipped models that carry one: {', '.join(named)})" in line, "and no other"

    at.sidebar.selectbox(key="sidebar_model").select("shipped/digits-vae-z2").run()
    (again,) = replays(at)
    assert again["replay"] == data["replay"] and again["blobs"] == {data["replay"]: None}, "sent once a session"


def test_a_training_job_shows_its_frames_as_they_come_then_the_saved_models_replay(open_page, tmp_path):
    at = open_page(LESSONS["train"].script)
    at.slider(key="train_epochs").set_value(60)
    at.selectbox(key="train_size").set_value("large")
    at.text_input(key="train_name").input("watched")
    next(b for b in at.button if b.label == "Train").click().run()
    live_payloads = []  # each new snapshot the page sent while the job trained
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while not at.success and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
        live_payloads += [d["blobs"][d["replay"]] for d in replays(at) if d["live"] and d["blobs"][d["replay"]]]
    assert at.success, "the job finished"
    assert live_payloads, "while it trained, the page showed its frames"
    total = steps_of(60)
    assert any(p["steps"][-1] < total for p in live_payloads), "frames of a run still training"
    assert "Watch it learn" in [h.value for h in at.subheader]
    (data,) = replays(at)
    assert data["live"] is False
    saved = load_replay(tmp_path / "user_checkpoints" / "watched.safetensors")
    assert saved is not None and data["replay"] == replay_payload(saved)["fingerprint"], "the saved file's replay"
    assert saved.frames[-1].step == total


# --- β trade-off ------------------------------------------------------------------------------------------------
def test_the_beta_page_replays_the_sweeps_models_that_carry_one(open_page, replay_zoo):
    at = open_page(LESSONS["beta_tradeoff"].script)
    assert not at.exception
    assert "Replay a model's training" in [h.value for h in at.subheader]
    picker = at.selectbox(key="beta_replay_model")
    assert picker.options == [
        "β = 0.5 · digits-vae-z3-beta0.5",
        "β = 1 · digits-vae-z3-beta1",
    ], "the sweep's models that carry a replay (β = 4 carries none)"
    (first,) = replays(at)
    payload = first["blobs"][first["replay"]]
    assert payload["plane"] == PLANE_PCA and first["axis_titles"] == ["PC 1", "PC 2"]
    assert "the final model's first two principal axes" in texts(at.caption)
    picker.select("shipped/digits-vae-z3-beta1").run()
    (second,) = replays(at)
    assert second["replay"] != first["replay"]
    expected = replay_payload(load_replay(replay_zoo / "digits-vae-z3-beta1.safetensors"))
    assert second["replay"] == expected["fingerprint"]


def test_a_sweep_without_replays_says_so_in_one_line(open_page):
    at = open_page(LESSONS["beta_tradeoff"].script)
    assert not at.exception and not replays(at)
    line = next(c.value for c in at.caption if "carries a training replay" in c.value)
    assert "30 MB budget" in line and "Train one more β point" in line


def test_the_replays_colours_read_on_both_themes():
    payload = replay_payload(synthetic_replay(n_frames=2, n_images=10))
    colours = replay_data("r", payload, {}, class_names=[str(c) for c in range(10)])["colours"]
    for colour in [*colours["classes"], colours["prior"]]:
        for theme, paper in THEME_PAPERS.items():
            assert contrast_on(colour, paper) >= MIN_CONTRAST, f"{colour} on the {theme} theme"
