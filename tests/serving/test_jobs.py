"""Background training jobs: fit in a child process that reports progress, stops at once keeping the last
finished epoch, is reported when it dies, and saves; the board's claims, queue and owners.

Three children are started once for the module (each imports torch, seconds on a busy machine) and run one after
the other; the rest drive the child's function in this process or use a scheduler that launches nothing.
"""

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.engine.checkpoints import load_checkpoint, load_replay
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.replay_recorder import ReplayRecorder, frame_steps
from vae_core.engine.training import fit
from vae_core.serving import jobs as training_job
from vae_core.serving.background import TRAINING_KIND, Scheduler
from vae_core.serving.jobs import (
    DIVERGED,
    DONE,
    FAILED,
    RUNNING,
    STOPPED,
    WAITING,
    JobBoard,
    QueueFull,
    TrainingJob,
    unique_checkpoint_path,
)

TIMEOUT_S = 180  # generous: the machine is shared; a child's torch import alone can take seconds


def configs(epochs=2, **model_changes):
    model_config = ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,), **model_changes)
    return model_config, TrainConfig(dataset="digits", epochs=epochs, batch_size=256, num_threads=1)


def long_configs():
    """A run far longer than any test waits: stopped or killed after its first epochs."""
    model_config = ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(256, 128))
    return model_config, TrainConfig(dataset="digits", epochs=500, batch_size=32, num_threads=1)


class ListQueue(list):
    """What the child puts its messages on, for running the child's function in this process."""

    def put(self, message):
        self.append(message)


