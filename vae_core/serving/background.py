"""Heavy background work in child processes, capped per server: the one runner for trainings and t-SNE.

Each job is one spawned child (multiprocessing's spawn start method: no forked copy of the server's threads and
torch state) that sends its progress to the parent as messages on a Queue; the parent's side reads them when a
page asks for progress and from the scheduler's own thread. Ending a job terminates its child at once.

The server has one `SCHEDULER`. It runs at most limits.MAX_BACKGROUND_JOBS children at once (and at most a
per-kind number of one kind, e.g. the trainings' VAE_MAX_TRAINING_JOBS); the rest wait in order, and each
waiting job knows its place in the queue so a page can say it. A job may be *leased*: then it runs only while
some session waits for it. Pages renew a lease on every rerun or poll (`hold`), and the scheduler cancels a
leased job, waiting or running, once every lease has been stale for limits.BACKGROUND_LEASE_SECONDS: a closed
tab stops its t-SNE within seconds. Trainings are not leased: their result is a saved file the student can
come back to.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from vae_core.engine import limits

MAX_BACKGROUND_JOBS_ENV = "VAE_MAX_BACKGROUND_JOBS"
MAX_TRAINING_JOBS_ENV = "VAE_MAX_TRAINING_JOBS"
TRAINING_KIND = "training"  # the scheduler's name for training jobs (vae_core.serving.jobs)
PUMP_SECONDS = 0.2  # how often the scheduler reads its children's messages, starts waiting jobs, checks leases
LAST_MESSAGES_SECONDS = 2.0  # after a child exits: how long to wait for each of its last messages (busy machine)


def max_background_jobs() -> int:
    """Children the server runs at once: VAE_MAX_BACKGROUND_JOBS, else limits.MAX_BACKGROUND_JOBS."""
    return max(1, int(os.environ.get(MAX_BACKGROUND_JOBS_ENV, "") or limits.MAX_BACKGROUND_JOBS))


def max_training_jobs() -> int:
    """Trainings the server runs at once: VAE_MAX_TRAINING_JOBS (default 2), within max_background_jobs()."""
    return max(1, int(os.environ.get(MAX_TRAINING_JOBS_ENV, "") or 2))


class BackgroundJob:
    """One unit of heavy work in a child process: `target(*args, queue)` runs there and puts (kind, payload)
    messages on the queue. Subclasses turn messages into their progress (`_on_message`), say what an exit
    without a final message means (`_on_exit`) and what a cancel leaves (`_on_cancel`)."""

    kind = "job"  # the scheduler's per-kind caps are by this name

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], *, leased: bool = False) -> None:
        self._target, self._args = target, args
        self.leased = leased
        self._lock = threading.RLock()
        self._process: Any = None  # multiprocessing's SpawnProcess once launched
        self._queue: Any = None
        self._ended = False  # the child's exit (or a cancel) has been handled
        self._leases: dict[str, float] = {}
        self._created = time.monotonic()
        self.queue_place: tuple[int, int] | None = None  # (place, waiting jobs) while it waits; set by the scheduler

    # --- what a subclass defines ------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        raise NotImplementedError

    def _on_message(self, kind: str, payload: Any) -> None:
        raise NotImplementedError

    def _on_exit(self, exitcode: int | None) -> None:
        """The child has ended and its messages are read; called once (under the lock)."""

    def _on_cancel(self) -> None:
        """The job was cancelled (its child, if any, is gone); called once (under the lock)."""

    # --- the process ---------------------------------------------------------------------------------------------
    @property
    def launched(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def exitcode(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def launch(self) -> None:
        """Start the child (the scheduler calls this when a slot is free)."""
        with self._lock:
            assert self._process is None, "a job launches once"
            context = multiprocessing.get_context("spawn")
            self._queue = context.Queue()
            # daemon: a server that exits takes its children with it.
            self._process = context.Process(target=self._target, args=(*self._args, self._queue), daemon=True)
            self._process.start()

    def poll(self) -> None:
        """Read the messages the child has sent; handle its exit once it has ended."""
        with self._lock:
            if self._process is None or self._ended:
                return
            while True:
                try:
                    kind, payload = self._queue.get_nowait()
                except Exception:  # queue.Empty, or a queue broken by a dead child
                    break
                self._on_message(kind, payload)
            if self.finished:  # its result is in: the child is only flushing its queue and exiting
                self._process.join(LAST_MESSAGES_SECONDS)
                self._ended = True
                return
            if self._process.is_alive() or self._process.exitcode is None:
                return
            # It may have put its last messages just before exiting: read them, waiting a little for each.
            while not self.finished:
                try:
                    kind, payload = self._queue.get(timeout=LAST_MESSAGES_SECONDS)
                except Exception:
                    break
                self._on_message(kind, payload)
            self._ended = True
            self._queue.close()
            self._on_exit(self._process.exitcode)

    def _terminate(self) -> None:
        # Under the lock: end the child now (SIGTERM, then SIGKILL if it is still there after 5 s).
        if self._process is None or self._ended:
            return
        self._process.terminate()
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._ended = True
        self._queue.close()

    def cancel(self) -> None:
        """Stop the job now, waiting or running (every session sharing it sees it cancelled)."""
        with self._lock:
            if self.finished:
                return
            self._terminate()
            self._ended = True
            self._on_cancel()

    # --- leases --------------------------------------------------------------------------------------------------
    def hold(self, holder: str) -> None:
        """The session `holder` still waits for this job (call on every rerun or poll of the page that shows it)."""
        with self._lock:
            self._leases[holder] = time.monotonic()

    def unwanted(self, now: float, lease_seconds: float) -> bool:
        """A leased, unfinished job whose every lease (or, never held, its creation) is older than lease_seconds."""
        with self._lock:
            if not self.leased or self.finished:
                return False
            last = max(self._leases.values(), default=self._created)
            return now - last > lease_seconds


class QueueFull(RuntimeError):
    """The server's queue of waiting jobs of this kind is full."""


