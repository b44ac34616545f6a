"""Training inside the app without freezing it: fit() in a background thread per job (no Streamlit here).

Jobs are server-wide: `submit_job` claims the checkpoint's name at once (vae_core.engine.checkpoints.
claim_checkpoint_path, so three sessions pressing Train with the same name get three files), puts the job on
the one `BOARD` under a random id and starts it. A page keeps that id where a browser refresh cannot lose it
(a URL query parameter) and finds the job again with `BOARD.get(job_id)`: its progress, its curves and its
Stop button come back. A job polls nothing itself: the page reads `progress()` (a copy taken under a lock)
from a fragment that reruns every second.

At most MAX_CONCURRENT_JOBS jobs train at once in the whole server; at most limits.MAX_QUEUED_TRAINING_JOBS
more wait for a slot, and a submit beyond that is refused with a message (a class of thirty pressing "Train"
does not grind the machine to a halt). A stop request ends training after the current batch; the epochs
finished so far are evaluated (a stopped run on at most STOPPED_EVAL_IMAGES test images, so Stop is quick)
and saved. A job that ends without saving releases its name.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vae_core.engine import limits
from vae_core.engine.atomic_files import release_claim
from vae_core.engine.checkpoint_info import SUFFIX, safe_checkpoint_name
from vae_core.engine.checkpoints import claim_checkpoint_path, save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import ImageDataset, load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.models import LatentModel
from vae_core.engine.protocol import protocol_of
from vae_core.engine.results import EpochRecord, EvaluationReport
from vae_core.engine.training import FitResult, StepProgress, TrainingCallback, TrainingDiverged, fit, training_metadata

MAX_JOBS_ENV = "VAE_MAX_TRAINING_JOBS"
MAX_CONCURRENT_JOBS = max(1, int(os.environ.get(MAX_JOBS_ENV, "2") or 2))
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_JOBS)

WAITING, RUNNING, EVALUATING, DONE, STOPPED, DIVERGED, FAILED = (
    "waiting",
    "running",
    "evaluating",
    "done",
    "stopped",
    "diverged",
    "failed",
)
FINISHED_STATES = (DONE, STOPPED, DIVERGED, FAILED)

# The training curve gets a point every CURVE_POINTS_PER_EPOCH-th of an epoch, or every CURVE_SECONDS, which
# ever comes first: on MNIST (469 steps per epoch) a point is about 23 steps, a fraction of a second.
CURVE_POINTS_PER_EPOCH = 20
CURVE_SECONDS = 2.0
STOPPED_EVAL_IMAGES = 2000  # a stopped run is evaluated on the first N test images (a conv model: seconds, not 20 s)
FINISHED_JOBS_KEPT = 50  # finished jobs the board remembers, so a refresh after the end still shows the result


@dataclass(frozen=True)
class CurvePoint:
    """Batch-weighted means of the training terms over the steps since the previous point (nats per image)."""

    epochs: float  # training progress in epochs (global step / steps per epoch)
    recon: float
    kl: float
    regularizer: float
    beta: float = 1.0  # the KL weight of these steps (a point never spans two epochs, so it has one)


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
    curve: list[CurvePoint] = field(default_factory=list)  # training terms every few steps
    stop_requested: bool = False
    report: EvaluationReport | None = None  # the saved model's test evaluation

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def unique_checkpoint_path(folder: str | Path, name: str) -> Path:
    """folder/<sanitised name>.safetensors, with -2, -3, ... appended if that file exists (never overwrite a model).

    Not a reservation: a job that saves later claims its name with submit_job (claim_checkpoint_path) instead.
    """
    stem = safe_checkpoint_name(name)
    folder = Path(folder)
    path, n = folder / f"{stem}{SUFFIX}", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{SUFFIX}", n + 1
    return path


class TrainingJob(TrainingCallback):
    """fit(model_config, train_config) in a daemon thread, then evaluate and save to save_path."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        save_path: str | Path,
        *,
        metadata: dict[str, Any] | None = None,
        train_data: ImageDataset | None = None,
        test_data: ImageDataset | None = None,
    ):
        self.model_config, self.train_config = model_config, train_config
        self.save_path = Path(save_path)
        self.metadata = dict(metadata or {})
        self.job_id = secrets.token_urlsafe(9)
        self._train_data, self._test_data = train_data, test_data
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = JobProgress(WAITING, 0.0, 0, train_config.epochs, message="Waiting for a free training slot…")
        self._diverged_result: FitResult | None = None
        self._pending = [0.0, 0.0, 0.0, 0]  # recon, kl, regularizer sums and the steps since the last curve point
        self._last_point_at = time.monotonic()

    # --- the page's side ---------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Start training in the background and return at once."""
        assert self._thread is None, "a job starts once"
        self._thread = threading.Thread(target=self._run, name=f"train-{self.save_path.stem}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask training to stop after the current batch (the finished epochs are still saved)."""
        self._stop.set()
        with self._lock:
            if not self._progress.finished:
                self._progress.stop_requested = True
                self._progress.message = "Stopping after the current batch…"

    def progress(self) -> JobProgress:
        """A copy of the current progress."""
        with self._lock:
            p = self._progress
            return JobProgress(
                p.state,
                p.fraction,
                p.epoch,
                p.total_epochs,
                list(p.history),
                p.message,
                p.saved_path,
                list(p.curve),
                p.stop_requested,
                p.report,
            )

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is not None and not self._thread.is_alive()

    @property
    def can_save_last_good(self) -> bool:
        """After a divergence with at least one good epoch, its weights can still be saved."""
        with self._lock:
            return (
                self._diverged_result is not None
                and bool(self._diverged_result.history)
                and self._progress.saved_path is None
            )

    def save_last_good(self) -> Path:
        """Save the weights from the end of the last finished epoch before the divergence (under a fresh claim:
        the diverged job gave its name back)."""
        with self._lock:
            result = self._diverged_result
        assert result is not None and result.history, "nothing good to save"
        self.save_path = claim_checkpoint_path(self.save_path.parent, self.save_path.stem)
        try:
            path, report = self._save(result, diverged=True)
        finally:
            release_claim(self.save_path)
        with self._lock:
            self._progress.saved_path, self._progress.report = str(path), report
            self._progress.message += f" The last good weights were saved as {path.name}."
        return path

    # --- fit's callbacks (training thread) ----------------------------------------------------------
    def on_step(self, progress: StepProgress) -> None:
        point = self._curve_point(progress)
        with self._lock:
            self._progress.fraction = progress.global_step / progress.total_steps
            if not self._progress.stop_requested:
                self._progress.message = (
                    f"Epoch {progress.epoch}/{self.train_config.epochs}, step "
                    f"{progress.step}/{progress.steps_per_epoch}, loss {progress.objective:.2f}"
                )
            if point is not None:
                self._progress.curve.append(point)

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        with self._lock:
            self._progress.epoch = record.epoch
            self._progress.history.append(record)

    def _curve_point(self, progress: StepProgress) -> CurvePoint | None:
        """Accumulate this batch; a point every 1/CURVE_POINTS_PER_EPOCH epoch or CURVE_SECONDS (training thread)."""
        if progress.terms is None:
            return None
        pending = self._pending
        pending[0] += progress.terms.recon
        pending[1] += progress.terms.kl
        pending[2] += progress.terms.regularizer
        pending[3] += 1
        every = max(1, math.ceil(progress.steps_per_epoch / CURVE_POINTS_PER_EPOCH))
        now = time.monotonic()
        if (
            progress.global_step % every
            and now - self._last_point_at < CURVE_SECONDS
            and progress.step != progress.steps_per_epoch
        ):
            return None
        n = pending[3]
        point = CurvePoint(
            progress.global_step / progress.steps_per_epoch,
            pending[0] / n,
            pending[1] / n,
            pending[2] / n,
            beta=progress.beta,
        )
        self._pending, self._last_point_at = [0.0, 0.0, 0.0, 0], now
        return point

    # --- the thread ---------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._progress, name, value)

    def _run(self) -> None:
        try:
            while not _SLOTS.acquire(timeout=0.2):  # wait for a slot, but let a stop request cancel the wait
                if self._stop.is_set():
                    self._set(state=STOPPED, message="Stopped before training started; nothing was saved.")
                    return
            try:
                self._train()
            finally:
                _SLOTS.release()
        except Exception as err:  # the page must get a message, never a dead thread
            traceback.print_exc()
            self._set(state=FAILED, message=f"Training failed: {type(err).__name__}: {err}")
        finally:
            with self._lock:
                saved = self._progress.saved_path is not None
            if not saved:
                release_claim(self.save_path)  # give the name back; save_checkpoint already did when it saved

    def _train(self) -> None:
        self._set(state=RUNNING, message="Loading the data…")
        if self._train_data is None:
            self._train_data = load_dataset(self.train_config.dataset, "train")
        if self._test_data is None:
            self._test_data = load_dataset(self.train_config.dataset, "test")
        train_data, test_data = self._train_data, self._test_data
        try:
            result = fit(
                self.model_config, self.train_config, self, stop=self._stop, train_data=train_data, test_data=test_data
            )
        except TrainingDiverged as err:
            with self._lock:
                self._diverged_result = err.result
            good = len(err.result.history)
            self._set(
                state=DIVERGED,
                message=f"Training diverged: {err}"
                + (f" {good} good epoch(s) can still be saved." if good else " No epoch finished, nothing to save."),
            )
            return
        if not result.history:
            self._set(state=STOPPED, message="Stopped before the first epoch finished; nothing was saved.")
            return
        self._set(state=EVALUATING, message="Evaluating on the test split…")
        path, report = self._save(result, diverged=False)
        epochs = len(result.history)
        evaluated = (
            f" (evaluated on the first {report.n_images:,} test images)"
            if report.n_images < len(self._test_data)
            else ""
        )
        self._set(
            state=STOPPED if result.stopped else DONE,
            fraction=1.0,
            saved_path=str(path),
            report=report,
            message=(f"Stopped in epoch {epochs}; " if result.stopped else f"Trained {epochs} epochs; ")
            + f"saved as {path.name}{evaluated}.",
        )

    def _save(self, result: FitResult, diverged: bool) -> tuple[Path, EvaluationReport]:
        # Evaluated like the zoo (vae_core.zoo.cli): the test split, binarised when training was; a stopped run on
        # its first STOPPED_EVAL_IMAGES images (the same fixed binarisation of those), so Stop answers quickly.
        train_data, test_data = self._train_data, self._test_data
        assert train_data is not None and test_data is not None, "the data are loaded before fit"
        images = test_data.images
        if result.stopped or diverged:
            images = images[:STOPPED_EVAL_IMAGES]
        report = evaluate(result.model, images, protocol=protocol_of(self.train_config, self.model_config))
        metadata = training_metadata(
            result.seconds,
            len(train_data),
            len(test_data),
            len(result.history),
            self.train_config.num_threads,
            device=self.train_config.device,
        )
        metadata.update(self.metadata, trained_in_app=True, stopped_early=result.stopped or diverged)
        path = save_checkpoint(
            self.save_path,
            result.model,
            self.train_config,
            history=[r.to_dict() for r in result.history],
            metrics=report.to_dict(),
            metadata=metadata,
        )
        return path, report


class QueueFull(RuntimeError):
    """The server already trains MAX_CONCURRENT_JOBS jobs and has MAX_QUEUED_TRAINING_JOBS waiting."""


class JobBoard:
    """Every training job of this server by id: what a page reattaches to after a browser refresh."""

    def __init__(self, max_running: int = MAX_CONCURRENT_JOBS, max_waiting: int = limits.MAX_QUEUED_TRAINING_JOBS):
        self.max_running, self.max_waiting = max_running, max_waiting
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}  # insertion order: oldest first

    @property
    def capacity(self) -> int:
        """Jobs the server takes at once: training plus waiting."""
        return self.max_running + self.max_waiting

    def get(self, job_id: str | None) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def unfinished(self) -> list[TrainingJob]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [job for job in jobs if not job.progress().finished]

    def submit(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        folder: str | Path,
        stem: str,
        *,
        metadata: dict[str, Any] | None = None,
        train_data: ImageDataset | None = None,
        test_data: ImageDataset | None = None,
    ) -> TrainingJob:
        """Claim folder/stem.safetensors (or stem-2.safetensors, ...) now, register the job and start it.

        Raises QueueFull when the server is at capacity and ValueError for a name without letters or digits.
        """
        with self._lock:
            busy = sum(not job.progress().finished for job in self._jobs.values())
            if busy >= self.capacity:
                raise QueueFull(
                    f"{busy} trainings are already running or waiting on this server (at most "
                    f"{self.max_running} train at once and {self.max_waiting} wait); try again "
                    "when one has finished."
                )
            path = claim_checkpoint_path(folder, stem)
            job = TrainingJob(
                model_config, train_config, path, metadata=metadata, train_data=train_data, test_data=test_data
            )
            self._jobs[job.job_id] = job
            self._forget_old_finished()
        try:
            return job.start()
        except BaseException:
            release_claim(path)
            raise

    def _forget_old_finished(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.progress().finished]
        for job_id in finished[: max(0, len(finished) - FINISHED_JOBS_KEPT)]:
            del self._jobs[job_id]


BOARD = JobBoard()  # the server's one board (module state: Streamlit imports a module once per server)
