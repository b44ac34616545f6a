"""t-SNE in a child process, so a page can show its progress and stop it (no Streamlit here).

scikit-learn's TSNE has no callback and cannot be interrupted inside a thread, so each run is a child process
(multiprocessing's spawn start method: no forked copy of the server's threads and torch state). With verbose=2
TSNE prints a line every 50 iterations ("[t-SNE] Iteration 350: error = ..."); the child sends its printed
lines to the parent, which turns them into a TsneProgress. The child is run by the server's background
scheduler (vae_core.serving.background, shared with the trainings): it waits for a free slot, its place in the
queue shown, and it is leased: Cancel, or no session holding it for limits.BACKGROUND_LEASE_SECONDS (a closed
tab, a page left), terminates the child.

Above limits.MAX_TSNE_POINTS codes, t-SNE runs on a random subset of that many, picked with a fixed seed
(SAMPLE_SEED) and said so on the page (`describe_sample`). A subset rather than a refusal: MNIST's test split
has 10 000 codes, twice the cap, so refusing would leave every larger-latent MNIST model without a t-SNE view,
while 5000 random points show the same clusters at about a quarter of the time (Barnes-Hut is O(N log N), and
its neighbour search grows faster).

Runs are server-wide: `TsneBoard.start(key, codes, holder=session)` returns the run already waiting or going for
that key (every session looking at the same model shares it, each holding a lease), or queues one; a cancelled or
failed run is replaced by the next start.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from vae_core.engine import limits
from vae_core.lessons.projection import TSNE_ITERATIONS, run_tsne
from vae_core.serving.background import SCHEDULER, BackgroundJob, Scheduler

SAMPLE_SEED = 0  # the subset of a capped t-SNE: the same codes every time, on every machine
TSNE_KIND = "t-SNE"  # the scheduler's name for these jobs
WAITING, STARTING, NEIGHBOURS, RUNNING, DONE, CANCELLED, FAILED = (
    "waiting",
    "starting",
    "neighbours",
    "running",
    "done",
    "cancelled",
    "failed",
)
FINISHED_STATES = (DONE, CANCELLED, FAILED)
# Share of the progress bar before the first gradient step: the neighbour search and the affinities, a few
# seconds at 5000 points against about half a minute of iterations.
NEIGHBOUR_SHARE = 0.1
_ITERATION_LINE = re.compile(r"\[t-SNE\] Iteration (\d+)")


def sample_indices(n_codes: int, cap: int, seed: int = SAMPLE_SEED) -> np.ndarray | None:
    """Sorted indices of the codes a t-SNE of n_codes runs on: None (all of them) up to cap, else cap of them
    drawn at random without replacement with the given seed."""
    if cap < 1:
        raise ValueError(f"the t-SNE cap must be at least 1 point, got {cap}")
    if n_codes <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_codes, size=cap, replace=False))


def _count(n: int) -> str:
    return f"{n:,}".replace(",", " ")  # 10 000, the way the pages write numbers


def describe_sample(n_codes: int, indices: np.ndarray | None, what: str = "test codes", seed: int = SAMPLE_SEED) -> str:
    """One sentence saying which codes a t-SNE shows, e.g. "t-SNE of 5 000 of the 10 000 test codes, picked at
    random with seed 0 (t-SNE is capped at 5 000 points)."."""
    if indices is None:
        return f"t-SNE of all {_count(n_codes)} {what}."
    return (
        f"t-SNE of {_count(len(indices))} of the {_count(n_codes)} {what}, picked at random with seed {seed} "
        f"(t-SNE is capped at {_count(len(indices))} points to keep it to about half a minute)."
    )


@dataclass(frozen=True)
class TsneProgress:
    """A snapshot of one run for the page."""

    state: str  # WAITING, STARTING, NEIGHBOURS, RUNNING, DONE, CANCELLED or FAILED
    fraction: float  # 0..1 of the whole run
    text: str  # what it is doing, for the progress bar
    error: str | None = None  # why it failed (FAILED only)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


