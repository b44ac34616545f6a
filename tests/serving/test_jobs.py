"""Background training jobs: they run in a thread, report progress, stop, survive divergence, and save."""

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

import vae_core.serving.jobs as training_job
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.training import TrainingDiverged, fit
from vae_core.serving.jobs import DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING, TrainingJob, unique_checkpoint_path

TIMEOUT_S = 120  # generous: the machine is shared; a healthy job takes about a second


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def configs(epochs=2, **model_changes):
    model_config = ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,), **model_changes)
    return model_config, TrainConfig(dataset="digits", epochs=epochs, batch_size=256, num_threads=1)


class GatedJob(TrainingJob):
    """Blocks in its first training step until the test opens the gate (and can stop itself at a step)."""

    def __init__(self, *args, stop_at_epoch=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_training, self.gate = threading.Event(), threading.Event()
        self.stop_at_epoch = stop_at_epoch

    def on_step(self, progress):
        super().on_step(progress)
        self.in_training.set()
        assert self.gate.wait(TIMEOUT_S)
        if self.stop_at_epoch is not None and progress.epoch == self.stop_at_epoch:
            self.request_stop()


def test_a_job_trains_in_the_background_then_saves_an_evaluated_checkpoint(digits, tmp_path):
    train, test = digits
    job = GatedJob(
        *configs(),
        tmp_path / "a.safetensors",
        metadata={"role": "beta-sweep", "group": "g"},
        train_data=train,
        test_data=test,
    )
    job.start()  # returns while the thread is held inside fit: the page is never blocked
    assert job.in_training.wait(TIMEOUT_S)
    assert job.progress().state == RUNNING and not job.progress().finished
    job.gate.set()
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    assert progress.state == DONE and progress.fraction == 1.0 and progress.epoch == 2
    assert [r.epoch for r in progress.history] == [1, 2]
    model, info = load_checkpoint(progress.saved_path)
    assert info.metadata["role"] == "beta-sweep" and info.metadata["group"] == "g"
    assert info.metadata["trained_in_app"] is True and info.metadata["epochs_run"] == 2
    # the stored metrics are the evaluation of the stored weights
    assert info.metrics.neg_elbo == pytest.approx(evaluate(model, test).neg_elbo, rel=1e-5)


def test_stop_keeps_what_was_trained(digits, tmp_path):
    train, test = digits
    job = GatedJob(*configs(epochs=5), tmp_path / "b.safetensors", train_data=train, test_data=test, stop_at_epoch=2)
    job.gate.set()
    job.start()
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    # fit ends the epoch it was stopped in after the current batch and records it (vae_core's contract)
    assert progress.state == STOPPED and progress.epoch == 2
    _, info = load_checkpoint(progress.saved_path)
    assert info.metadata["epochs_run"] == 2 and info.metadata["stopped_early"] is True


def test_stop_before_the_first_step_saves_nothing(digits, tmp_path):
    train, test = digits
    job = TrainingJob(*configs(), tmp_path / "c.safetensors", train_data=train, test_data=test)
    job.request_stop()
    job.start()
    assert job.join(TIMEOUT_S)
    assert job.progress().state == STOPPED and job.progress().saved_path is None
    assert not (tmp_path / "c.safetensors").exists()


def test_divergence_keeps_the_last_good_weights_and_offers_to_save_them(digits, tmp_path, monkeypatch):
    train, test = digits

    def diverging_fit(model_config, train_config, callback=None, **kwargs):
        good = fit(model_config, train_config, callback, **kwargs)  # one real epoch, then "NaN"
        raise TrainingDiverged("the objective became nan at epoch 2, step 1", good)

    monkeypatch.setattr(training_job, "fit", diverging_fit)
    job = TrainingJob(*configs(epochs=1), tmp_path / "d.safetensors", train_data=train, test_data=test).start()
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    assert progress.state == DIVERGED and "nan" in progress.message and progress.saved_path is None
    assert job.can_save_last_good
    path = job.save_last_good()
    model, info = load_checkpoint(path)
    assert info.metadata["stopped_early"] is True and not job.can_save_last_good
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_failure_becomes_a_message(digits, tmp_path):
    train, test = digits
    model_config = ModelConfig(input_shape=(1, 28, 28), hidden_dims=(8,))  # does not fit digits
    job = TrainingJob(model_config, configs()[1], tmp_path / "e.safetensors", train_data=train, test_data=test).start()
    assert job.join(TIMEOUT_S)
    assert job.progress().state == FAILED and "(1, 28, 28)" in job.progress().message


def test_jobs_wait_for_a_free_slot(digits, tmp_path, monkeypatch):
    train, test = digits
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(training_job, "_SLOTS", slots)
    slots.acquire()  # someone else is training
    job = TrainingJob(*configs(epochs=1), tmp_path / "f.safetensors", train_data=train, test_data=test).start()
    assert not job.join(0.5) and job.progress().state == WAITING
    slots.release()
    assert job.join(TIMEOUT_S) and job.progress().state == DONE


def test_unique_checkpoint_path_sanitises_and_never_overwrites(tmp_path):
    first = unique_checkpoint_path(tmp_path, "../my model")
    assert first == tmp_path / "my-model.safetensors"
    first.write_bytes(b"x")
    assert unique_checkpoint_path(tmp_path, "../my model") == tmp_path / "my-model-2.safetensors"
    with pytest.raises(ValueError):
        unique_checkpoint_path(tmp_path, "///")


# --- the server-wide board: claimed names, a queue cap, reattaching, a quick Stop -------------------------------


def test_three_sessions_pressing_train_at_once_with_the_default_name_get_three_files(digits, tmp_path):
    """Issue #15: the name is claimed when the form is submitted, so no job overwrites another's file."""
    train, test = digits
    board = training_job.JobBoard(max_running=3, max_waiting=0)
    barrier = threading.Barrier(3)
    jobs = []

    def press_train():
        barrier.wait()
        jobs.append(board.submit(*configs(epochs=1), tmp_path, "digits-vae-z2", train_data=train, test_data=test))

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
        assert job.join(TIMEOUT_S) and job.progress().state == DONE
        assert job.progress().saved_path == str(job.save_path)
        load_checkpoint(job.save_path)  # each file is a whole model
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(job.save_path.name for job in jobs)  # no claims left


def test_the_board_caps_its_queue_and_a_job_that_never_trained_gives_its_name_back(digits, tmp_path, monkeypatch):
    train, test = digits
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(training_job, "_SLOTS", slots)
    slots.acquire()  # someone else is training: the board's jobs wait
    board = training_job.JobBoard(max_running=1, max_waiting=1)
    waiting = [board.submit(*configs(), tmp_path, "queued", train_data=train, test_data=test) for _ in range(2)]
    assert [job.progress().state for job in waiting] == [WAITING, WAITING]
    with pytest.raises(training_job.QueueFull, match="at most 1 train at once and 1 wait"):
        board.submit(*configs(), tmp_path, "queued", train_data=train, test_data=test)
    assert len(board.unfinished()) == 2
    for job in waiting:
        job.request_stop()
        assert job.join(TIMEOUT_S) and job.progress().state == STOPPED
    assert list(tmp_path.iterdir()) == []  # neither a model nor a claim is left behind
    slots.release()
    board.submit(*configs(epochs=1), tmp_path, "queued", train_data=train, test_data=test).join(TIMEOUT_S)
    assert [p.name for p in tmp_path.iterdir()] == ["queued.safetensors"]  # the released name is free again


def test_a_job_is_found_again_by_its_id(digits, tmp_path):
    """What a browser refresh relies on: the page keeps only the id (in the URL) and asks the board."""
    train, test = digits
    board = training_job.JobBoard()
    job = board.submit(*configs(epochs=1), tmp_path, "mine", train_data=train, test_data=test)
    assert board.get(job.job_id) is job and board.get("not-an-id") is None and board.get(None) is None
    assert job.join(TIMEOUT_S)
    assert board.get(job.job_id).progress().saved_path == str(tmp_path / "mine.safetensors")


def test_stop_answers_within_about_a_second(digits, tmp_path):
    """The page shows "Stopping…" at once, and a stopped job is evaluated and saved within about a second."""
    train, test = digits
    model_config = ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(256, 128))
    train_config = TrainConfig(dataset="digits", epochs=500, batch_size=32, num_threads=1)
    job = TrainingJob(model_config, train_config, tmp_path / "s.safetensors", train_data=train, test_data=test).start()
    deadline = time.monotonic() + TIMEOUT_S
    while job.progress().epoch < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    pressed = time.perf_counter()
    job.request_stop()
    progress = job.progress()
    assert progress.stop_requested and progress.message.startswith("Stopping")
    assert job.join(TIMEOUT_S)
    answered = time.perf_counter() - pressed
    assert job.progress().state == STOPPED and (tmp_path / "s.safetensors").exists()
    assert answered < 3.0, f"Stop took {answered:.2f} s"  # about 0.2 s alone on 2 cores; room for a busy machine


