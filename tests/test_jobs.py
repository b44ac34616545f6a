"""Background training jobs: they run in a thread, report progress, stop, survive divergence, and save."""

import threading

import pytest
import torch

import vae_core.jobs as training_job
from vae_core.checkpoints import load_checkpoint
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import load_dataset
from vae_core.evaluation import evaluate
from vae_core.jobs import DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING, TrainingJob, unique_checkpoint_path
from vae_core.training import TrainingDiverged, fit

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
    job = GatedJob(*configs(), tmp_path / "a.pt", metadata={"role": "beta-sweep", "group": "g"},
                   train_data=train, test_data=test)
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
    job = GatedJob(*configs(epochs=5), tmp_path / "b.pt", train_data=train, test_data=test, stop_at_epoch=2)
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
    job = TrainingJob(*configs(), tmp_path / "c.pt", train_data=train, test_data=test)
    job.request_stop()
    job.start()
    assert job.join(TIMEOUT_S)
    assert job.progress().state == STOPPED and job.progress().saved_path is None
    assert not (tmp_path / "c.pt").exists()


def test_divergence_keeps_the_last_good_weights_and_offers_to_save_them(digits, tmp_path, monkeypatch):
    train, test = digits

    def diverging_fit(model_config, train_config, callback=None, **kwargs):
        good = fit(model_config, train_config, callback, **kwargs)  # one real epoch, then "NaN"
        raise TrainingDiverged("the objective became nan at epoch 2, step 1", good)

    monkeypatch.setattr(training_job, "fit", diverging_fit)
    job = TrainingJob(*configs(epochs=1), tmp_path / "d.pt", train_data=train, test_data=test).start()
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
    job = TrainingJob(model_config, configs()[1], tmp_path / "e.pt", train_data=train, test_data=test).start()
    assert job.join(TIMEOUT_S)
    assert job.progress().state == FAILED and "(1, 28, 28)" in job.progress().message


def test_jobs_wait_for_a_free_slot(digits, tmp_path, monkeypatch):
    train, test = digits
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(training_job, "_SLOTS", slots)
    slots.acquire()  # someone else is training
    job = TrainingJob(*configs(epochs=1), tmp_path / "f.pt", train_data=train, test_data=test).start()
    assert not job.join(0.5) and job.progress().state == WAITING
    slots.release()
    assert job.join(TIMEOUT_S) and job.progress().state == DONE


def test_unique_checkpoint_path_sanitises_and_never_overwrites(tmp_path):
    first = unique_checkpoint_path(tmp_path, "../my model")
    assert first == tmp_path / "my-model.pt"
    first.write_bytes(b"x")
    assert unique_checkpoint_path(tmp_path, "../my model") == tmp_path / "my-model-2.pt"
    with pytest.raises(ValueError):
        unique_checkpoint_path(tmp_path, "///")
