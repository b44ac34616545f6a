"""Training inside the app without slowing it: fit() in a child process per job (no Streamlit here).

Jobs are server-wide: `JobBoard.submit` claims the checkpoint's name at once (vae_core.engine.checkpoints.
claim_checkpoint_path, so three sessions pressing Train with the same name get three files), puts the job on
the one `BOARD` under a random id and hands it to the server's background scheduler (vae_core.serving.background,
shared with t-SNE). A page keeps that id where a browser refresh cannot lose it (a URL query parameter) and finds
the job again with `BOARD.get(job_id)`: its progress and its curves come back. Only the session that started a
job may stop it: the job keeps the owner token that session passed (`controlled_by`), a secret that is never in
a link, so a shared `?train_job=` link shows the progress and no Stop.

The child (`_train_in_child`, one torch thread, spawned: its own interpreter, so fit runs at the CLI's speed
instead of sharing the server's GIL) sends ("step", ...) a few times an epoch with a curve point, and ("epoch",
record, weights) after each finished epoch, so the parent always holds the last finished epoch. A run that ends
evaluates and saves in the child. Stop terminates the child at once; the parent then evaluates the last finished
epoch (on at most STOPPED_EVAL_IMAGES test images, so Stop is quick) and saves it. A child that dies (killed,
out of memory) is reported with its exit code and, like a diverged run, offers its last finished epoch; it
touches no other file. A job that ends without saving releases its name.

At most VAE_MAX_TRAINING_JOBS jobs train at once in the whole server (within the scheduler's cap on all
background children); at most limits.MAX_QUEUED_TRAINING_JOBS more wait, each told its place, and a submit
beyond that is refused with a message.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae_core.engine import limits
from vae_core.engine.atomic_files import release_claim
from vae_core.engine.callbacks import CallbackList
from vae_core.engine.checkpoint_info import SUFFIX, CheckpointError, safe_checkpoint_name
from vae_core.engine.checkpoints import claim_checkpoint_path, load_replay, save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.models import LatentModel, build_model
from vae_core.engine.protocol import protocol_of
from vae_core.engine.replay import TrainingReplay
from vae_core.engine.replay_recorder import ReplayRecorder, replay_supported
from vae_core.engine.results import EpochRecord, EvaluationReport
from vae_core.engine.training import StepProgress, TrainingCallback, TrainingDiverged, fit, training_metadata
from vae_core.serving.background import (
    MAX_TRAINING_JOBS_ENV,
    SCHEDULER,
    TRAINING_KIND,
    BackgroundJob,
    QueueFull,
    Scheduler,
    max_training_jobs,
)

MAX_JOBS_ENV = MAX_TRAINING_JOBS_ENV
MAX_CONCURRENT_JOBS = max_training_jobs()

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
# ever comes first: on MNIST (469 steps per epoch) a point is about 23 steps, a fraction of a second. Each point
# is also the child's progress message, so the parent reads about 20 messages an epoch, not one per step.
CURVE_POINTS_PER_EPOCH = 20
CURVE_SECONDS = 2.0
STOPPED_EVAL_IMAGES = 2000  # a stopped run is evaluated on the first N test images (a conv model: seconds, not 20 s)
FINISHED_JOBS_KEPT = 50  # finished jobs the board remembers, so a refresh after the end still shows the result

Weights = dict[str, np.ndarray]  # a state_dict as numpy arrays: what the child sends after each epoch


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
    # The training replay: the frames so far while training (vae_core.engine.replay_recorder's live view), the
    # saved file's once saved; None for a model that records none (the conditional VAE) or before the first frame.
    replay: TrainingReplay | None = None

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


# --- the child's side -------------------------------------------------------------------------------------------
class _CurveReporter(TrainingCallback):
    """fit's callback in the child: a curve point (and the progress line) every few steps, the weights after
    every epoch, all sent to the parent."""

    def __init__(self, queue: Any, total_epochs: int) -> None:
        self._queue, self._total_epochs = queue, total_epochs
        self._pending = [0.0, 0.0, 0.0, 0]  # recon, kl, regularizer sums and the steps since the last point
        self._last_point_at = time.monotonic()

    def on_step(self, progress: StepProgress) -> None:
        point = self._curve_point(progress)
        if point is not None:
            message = (
                f"Epoch {progress.epoch}/{self._total_epochs}, step {progress.step}/{progress.steps_per_epoch}, "
                f"loss {progress.objective:.2f}"
            )
            self._queue.put(("step", (progress.global_step / progress.total_steps, message, point)))

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        weights = {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}
        self._queue.put(("epoch", (record, weights)))

    def _curve_point(self, progress: StepProgress) -> CurvePoint | None:
        """Accumulate this batch; a point every 1/CURVE_POINTS_PER_EPOCH epoch or CURVE_SECONDS."""
        terms = progress.terms
        if terms is None:
            return None
        pending = self._pending
        pending[0] += terms.recon
        pending[1] += terms.kl
        pending[2] += terms.regularizer
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


class _ReplayStreamer(TrainingCallback):
    """fit's callback in the child that records the replay and sends each new frame to the parent: ("replay_frame",
    frame) while the live plane and extent stay, ("replay", live replay) when they change (the parent's frames are
    then all redrawn) and for the first frame."""

    def __init__(self, recorder: ReplayRecorder, queue: Any) -> None:
        self.recorder, self._queue = recorder, queue
        self._sent: tuple[object, tuple[float, ...]] | None = None  # the plane and extent the parent's frames are in
        self._send()

    def on_step(self, progress: StepProgress) -> None:
        frames = self.recorder.frame_count
        self.recorder.on_step(progress)
        if self.recorder.frame_count > frames:
            self._send()

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        self.recorder.on_epoch(record, model)

    def _send(self) -> None:
        live = self.recorder.live()
        key = (self.recorder.live_plane, live.extent)
        if self._sent is not None and self._sent[0] is key[0] and self._sent[1] == key[1]:
            self._queue.put(("replay_frame", live.frames[-1]))
        else:
            self._queue.put(("replay", live))
        self._sent = key


def _train_in_child(
    model_config: ModelConfig, train_config: TrainConfig, save_path: Path, metadata: dict[str, Any], queue: Any
) -> None:
    """The child process: load the data, fit, evaluate on the whole test split and save; tell the parent each
    step of the way. Ends with ("saved", (path, report)), ("diverged", message) or ("failed", message)."""
    torch.set_num_threads(max(1, train_config.num_threads))
    try:
        queue.put(("status", "Loading the data…"))
        train_data = load_dataset(train_config.dataset, "train")
        test_data = load_dataset(train_config.dataset, "test")
        queue.put(("data", (len(train_data), len(test_data))))
        reporter = _CurveReporter(queue, train_config.epochs)
        recorder = (
            ReplayRecorder.for_run(model_config, train_config, len(train_data), test_data)
            if replay_supported(model_config)
            else None
        )
        callback = reporter if recorder is None else CallbackList(reporter, _ReplayStreamer(recorder, queue))
        try:
            result = fit(
                model_config,
                train_config,
                callback,
                train_data=train_data,
                test_data=test_data,
                model=None if recorder is None else recorder.model,
            )
        except TrainingDiverged as err:
            queue.put(("diverged", str(err)))
            return
        queue.put(("status", "Evaluating on the test split…"))
        # The split, not its images: a conditional VAE is evaluated with each image's class.
        report = evaluate(result.model, test_data, protocol=protocol_of(train_config, model_config))
        metadata = {
            **training_metadata(
                result.seconds,
                len(train_data),
                len(test_data),
                len(result.history),
                train_config.num_threads,
                device=train_config.device,
            ),
            **metadata,
            "trained_in_app": True,
            "stopped_early": False,
        }
        path = save_checkpoint(
            save_path,
            result.model,
            train_config,
            history=[r.to_dict() for r in result.history],
            metrics=report.to_dict(),
            metadata=metadata,
            replay=None if recorder is None else recorder.finish(result.model),
        )
        queue.put(("saved", (str(path), report)))
    except Exception as err:  # the page must get a message, never a silent exit
        traceback.print_exc()
        queue.put(("failed", f"Training failed: {type(err).__name__}: {err}"))


# --- the parent's side ------------------------------------------------------------------------------------------
class TrainingJob(BackgroundJob):
    """fit(model_config, train_config) in a child process, then evaluate and save to save_path."""

    kind = TRAINING_KIND

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        save_path: str | Path,
        *,
        metadata: dict[str, Any] | None = None,
        owner: str | None = None,
    ):
        self.model_config, self.train_config = model_config, train_config
        self.save_path = Path(save_path)
        self.metadata = dict(metadata or {})
        self.job_id = secrets.token_urlsafe(9)
        self._owner = owner
        super().__init__(_train_in_child, (model_config, train_config, self.save_path, self.metadata))
        self._progress = JobProgress(WAITING, 0.0, 0, train_config.epochs, message="Waiting for a free training slot…")
        self._last_weights: Weights | None = None  # the last finished epoch's, as the child sent them
        self._split_sizes: tuple[int, int] | None = None
        self._saver: threading.Thread | None = None

    # --- the page's side ---------------------------------------------------------------------------------------
    def controlled_by(self, owner: str | None) -> bool:
        """Whether `owner` (a session's secret token) started this job and so may stop it."""
        return self._owner is not None and owner is not None and secrets.compare_digest(self._owner, owner)

    @property
    def finished(self) -> bool:
        return self._progress.finished

    def progress(self) -> JobProgress:
        """A copy of the current progress (reads what the child has sent since the last call)."""
        with self._lock:
            self.poll()
            p = self._progress
            message = p.message
            if p.state == WAITING and self.queue_place is not None:
                place, waiting = self.queue_place
                message = f"Waiting for a free training slot: number {place} of {waiting} in the server's queue."
            return JobProgress(
                p.state,
                p.fraction,
                p.epoch,
                p.total_epochs,
                list(p.history),
                message,
                p.saved_path,
                list(p.curve),
                p.stop_requested,
                p.report,
                p.replay,
            )

    def request_stop(self) -> None:
        """Stop now: the child is terminated, and the epochs finished so far are evaluated and saved (in a
        thread of the parent, so the click answers at once). A job still waiting for a slot just ends."""
        with self._lock:
            if self._progress.finished or self._progress.stop_requested:
                return
            self._progress.stop_requested = True
            if not self.launched:
                self._ended = True
                self._progress.state = STOPPED
                self._progress.message = "Stopped before training started; nothing was saved."
                release_claim(self.save_path)
                return
            self.poll()  # the epochs the child finished before the stop
            if self._progress.finished:  # it had just ended by itself
                return
            self._terminate()
            if self._last_weights is None:
                self._progress.state = STOPPED
                self._progress.message = "Stopped before the first epoch finished; nothing was saved."
                release_claim(self.save_path)
                return
            self._progress.state = EVALUATING
            self._progress.message = f"Stopped; saving the {self._progress.epoch} finished epoch(s)…"
            self._saver = threading.Thread(target=self._save_stopped, name="save-stopped", daemon=True)
            self._saver.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (tests, benchmarks); True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if self.progress().finished:
                return True
            time.sleep(0.02)
        return self.progress().finished

    @property
    def can_save_last_good(self) -> bool:
        """After a divergence or a crash with at least one finished epoch, its weights can still be saved."""
        with self._lock:
            return (
                self._progress.state in (DIVERGED, FAILED)
                and self._last_weights is not None
                and self._progress.saved_path is None
            )

    def save_last_good(self) -> Path:
        """Save the weights from the end of the last finished epoch (under a fresh claim: the job gave its name
        back when it ended)."""
        with self._lock:
            assert self._last_weights is not None, "nothing good to save"
            self.save_path = claim_checkpoint_path(self.save_path.parent, self.save_path.stem)
            try:
                path, report = self._save_last_epoch()
            finally:
                release_claim(self.save_path)
            self._progress.saved_path, self._progress.report = str(path), report
            self._progress.replay = self._saved_replay(path, self._progress.replay)
            self._progress.message += f" The last good weights were saved as {path.name}."
            return path

    # --- the child's messages (under the lock) -------------------------------------------------------------------
    def _on_message(self, kind: str, payload: Any) -> None:
        p = self._progress
        if p.finished or p.stop_requested:
            return
        if kind == "status":
            p.state, p.message = (EVALUATING if "Evaluating" in payload else RUNNING), payload
        elif kind == "data":
            self._split_sizes = payload
        elif kind == "step":
            p.fraction, p.message, point = payload
            p.state = RUNNING
            p.curve.append(point)
        elif kind == "replay":
            p.replay = payload
        elif kind == "replay_frame":
            if p.replay is not None:
                p.replay = dataclasses.replace(p.replay, frames=(*p.replay.frames, payload))
        elif kind == "epoch":
            record, self._last_weights = payload
            p.epoch = record.epoch
            p.history.append(record)
        elif kind == "saved":
            path, report = payload
            p.state, p.fraction, p.saved_path, p.report = DONE, 1.0, path, report
            p.replay = self._saved_replay(Path(path), p.replay)
            evaluated = (
                f" (evaluated on the first {report.n_images:,} test images)"
                if self._split_sizes is not None and report.n_images < self._split_sizes[1]
                else ""
            )
            p.message = f"Trained {len(p.history)} epochs; saved as {Path(path).name}{evaluated}."
        elif kind == "diverged":
            good = len(p.history)
            p.state = DIVERGED
            p.message = f"Training diverged: {payload}" + (
                f" {good} good epoch(s) can still be saved." if good else " No epoch finished, nothing to save."
            )
        elif kind == "failed":
            p.state, p.message = FAILED, str(payload)

    def _on_exit(self, exitcode: int | None) -> None:
        p = self._progress
        if not p.finished and not p.stop_requested:
            good = len(p.history)
            p.state = FAILED
            p.message = f"The training process ended unexpectedly: exit code {exitcode}." + (
                f" {good} finished epoch(s) can still be saved." if good else " No epoch finished, nothing to save."
            )
        if p.saved_path is None and not p.stop_requested:
            release_claim(self.save_path)  # give the name back; the child's save_checkpoint did when it saved

    def _on_cancel(self) -> None:  # trainings are not leased; a cancel is a stop
        self._progress.state = STOPPED
        self._progress.message = "Cancelled; nothing was saved."
        release_claim(self.save_path)

    # --- saving in the parent ----------------------------------------------------------------------------------
    def _save_stopped(self) -> None:
        try:
            path, report = self._save_last_epoch()
        except Exception as err:  # the page must get a message, never a dead thread
            traceback.print_exc()
            release_claim(self.save_path)
            with self._lock:
                self._progress.state = FAILED
                self._progress.message = f"Saving the stopped run failed: {type(err).__name__}: {err}"
            return
        with self._lock:
            epochs = self._progress.epoch
            self._progress.state, self._progress.saved_path, self._progress.report = STOPPED, str(path), report
            self._progress.replay = self._saved_replay(path, self._progress.replay)
            self._progress.message = (
                f"Stopped in epoch {epochs + 1}; saved the {epochs} finished epoch(s) as {path.name} "
                f"(evaluated on the first {report.n_images:,} test images)."
            )

    def _save_last_epoch(self) -> tuple[Path, EvaluationReport]:
        # Evaluated like the zoo (vae_core.zoo.cli), the test split binarised when training was, on its first
        # STOPPED_EVAL_IMAGES images (the same fixed binarisation of those), so Stop answers quickly.
        with self._lock:
            weights, history = self._last_weights, list(self._progress.history)
            replay = _replay_until(self._progress.replay, history)
        assert weights is not None, "no finished epoch to save"
        model = build_model(self.model_config)
        model.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
        model.eval()
        test_data = load_dataset(self.train_config.dataset, "test")
        first = dataclasses.replace(
            test_data,
            images=test_data.images[:STOPPED_EVAL_IMAGES],
            labels=test_data.labels[:STOPPED_EVAL_IMAGES],
            factors=None if test_data.factors is None else test_data.factors[:STOPPED_EVAL_IMAGES],
        )
        report = evaluate(model, first, protocol=protocol_of(self.train_config, self.model_config))
        n_train = self._split_sizes[0] if self._split_sizes is not None else 0
        metadata = training_metadata(
            sum(r.seconds for r in history),
            n_train,
            len(test_data),
            len(history),
            self.train_config.num_threads,
            device=self.train_config.device,
        )
        metadata.update(self.metadata, trained_in_app=True, stopped_early=True)
        path = save_checkpoint(
            self.save_path,
            model,
            self.train_config,
            history=[r.to_dict() for r in history],
            metrics=report.to_dict(),
            metadata=metadata,
            replay=replay,
        )
        return path, report

    @staticmethod
    def _saved_replay(path: Path, live: TrainingReplay | None) -> TrainingReplay | None:
        """The replay as the saved file holds it (the live one if the file's cannot be read back)."""
        try:
            return load_replay(path) or live
        except CheckpointError:
            traceback.print_exc()
            return live


def _replay_until(replay: TrainingReplay | None, history: list[EpochRecord]) -> TrainingReplay | None:
    """The live replay's frames up to the end of the last finished epoch: what a stopped run saves with that epoch's
    weights. They stay in the live plane (z, or the first finished epoch's principal axes): the child that held the
    decoder snapshots for redrawing them in the saved model's plane is gone."""
    if replay is None or not history:
        return None
    last_step = history[-1].epoch * replay.steps_per_epoch
    frames = tuple(frame for frame in replay.frames if frame.step <= last_step)
    return dataclasses.replace(replay, frames=frames) if frames else None


class JobBoard:
    """Every training job of this server by id: what a page reattaches to after a browser refresh."""

    def __init__(
        self,
        max_running: int = MAX_CONCURRENT_JOBS,
        max_waiting: int = limits.MAX_QUEUED_TRAINING_JOBS,
        scheduler: Scheduler | None = None,
    ):
        self.max_running, self.max_waiting = max_running, max_waiting
        self.scheduler = scheduler or SCHEDULER
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

    def owned_by(self, owner: str | None) -> list[TrainingJob]:
        """The jobs `owner` started, oldest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job for job in jobs if job.controlled_by(owner)]

    def submit(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        folder: str | Path,
        stem: str,
        *,
        metadata: dict[str, Any] | None = None,
        owner: str | None = None,
    ) -> TrainingJob:
        """Claim folder/stem.safetensors (or stem-2.safetensors, ...) now, register the job and queue it; owner
        is the secret of the session that may stop it.

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
            job = TrainingJob(model_config, train_config, path, metadata=metadata, owner=owner)
            self._jobs[job.job_id] = job
            self._forget_old_finished()
        try:
            self.scheduler.submit(job)
        except BaseException:
            release_claim(path)
            raise
        return job

    def _forget_old_finished(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.progress().finished]
        for job_id in finished[: max(0, len(finished) - FINISHED_JOBS_KEPT)]:
            del self._jobs[job_id]


BOARD = JobBoard()  # the server's one board (module state: Streamlit imports a module once per server)