def test_the_curve_gets_a_point_every_few_steps(digits, tmp_path):
    """Digits with batches of 256 has 6 steps per epoch: a point per step, at global_step / steps_per_epoch."""
    train, test = digits
    job = TrainingJob(*configs(epochs=2), tmp_path / "c.safetensors", train_data=train, test_data=test).start()
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    steps = -(-len(train) // 256)
    np.testing.assert_allclose([p.epochs for p in progress.curve], [s / steps for s in range(1, 2 * steps + 1)])
    # the points of an epoch average, with the last batch's smaller weight, to the epoch's recorded mean
    weights = np.array([256] * (steps - 1) + [len(train) - 256 * (steps - 1)], dtype=float)
    for record, points in zip(progress.history, (progress.curve[:steps], progress.curve[steps:]), strict=True):
        recon = np.average([p.recon for p in points], weights=weights)
        assert recon == pytest.approx(record.train.recon, rel=1e-5)
    assert progress.report is not None and progress.report.n_images == len(test)
    assert {p.beta for p in progress.curve} == {1.0}


def test_the_curve_carries_the_warm_up_beta(digits, tmp_path):
    train, test = digits
    model_config, train_config = configs(epochs=3, beta=2.0)
    train_config = dataclasses.replace(train_config, kl_warmup_epochs=2)
    job = TrainingJob(model_config, train_config, tmp_path / "w.pt", train_data=train, test_data=test).start()
    assert job.join(TIMEOUT_S)
    progress = job.progress()
    steps = -(-len(train) // 256)
    assert [p.beta for p in progress.curve] == [1.0] * steps + [2.0] * (2 * steps)
    assert [r.beta for r in progress.history] == [1.0, 2.0, 2.0]