class Scheduler:
    """The server's background children: at most max_running at once (and per_kind[kind] of a kind), the rest
    waiting in order; leased jobs nobody holds are cancelled. Thread-safe."""

    def __init__(
        self,
        max_running: int | None = None,
        per_kind: dict[str, int] | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.max_running = max_background_jobs() if max_running is None else max_running
        self.per_kind = dict(per_kind or {})
        self.lease_seconds = limits.BACKGROUND_LEASE_SECONDS if lease_seconds is None else lease_seconds
        self._lock = threading.Lock()
        self._waiting: list[BackgroundJob] = []
        self._running: list[BackgroundJob] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, job: BackgroundJob) -> BackgroundJob:
        """Queue the job; it starts at once if a slot is free."""
        with self._lock:
            self._waiting.append(job)
        self.pump()
        self._ensure_thread()
        return job

    def waiting(self, kind: str | None = None) -> list[BackgroundJob]:
        with self._lock:
            return [job for job in self._waiting if kind is None or job.kind == kind]

    def running(self, kind: str | None = None) -> list[BackgroundJob]:
        with self._lock:
            return [job for job in self._running if kind is None or job.kind == kind]

    def pump(self) -> None:
        """Read the children's messages, cancel leased jobs nobody holds, start waiting jobs in free slots."""
        now = time.monotonic()
        with self._lock:
            for job in self._running + self._waiting:
                if job.unwanted(now, self.lease_seconds):
                    job.cancel()
            for job in self._running:
                job.poll()
            self._running = [job for job in self._running if not job.finished]
            self._waiting = [job for job in self._waiting if not job.finished]
            started = []
            for job in self._waiting:
                if len(self._running) >= self.max_running:
                    break
                cap = self.per_kind.get(job.kind)
                if cap is not None and sum(j.kind == job.kind for j in self._running) >= cap:
                    continue
                job.launch()
                job.queue_place = None
                self._running.append(job)
                started.append(job)
            self._waiting = [job for job in self._waiting if job not in started]
            for place, job in enumerate(self._waiting, start=1):
                job.queue_place = (place, len(self._waiting))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="background-scheduler", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        # Runs while there is work: a page that is closed polls nothing, so leases and exits are checked here.
        while True:
            time.sleep(PUMP_SECONDS)
            try:
                self.pump()
            except Exception:  # a broken job must not stop the scheduler for every other job
                import traceback

                traceback.print_exc()
            with self._lock:
                if not self._running and not self._waiting:
                    self._thread = None
                    return


# The server's one scheduler (module state: Streamlit imports a module once per server). A server started with
# more trainings allowed than background jobs runs that many trainings (the larger of the two caps).
SCHEDULER = Scheduler(
    max_running=max(max_background_jobs(), max_training_jobs()), per_kind={TRAINING_KIND: max_training_jobs()}
)


def wait_for(jobs: Iterable[BackgroundJob], timeout_s: float) -> bool:
    """Poll until every job has finished (tests and benchmarks); True if they did within timeout_s."""
    deadline = time.monotonic() + timeout_s
    jobs = list(jobs)
    while time.monotonic() < deadline:
        for job in jobs:
            job.poll()
        if all(job.finished for job in jobs):
            return True
        time.sleep(0.02)
    return False