def wait_until(job, condition, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not condition(job.progress()):
        assert time.monotonic() < deadline, f"stuck at {job.progress()}"
        time.sleep(0.02)
    return job.progress()


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """Three trainings in child processes, one at a time (the scheduler starts each when the one before ends,
    so they do not compete for the cores): one runs to its end, one is stopped, one is killed."""
    folder = tmp_path_factory.mktemp("children")
    board = JobBoard(max_running=1, max_waiting=2, scheduler=Scheduler(max_running=1, per_kind={TRAINING_KIND: 1}))
    jobs = {
        "finishing": board.submit(*configs(), folder, "finishing", metadata={"role": "beta-sweep", "group": "g"}),
        "stopped": board.submit(*long_configs(), folder, "stopped", owner="owner-secret"),
        "killed": board.submit(*long_configs(), folder, "killed"),
    }
    yield folder, board, jobs
    for job in jobs.values():
        job.request_stop()


def test_a_child_trains_then_saves_an_evaluated_checkpoint(children):
    _, _, jobs = children
    job = jobs["finishing"]
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    assert progress.state == DONE and progress.fraction == 1.0 and progress.epoch == 2, progress
    assert [r.epoch for r in progress.history] == [1, 2] and progress.curve
    model, info = load_checkpoint(progress.saved_path)
    assert info.metadata["role"] == "beta-sweep" and info.metadata["group"] == "g"
    assert info.metadata["trained_in_app"] is True and info.metadata["epochs_run"] == 2
    assert info.metadata["hardware"].endswith("1 torch thread")
    # the stored metrics are the evaluation of the stored weights, on the whole test split
    test = load_dataset("digits", "test")
    assert info.metrics.neg_elbo == pytest.approx(evaluate(model, test.images).neg_elbo, rel=1e-5)
    assert progress.report.n_images == len(test)
    # the training replay: saved with the model, and the page's progress shows the file's
    saved = load_replay(progress.saved_path)
    steps_per_epoch = -(-len(load_dataset("digits", "train")) // 256)
    assert [frame.step for frame in saved.frames] == frame_steps(2 * steps_per_epoch)
    assert [frame.grid_png for frame in progress.replay.frames] == [frame.grid_png for frame in saved.frames]


def test_progress_arrives_and_stop_ends_the_child_at_once_keeping_the_last_finished_epoch(children):
    _, _, jobs = children
    job = jobs["stopped"]
    seen = wait_until(job, lambda p: p.epoch >= 2)
    assert seen.state == RUNNING and seen.fraction > 0 and seen.curve and seen.message.startswith("Epoch ")
    pid = job.pid
    pressed = time.perf_counter()
    job.request_stop()
    answered = time.perf_counter() - pressed
    assert not job.is_alive() and job.exitcode == -signal.SIGTERM, "the child is ended, not asked"
    assert answered < 1.0, f"Stop took {answered:.2f} s to end the child"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert job.progress().stop_requested
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    assert progress.state == STOPPED and "finished epoch(s)" in progress.message
    model, info = load_checkpoint(progress.saved_path)
    kept = progress.epoch
    assert kept >= 2 and info.metadata["epochs_run"] == kept and info.metadata["stopped_early"] is True
    assert [r["epoch"] for r in info.metadata["history"]] == list(range(1, kept + 1))
    # the saved weights are those the child sent at the end of that epoch, and the metrics are theirs
    for name, tensor in model.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), job._last_weights[name])
    test = load_dataset("digits", "test")
    assert info.metrics.neg_elbo == pytest.approx(evaluate(model, test.images).neg_elbo, rel=1e-5)
    # its replay keeps the frames up to the end of that epoch, not those the child took after it
    steps_per_epoch = -(-len(load_dataset("digits", "train")) // 32)
    all_steps = frame_steps(500 * steps_per_epoch)
    saved = load_replay(progress.saved_path)
    assert [frame.step for frame in saved.frames] == [s for s in all_steps if s <= kept * steps_per_epoch]
    assert [frame.step for frame in progress.replay.frames] == [frame.step for frame in saved.frames]


def test_a_killed_child_is_reported_loses_no_other_model_and_its_last_epoch_can_be_saved(children):
    folder, _, jobs = children
    job = jobs["killed"]
    jobs["stopped"].request_stop()  # its slot (already free when the test before has run)
    wait_until(job, lambda p: p.epoch >= 1)
    os.kill(job.pid, signal.SIGKILL)
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    assert progress.state == FAILED and progress.saved_path is None
    assert "training process ended unexpectedly: exit code -9" in progress.message
    assert not (folder / "killed.safetensors").exists()
    assert not any(p.name.endswith(".claim") for p in folder.iterdir() if "killed" in p.name)
    assert jobs["finishing"].join(TIMEOUT_S)
    load_checkpoint(folder / "finishing.safetensors")  # the others are untouched
    assert job.can_save_last_good
    _, info = load_checkpoint(job.save_last_good())
    assert info.metadata["epochs_run"] == len(progress.history) and not job.can_save_last_good


# --- the child's function, run in this process ------------------------------------------------------------------
def test_the_child_sends_a_curve_point_per_step_and_the_weights_per_epoch(tmp_path):
    """Digits with batches of 256 has 6 steps per epoch: a point per step, at global_step / steps_per_epoch."""
    queue = ListQueue()
    training_job._train_in_child(*configs(epochs=2), tmp_path / "c.safetensors", {}, queue)
    kinds = [kind for kind, _ in queue]
    assert kinds[0] == "status" and kinds[-1] == "saved" and kinds.count("epoch") == 2
    train = load_dataset("digits", "train")
    steps = -(-len(train) // 256)
    points = [payload[2] for kind, payload in queue if kind == "step"]
    np.testing.assert_allclose([p.epochs for p in points], [s / steps for s in range(1, 2 * steps + 1)])
    records = [payload[0] for kind, payload in queue if kind == "epoch"]
    # the points of an epoch average, with the last batch's smaller weight, to the epoch's recorded mean
    weights = np.array([256] * (steps - 1) + [len(train) - 256 * (steps - 1)], dtype=float)
    for record, epoch_points in zip(records, (points[:steps], points[steps:]), strict=True):
        recon = np.average([p.recon for p in epoch_points], weights=weights)
        assert recon == pytest.approx(record.train.recon, rel=1e-5)
    model, _ = load_checkpoint(tmp_path / "c.safetensors")
    last_weights = [payload[1] for kind, payload in queue if kind == "epoch"][-1]
    for name, tensor in model.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), last_weights[name])


class EveryStepRecorder(ReplayRecorder):
    """The child's recorder with a frame every step: these digits runs are shorter than MIN_FRAME_GAP_STEPS."""

    @classmethod
    def for_run(cls, *args, **kwargs):
        return super().for_run(*args, **kwargs, min_gap=1)


