"""Training inside the app without freezing it: fit() in a background thread per job (no Streamlit here).

A page starts a TrainingJob, keeps it in its session state and polls `progress()` (a copy taken under a lock)
from a fragment that reruns every second. The thread evaluates the result on the test split and saves it
atomically under a sanitised name; a stop request ends training after the current batch and still saves
the epochs finished so far. At most MAX_CONCURRENT_JOBS jobs train at once in the whole server: the others
wait their turn, so a class of thirty pressing "Train" does not grind the machine to a halt.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint_info import SUFFIX, safe_checkpoint_name
from .checkpoints import save_checkpoint
from .config import ModelConfig, TrainConfig
from .data import ImageDataset, load_dataset
from .evaluation import evaluate
from .models import LatentModel
from .results import EpochRecord
from .training import FitResult, StepProgress, TrainingCallback, TrainingDiverged, fit, training_metadata

MAX_JOBS_ENV = "VAE_MAX_TRAINING_JOBS"
MAX_CONCURRENT_JOBS = max(1, int(os.environ.get(MAX_JOBS_ENV, "2") or 2))
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_JOBS)

WAITING, RUNNING, EVALUATING, DONE, STOPPED, DIVERGED, FAILED = (
    "waiting", "running", "evaluating", "done", "stopped", "diverged", "failed")
FINISHED_STATES = (DONE, STOPPED, DIVERGED, FAILED)


@dataclass
class JobProgress:
    """A snapshot of a job for the page; safe to read while the job runs."""

    state: str
    fraction: float  # of all training steps, 0..1
    epoch: int  # epochs finished
    total_epochs: int
    history: list[EpochRecord] = field(default_factory=list)  # one per finished epoch
    message: str = ""
    saved_path: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def unique_checkpoint_path(folder: str | Path, name: str) -> Path:
    """folder/<sanitised name>.pt, with -2, -3, ... appended if that file exists (never overwrite a model)."""
    stem = safe_checkpoint_name(name)
    folder = Path(folder)
    path, n = folder / f"{stem}{SUFFIX}", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{SUFFIX}", n + 1
    return path


class TrainingJob(TrainingCallback):
    """fit(model_config, train_config) in a daemon thread, then evaluate and save to save_path."""

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, save_path: str | Path, *,
                 metadata: dict[str, Any] | None = None, train_data: ImageDataset | None = None,
                 test_data: ImageDataset | None = None):
        self.model_config, self.train_config = model_config, train_config
        self.save_path = Path(save_path)
        self.metadata = dict(metadata or {})
        self._train_data, self._test_data = train_data, test_data
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = JobProgress(WAITING, 0.0, 0, train_config.epochs,
                                     message="Waiting for a free training slot…")
        self._diverged_result: FitResult | None = None

    # --- the page's side ---------------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        """Start training in the background and return at once."""
        assert self._thread is None, "a job starts once"
        self._thread = threading.Thread(target=self._run, name=f"train-{self.save_path.stem}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask training to stop after the current batch (the finished epochs are still saved)."""
        self._stop.set()

    def progress(self) -> JobProgress:
        """A copy of the current progress."""
        with self._lock:
            p = self._progress
            return JobProgress(p.state, p.fraction, p.epoch, p.total_epochs, list(p.history), p.message,
                               p.saved_path)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is not None and not self._thread.is_alive()

    @property
    def can_save_last_good(self) -> bool:
        """After a divergence with at least one good epoch, its weights can still be saved."""
        with self._lock:
            return self._diverged_result is not None and bool(self._diverged_result.history) \
                and self._progress.saved_path is None

    def save_last_good(self) -> Path:
        """Save the weights from the end of the last finished epoch before the divergence."""
        with self._lock:
            result = self._diverged_result
        assert result is not None and result.history, "nothing good to save"
        path = self._save(result, diverged=True)
        with self._lock:
            self._progress.saved_path = str(path)
            self._progress.message += f" The last good weights were saved as {path.name}."
        return path

    # --- fit's callbacks (training thread) ----------------------------------------------------------
    def on_step(self, progress: StepProgress) -> None:
        with self._lock:
            self._progress.fraction = progress.global_step / progress.total_steps
            self._progress.message = (f"Epoch {progress.epoch}/{self.train_config.epochs}, step "
                                      f"{progress.step}/{progress.steps_per_epoch}, loss {progress.objective:.2f}")

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        with self._lock:
            self._progress.epoch = record.epoch
            self._progress.history.append(record)

    # --- the thread ---------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._progress, name, value)

    def _run(self) -> None:
        try:
            while not _SLOTS.acquire(timeout=0.2):  # wait for a slot, but let a stop request cancel the wait
                if self._stop.is_set():
                    self._set(state=STOPPED, message="Stopped before training started.")
                    return
            try:
                self._train()
            finally:
                _SLOTS.release()
        except Exception as err:  # the page must get a message, never a dead thread
            traceback.print_exc()
            self._set(state=FAILED, message=f"Training failed: {type(err).__name__}: {err}")

    def _train(self) -> None:
        self._set(state=RUNNING, message="Loading the data…")
        if self._train_data is None:
            self._train_data = load_dataset(self.train_config.dataset, "train")
        if self._test_data is None:
            self._test_data = load_dataset(self.train_config.dataset, "test")
        train_data, test_data = self._train_data, self._test_data
        try:
            result = fit(self.model_config, self.train_config, self, stop=self._stop, train_data=train_data,
                         test_data=test_data)
        except TrainingDiverged as err:
            with self._lock:
                self._diverged_result = err.result
            good = len(err.result.history)
            self._set(state=DIVERGED, message=f"Training diverged: {err}" + (
                f" {good} good epoch(s) can still be saved." if good else " No epoch finished, nothing to save."))
            return
        if not result.history:
            self._set(state=STOPPED, message="Stopped before the first epoch finished; nothing was saved.")
            return
        self._set(state=EVALUATING, message="Evaluating on the test split…")
        path = self._save(result, diverged=False)
        epochs = len(result.history)
        self._set(state=STOPPED if result.stopped else DONE, fraction=1.0, saved_path=str(path),
                  message=(f"Stopped in epoch {epochs}; " if result.stopped else f"Trained {epochs} epochs; ")
                  + f"saved as {path.name}.")

    def _save(self, result: FitResult, diverged: bool) -> Path:
        # Evaluated like the zoo (vae_core.cli): the test split, binarised when training was.
        report = evaluate(result.model, self._test_data, binarized=self.train_config.dynamic_binarization)
        metadata = training_metadata(result.seconds, len(self._train_data), len(self._test_data),
                                     len(result.history), self.train_config.num_threads)
        metadata.update(self.metadata, trained_in_app=True, stopped_early=result.stopped or diverged)
        return save_checkpoint(self.save_path, result.model, self.train_config,
                               history=[r.to_dict() for r in result.history], metrics=report.to_dict(),
                               metadata=metadata)