class _LinesToQueue:
    """A stand-in for sys.stdout in the child: every complete printed line goes to the parent."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.strip():
                self._queue.put(("line", line))
        return len(text)

    def flush(self) -> None:
        pass


def _child_main(codes: np.ndarray, seed: int, queue: Any) -> None:
    """The child process: run t-SNE with progress lines, send ("done", points) or ("failed", message)."""
    sys.stdout = _LinesToQueue(queue)
    try:
        points = run_tsne(codes, seed, verbose=2)
    except Exception as err:  # reported to the page; the child ends either way
        queue.put(("failed", f"{type(err).__name__}: {err}"))
        return
    queue.put(("done", np.asarray(points, dtype=np.float32)))


class TsneJob(BackgroundJob):
    """One t-SNE run in a child process (vae_core.serving.background), leased: it runs while a session holds
    it. Thread-safe: several sessions may poll it at once. Submit it to a Scheduler to start it."""

    kind = TSNE_KIND

    def __init__(self, codes: np.ndarray, *, seed: int = 0, cap: int | None = None) -> None:
        codes = np.asarray(codes, dtype=np.float64)
        assert codes.ndim == 2, f"codes must be (N, D), got shape {codes.shape}"
        self.n_codes = len(codes)
        self.seed = seed
        # Read at call time, not import time, so a test can lower the cap.
        self.indices = sample_indices(self.n_codes, limits.MAX_TSNE_POINTS if cap is None else cap)
        subset = codes if self.indices is None else codes[self.indices]
        super().__init__(_child_main, (subset, seed), leased=True)
        self._progress = TsneProgress(WAITING, 0.0, "waiting for a free slot")
        self._points: np.ndarray | None = None

    @property
    def finished(self) -> bool:
        return self._progress.finished

    def progress(self) -> TsneProgress:
        """The latest progress (reads what the child has sent since the last call)."""
        with self._lock:
            self.poll()
            if not self.launched and not self.finished:
                place = f" (number {self.queue_place[0]} in the server's queue)" if self.queue_place else ""
                return TsneProgress(WAITING, 0.0, f"waiting for a free slot{place}")
            if self.launched and self._progress.state == WAITING:
                return TsneProgress(STARTING, 0.0, "starting the t-SNE process")
            return self._progress

    def points(self) -> np.ndarray:
        """(n, 2) float32 t-SNE points of the codes (of `indices` when capped). Raises RuntimeError if not done."""
        progress = self.progress()
        if self._points is None:
            raise RuntimeError(f"the t-SNE run is not done ({progress.state}: {progress.text})")
        return self._points

    def refuse(self, reason: str) -> TsneJob:
        """Mark a job that never ran as failed (a full queue), so the page says why."""
        with self._lock:
            self._progress = TsneProgress(FAILED, 0.0, "failed", error=reason)
        return self

    def _on_message(self, kind: str, payload: Any) -> None:
        if self.finished:
            return
        if kind == "line":
            self._progress = _progress_of_line(payload, self._progress)
        elif kind == "done":
            self._points = payload
            self._progress = TsneProgress(DONE, 1.0, "done")
        else:
            self._progress = TsneProgress(FAILED, self._progress.fraction, "failed", error=str(payload))

    def _on_exit(self, exitcode: int | None) -> None:
        if not self.finished:
            message = f"the t-SNE process ended unexpectedly: exit code {exitcode}"
            self._progress = TsneProgress(FAILED, self._progress.fraction, "failed", error=message)

    def _on_cancel(self) -> None:
        self._progress = TsneProgress(CANCELLED, self._progress.fraction, "cancelled")


def _progress_of_line(line: str, previous: TsneProgress) -> TsneProgress:
    """The progress a printed TSNE line announces (lines it does not know keep the previous progress)."""
    match = _ITERATION_LINE.search(line)
    if match:
        iteration = min(int(match.group(1)), TSNE_ITERATIONS)
        fraction = NEIGHBOUR_SHARE + (1 - NEIGHBOUR_SHARE) * iteration / TSNE_ITERATIONS
        return TsneProgress(RUNNING, fraction, f"iteration {iteration} of {TSNE_ITERATIONS}")
    if "nearest neighbors" in line or "Indexed" in line or "Computed neighbors" in line:
        return TsneProgress(NEIGHBOURS, 0.02, "finding each point's nearest neighbours")
    if "conditional probabilities" in line or "Mean sigma" in line:
        return TsneProgress(NEIGHBOURS, NEIGHBOUR_SHARE, "computing the neighbour affinities")
    return previous


class TsneBoard:
    """Server-wide t-SNE runs by key (a model and a data set): one run per key, shared by every session, started
    through the scheduler (capped with the server's trainings; the rest wait, at most limits.MAX_QUEUED_TSNE_JOBS)."""

    def __init__(self, scheduler: Scheduler | None = None) -> None:
        self.scheduler = scheduler or SCHEDULER
        self._lock = threading.Lock()
        self._jobs: dict[Any, TsneJob] = {}

    def start(self, key: Any, codes: np.ndarray, *, holder: str, seed: int = 0) -> TsneJob:
        """The run for key, held for the session `holder`: the one waiting, going or done, or a new one when
        there is none or it was cancelled or failed."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.progress().state in (CANCELLED, FAILED):
                job = self._jobs[key] = TsneJob(codes, seed=seed)
                job.hold(holder)
                waiting = len(self.scheduler.waiting(TSNE_KIND))
                if waiting >= limits.MAX_QUEUED_TSNE_JOBS:
                    return job.refuse(
                        f"the server is busy: {waiting} t-SNE runs are already waiting for a free slot; "
                        "try again in a minute, or use PCA meanwhile"
                    )
                self.scheduler.submit(job)
            job.hold(holder)
            return job

    def get(self, key: Any) -> TsneJob | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: Any) -> None:
        """Terminate key's run if it is going (every session sharing it sees it cancelled)."""
        job = self.get(key)
        if job is not None:
            job.cancel()


BOARD = TsneBoard()
