"""Issue #25 item 6 on a page: a t-SNE runs while its session polls for it, waits visibly for a slot, and a
closed tab (a session that stops polling) lets the server cancel it within its lease."""

from __future__ import annotations

import time

import pytest

from tests.serving.test_background import Sleeper
from ui.shell.lessons import LESSONS
from vae_core.engine import limits
from vae_core.serving.background import Scheduler
from vae_core.serving.tsne_job import CANCELLED, TsneBoard

LEASE_S = 1.0


@pytest.fixture
def busy_server(monkeypatch):
    """A board on a scheduler of one slot, taken by another job: every t-SNE waits in the queue."""
    import ui.state.derived as derived

    scheduler = Scheduler(max_running=1, lease_seconds=LEASE_S)
    blocker = scheduler.submit(Sleeper())
    board = TsneBoard(scheduler)
    monkeypatch.setattr(derived, "TSNE_BOARD", board)
    monkeypatch.setattr(limits, "MAX_TSNE_POINTS", 100)
    yield scheduler, board
    blocker.cancel()
    for job in list(board._jobs.values()):
        job.cancel()


def test_a_waiting_tsne_shows_its_place_and_is_cancelled_once_its_tab_is_gone(open_page, busy_server):
    scheduler, board = busy_server
    at = open_page(LESSONS["latent_space"].script)
    at.sidebar.selectbox(key="sidebar_model").set_value("shipped/digits-vae-z4").run()
    at.radio(key="latent_projection").set_value("tsne").run()
    assert not at.exception, at.exception
    (job,) = board._jobs.values()
    (bar,) = at.get("progress")
    assert "waiting for a free slot (number 1 in the server's queue)" in bar.proto.text
    for _ in range(3):  # the open tab's reruns keep it queued past its lease
        time.sleep(LEASE_S * 0.6)
        at.run()
    assert job.progress().state == "waiting" and scheduler.waiting() == [job]
    closed = time.monotonic()  # the tab closes: nothing renews the lease, only the scheduler's thread runs
    while job.progress().state != CANCELLED:
        assert time.monotonic() - closed < LEASE_S + 5, "the t-SNE nobody waits for was not cancelled"
        time.sleep(0.05)
    assert scheduler.waiting() == [] and not job.launched
