"""vae_core.serving.background: the server-wide cap on child processes, its queue, per-kind caps and leases.

The children here run a tiny function (no torch), so each costs a bare interpreter's start, not a torch import.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

from vae_core.engine import limits
from vae_core.serving.background import BackgroundJob, Scheduler, wait_for
from vae_core.serving.tsne_job import FAILED, TsneBoard

TIMEOUT_S = 60  # a child's start on a busy 2-core machine


def _sleep_in_child(seconds: float, queue: Any) -> None:
    queue.put(("started", os.getpid()))
    time.sleep(seconds)
    queue.put(("done", None))


class Sleeper(BackgroundJob):
    def __init__(self, seconds: float = 60.0, *, kind: str = "job", leased: bool = False) -> None:
        super().__init__(_sleep_in_child, (seconds,), leased=leased)
        self.kind = kind
        self.state = "waiting"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "died")

    def _on_message(self, kind: str, payload: Any) -> None:
        self.state = "running" if kind == "started" else kind

    def _on_exit(self, exitcode: int | None) -> None:
        if not self.finished:
            self.state = "died"

    def _on_cancel(self) -> None:
        self.state = "cancelled"


def until(condition, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def jobs():
    made: list[Sleeper] = []
    yield made
    for job in made:
        job.cancel()


def test_the_cap_queues_the_rest_in_order_with_their_places(jobs):
    scheduler = Scheduler(max_running=1)
    jobs += [Sleeper(), Sleeper(), Sleeper()]
    for job in jobs:
        scheduler.submit(job)
    first, second, third = jobs
    assert first.launched and not second.launched and not third.launched
    assert (second.queue_place, third.queue_place) == ((1, 2), (2, 2))
    assert scheduler.running() == [first] and scheduler.waiting() == [second, third]
    first.cancel()
    assert not first.is_alive()
    scheduler.pump()
    assert second.launched and not third.launched and third.queue_place == (1, 1) and second.queue_place is None


def test_a_kind_has_its_own_cap_within_the_server_cap_and_others_pass_it(jobs):
    scheduler = Scheduler(max_running=2, per_kind={"training": 1})
    jobs += [Sleeper(kind="training"), Sleeper(kind="training"), Sleeper(kind="t-SNE")]
    for job in jobs:
        scheduler.submit(job)
    assert [job.launched for job in jobs] == [True, False, True]  # the t-SNE passes the waiting training


def test_a_child_that_ends_frees_its_slot(jobs):
    scheduler = Scheduler(max_running=1)
    jobs += [Sleeper(0.0), Sleeper()]
    for job in jobs:
        scheduler.submit(job)
    until(lambda: (scheduler.pump(), jobs[1].launched)[1])
    assert jobs[0].state == "done"


def test_a_killed_child_is_reported(jobs):
    scheduler = Scheduler(max_running=1)
    jobs.append(scheduler.submit(Sleeper()))
    (job,) = jobs
    until(lambda: (job.poll(), job.state == "running")[1])
    os.kill(job.pid, 9)
    until(lambda: (job.poll(), job.finished)[1])
    assert job.state == "died" and job.exitcode == -9


def test_a_leased_job_nobody_holds_is_cancelled_within_the_lease_and_a_held_one_runs_on(jobs):
    """The closed tab: its lease is not renewed, and the scheduler's own thread ends the child."""
    scheduler = Scheduler(max_running=2, lease_seconds=0.5)
    held, left = Sleeper(leased=True), Sleeper(leased=True)
    jobs += [held, left]
    for job in jobs:
        job.hold("session-a")
        scheduler.submit(job)
    until(lambda: held.is_alive() and left.is_alive())
    left_at = time.monotonic()
    while left.state != "cancelled":  # only the scheduler's thread pumps here
        held.hold("session-a")
        assert time.monotonic() - left_at < 5.0, "the job nobody holds was not cancelled"
        time.sleep(0.05)
    assert not left.is_alive() and held.is_alive() and not held.finished
    assert time.monotonic() - left_at >= 0.5


def test_a_waiting_leased_job_nobody_holds_leaves_the_queue(jobs):
    scheduler = Scheduler(max_running=1, lease_seconds=0.2)
    jobs += [Sleeper(), Sleeper(leased=True)]
    for job in jobs:
        scheduler.submit(job)
    time.sleep(0.3)
    scheduler.pump()
    assert jobs[1].state == "cancelled" and not jobs[1].launched and scheduler.waiting() == []


def test_identical_tsne_requests_share_one_job_and_a_full_queue_refuses_with_a_reason(monkeypatch, jobs):
    scheduler = Scheduler(max_running=1, lease_seconds=60)
    blocker = Sleeper()
    jobs.append(scheduler.submit(blocker))  # the one slot is taken: t-SNE runs wait
    board = TsneBoard(scheduler)
    codes = np.random.default_rng(0).normal(size=(50, 3))
    first = board.start(("model-a", "digits"), codes, holder="session-a")
    assert board.start(("model-a", "digits"), codes, holder="session-b") is first  # same model + data: shared
    assert first.progress().state == "waiting" and "number 1 in the server's queue" in first.progress().text
    monkeypatch.setattr(limits, "MAX_QUEUED_TSNE_JOBS", 1)
    refused = board.start(("model-b", "digits"), codes, holder="session-a")
    assert refused.progress().state == FAILED and "1 t-SNE runs are already waiting" in (refused.progress().error or "")
    assert scheduler.waiting() == [first]
    first.cancel()
    assert wait_for([first], 1)