def test_the_child_streams_replay_frames_that_the_page_shows_as_they_come(tmp_path, monkeypatch):
    monkeypatch.setattr(training_job, "ReplayRecorder", EveryStepRecorder)
    model_config, train_config = configs(epochs=3)
    queue = ListQueue()
    training_job._train_in_child(model_config, train_config, tmp_path / "r.safetensors", {}, queue)
    kinds = [kind for kind, _ in queue]
    assert kinds[1:3] == ["data", "replay"]  # the untrained model's frame comes before the first step
    steps_per_epoch = -(-len(load_dataset("digits", "train")) // 256)
    expected_steps = frame_steps(3 * steps_per_epoch, min_gap=1)
    job = TrainingJob(model_config, train_config, tmp_path / "r.safetensors")
    shown = []
    for kind, payload in queue:
        job._on_message(kind, payload)
        if kind in ("replay", "replay_frame"):
            replay = job.progress().replay
            shown.append([frame.step for frame in replay.frames])
            # every frame is drawn in the replay's one extent: a full resend when it grows
            assert all(frame.codes.shape == (len(replay.labels), 2) for frame in replay.frames)
    assert shown == [expected_steps[: n + 1] for n in range(len(expected_steps))]
    assert 0 < kinds.count("replay") < len(expected_steps) and kinds.count("replay_frame") > 0
    saved = load_replay(tmp_path / "r.safetensors")
    assert job.progress().state == DONE and [f.step for f in saved.frames] == expected_steps
    assert [f.grid_png for f in job.progress().replay.frames] == [f.grid_png for f in saved.frames]


def test_a_conditional_model_trains_without_a_replay(tmp_path):
    model_config, train_config = configs(epochs=1, kind="cvae", num_classes=10)
    queue = ListQueue()
    training_job._train_in_child(model_config, train_config, tmp_path / "c.safetensors", {}, queue)
    kinds = [kind for kind, _ in queue]
    assert "epoch" in kinds and not any(kind.startswith("replay") for kind in kinds)
    # evaluated with each test image's class, and saved
    assert kinds[-1] == "saved", queue[-1]
    assert read_checkpoint_info(tmp_path / "c.safetensors").model_config.kind == "cvae"


def test_the_curve_carries_the_warm_up_beta(tmp_path):
    model_config, train_config = configs(epochs=3, beta=2.0)
    train_config = dataclasses.replace(train_config, kl_warmup_epochs=2)
    queue = ListQueue()
    training_job._train_in_child(model_config, train_config, tmp_path / "w.safetensors", {}, queue)
    steps = -(-len(load_dataset("digits", "train")) // 256)
    assert [payload[2].beta for kind, payload in queue if kind == "step"] == [1.0] * steps + [2.0] * (2 * steps)
    assert [payload[0].beta for kind, payload in queue if kind == "epoch"] == [1.0, 2.0, 2.0]


def test_a_failure_in_the_child_becomes_a_message(tmp_path):
    model_config = ModelConfig(input_shape=(1, 28, 28), hidden_dims=(8,))  # does not fit digits
    queue = ListQueue()
    training_job._train_in_child(model_config, configs()[1], tmp_path / "e.safetensors", {}, queue)
    kind, message = queue[-1]
    assert kind == "failed" and "(1, 28, 28)" in message
    job = TrainingJob(model_config, configs()[1], tmp_path / "e.safetensors")
    job._on_message(kind, message)
    assert job.progress().state == FAILED and "(1, 28, 28)" in job.progress().message


def test_a_divergence_offers_the_last_good_epoch(tmp_path):
    model_config, train_config = configs(epochs=1)
    good = fit(model_config, train_config)
    weights = {name: t.detach().numpy().copy() for name, t in good.model.state_dict().items()}
    job = TrainingJob(model_config, train_config, tmp_path / "d.safetensors")
    job._on_message("epoch", (good.history[0], weights))
    job._on_message("diverged", "the objective became nan at epoch 2, step 1")
    progress = job.progress()
    assert progress.state == DIVERGED and "nan" in progress.message and "1 good epoch(s)" in progress.message
    assert job.can_save_last_good
    model, info = load_checkpoint(job.save_last_good())
    assert info.metadata["stopped_early"] is True and not job.can_save_last_good
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_stopped_conditional_run_is_evaluated_with_its_classes_and_saved(tmp_path):
    model_config, train_config = configs(epochs=1, kind="cvae", num_classes=10)
    trained = fit(model_config, train_config)
    weights = {name: t.detach().numpy().copy() for name, t in trained.model.state_dict().items()}
    job = TrainingJob(model_config, train_config, tmp_path / "s.safetensors")
    job._on_message("epoch", (trained.history[0], weights))
    path, report = job._save_last_epoch()
    test_split = load_dataset("digits", "test")
    expected = evaluate(load_checkpoint(path).model, test_split, protocol=report.data_protocol)
    assert report.n_images == len(test_split) and report.neg_elbo == pytest.approx(expected.neg_elbo, rel=1e-5)


# --- the server-wide board: claimed names, a queue cap, reattaching, owners -------------------------------------
def idle_board(max_running=1, max_waiting=2):
    """A board whose scheduler launches nothing: its jobs wait, so names, queues and owners are tested cheaply."""
    return JobBoard(max_running=max_running, max_waiting=max_waiting, scheduler=Scheduler(max_running=0))


def test_three_sessions_pressing_train_at_once_with_the_default_name_get_three_names(tmp_path):
    """Issue #15: the name is claimed when the form is submitted, so no job overwrites another's file."""
    board = idle_board(max_running=3, max_waiting=0)
    barrier = threading.Barrier(3)
    jobs = []

    def press_train():
        barrier.wait()
        jobs.append(board.submit(*configs(epochs=1), tmp_path, "digits-vae-z2"))

    pressers = [threading.Thread(target=press_train) for _ in range(3)]
    for presser in pressers:
        presser.start()
    for presser in pressers:
        presser.join(TIMEOUT_S)
    assert sorted(job.save_path.name for job in jobs) == [
        "digits-vae-z2-2.safetensors",
        "digits-vae-z2-3.safetensors",
        "digits-vae-z2.safetensors",
    ]
    for job in jobs:
        job.request_stop()
    assert list(tmp_path.iterdir()) == []  # no claims left


def test_the_board_caps_its_queue_says_each_place_and_a_job_that_never_trained_gives_its_name_back(tmp_path):
    board = idle_board(max_running=1, max_waiting=1)
    waiting = [board.submit(*configs(), tmp_path, "queued") for _ in range(2)]
    assert [job.progress().state for job in waiting] == [WAITING, WAITING]
    assert "number 2 of 2 in the server's queue" in waiting[1].progress().message
    with pytest.raises(QueueFull, match="at most 1 train at once and 1 wait"):
        board.submit(*configs(), tmp_path, "queued")
    assert len(board.unfinished()) == 2
    for job in waiting:
        job.request_stop()
        assert job.progress().state == STOPPED and not job.launched
    assert list(tmp_path.iterdir()) == []  # neither a model nor a claim is left behind


def test_a_job_is_found_again_by_its_id_and_only_its_owner_controls_it(tmp_path):
    """What a browser refresh relies on: the page keeps only the id (in the URL) and asks the board; the owner's
    secret is what Stop needs."""
    board = idle_board()
    job = board.submit(*configs(epochs=1), tmp_path, "mine", owner="secret-a")
    assert board.get(job.job_id) is job and board.get("not-an-id") is None and board.get(None) is None
    assert job.controlled_by("secret-a") and not job.controlled_by("secret-b") and not job.controlled_by(None)
    assert board.owned_by("secret-a") == [job] and board.owned_by("secret-b") == []
    anonymous = board.submit(*configs(epochs=1), tmp_path, "theirs")
    assert not anonymous.controlled_by(None)
    for j in (job, anonymous):
        j.request_stop()


def test_unique_checkpoint_path_sanitises_and_never_overwrites(tmp_path):
    first = unique_checkpoint_path(tmp_path, "../my model")
    assert first == tmp_path / "my-model.safetensors"
    first.write_bytes(b"x")
    assert unique_checkpoint_path(tmp_path, "../my model") == tmp_path / "my-model-2.safetensors"
    with pytest.raises(ValueError):
        unique_checkpoint_path(tmp_path, "///")
