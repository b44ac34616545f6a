"""vae_core.serving.tsne_job: t-SNE in a child process, with a size cap, progress and a cancel."""

import time

import numpy as np
import pytest
from sklearn.manifold import TSNE

from vae_core.lessons.projection import TSNE_ITERATIONS
from vae_core.serving import tsne_job
from vae_core.serving.background import Scheduler
from vae_core.serving.tsne_job import (
    CANCELLED,
    DONE,
    FAILED,
    NEIGHBOUR_SHARE,
    RUNNING,
    TsneBoard,
    TsneJob,
    TsneProgress,
    describe_sample,
    sample_indices,
)

JOB_TIMEOUT_S = 180  # a spawned child imports scikit-learn first: seconds on a busy 2-core machine


def started(job: TsneJob) -> TsneJob:
    """The job launched at once by a scheduler of its own, and held by this test."""
    job.hold("test")
    Scheduler(max_running=1, lease_seconds=JOB_TIMEOUT_S).submit(job)
    return job


def wait_until(job: TsneJob, done, timeout_s: float = JOB_TIMEOUT_S) -> list[TsneProgress]:
    """Poll the job until done(progress), holding it meanwhile; returns every progress seen."""
    seen = [job.progress()]
    deadline = time.monotonic() + timeout_s
    while not done(seen[-1]):
        assert time.monotonic() < deadline, f"t-SNE job stuck at {seen[-1]}"
        time.sleep(0.05)
        job.hold("test")
        seen.append(job.progress())
    return seen


def test_codes_up_to_the_cap_are_all_used_and_above_it_a_seeded_subset():
    assert sample_indices(5000, cap=5000) is None
    picked = sample_indices(10_000, cap=5000)
    assert picked is not None and len(picked) == 5000 and len(np.unique(picked)) == 5000
    assert np.all(np.diff(picked) > 0) and picked.min() >= 0 and picked.max() < 10_000
    np.testing.assert_array_equal(picked, sample_indices(10_000, cap=5000, seed=0))
    assert not np.array_equal(picked, sample_indices(10_000, cap=5000, seed=1))
    with pytest.raises(ValueError):
        sample_indices(10, cap=0)


def test_the_page_sentence_says_how_many_codes_and_the_seed():
    text = describe_sample(10_000, sample_indices(10_000, cap=5000))
    assert text.startswith("t-SNE of 5 000 of the 10 000 test codes, picked at random with seed 0")
    assert describe_sample(360, None) == "t-SNE of all 360 test codes."


def test_printed_iterations_become_progress():
    start = TsneProgress("starting", 0.0, "starting")
    assert tsne_job._progress_of_line("[t-SNE] Computing 91 nearest neighbors...", start).fraction < NEIGHBOUR_SHARE
    assert tsne_job._progress_of_line("something else", start) is start
    half = tsne_job._progress_of_line("[t-SNE] Iteration 500: error = 1.2, gradient norm = 0.01", start)
    assert half.state == RUNNING and half.text == f"iteration 500 of {TSNE_ITERATIONS}"
    assert half.fraction == pytest.approx(NEIGHBOUR_SHARE + (1 - NEIGHBOUR_SHARE) * 500 / TSNE_ITERATIONS)


def test_a_capped_job_equals_sklearn_run_directly_on_the_same_subset_with_the_same_seed():
    codes = np.random.default_rng(3).normal(size=(90, 4))
    job = started(TsneJob(codes, seed=0, cap=60))
    seen = wait_until(job, lambda p: p.finished)
    assert seen[-1].state == DONE, seen[-1]
    assert any(p.state == RUNNING for p in seen), "no iteration progress was reported"
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert job.indices is not None and len(job.indices) == 60
    np.testing.assert_array_equal(job.indices, sample_indices(90, cap=60))
    expected = TSNE(n_components=2, random_state=0, init="pca").fit_transform(codes[job.indices])
    np.testing.assert_allclose(job.points(), expected, rtol=1e-5, atol=1e-4)
    assert not job.is_alive()


def test_cancel_terminates_the_child_process():
    codes = np.random.default_rng(4).normal(size=(3000, 8))
    job = started(TsneJob(codes, seed=0))
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while not job.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    job.cancel()
    assert not job.is_alive() and job._process.exitcode not in (None, 0)
    assert job.progress().state == CANCELLED
    with pytest.raises(RuntimeError):
        job.points()


def test_a_failing_run_reports_why():
    codes = np.full((20, 3), np.nan)
    seen = wait_until(started(TsneJob(codes, seed=0)), lambda p: p.finished)
    assert seen[-1].state == FAILED and "ValueError" in (seen[-1].error or "")


def test_the_board_shares_a_run_per_key_and_replaces_a_cancelled_one():
    board = TsneBoard(Scheduler(max_running=1))
    codes = np.random.default_rng(5).normal(size=(2000, 4))
    first = board.start("model-a", codes, holder="a")
    assert board.start("model-a", codes, holder="b") is first and board.get("model-a") is first
    board.cancel("model-a")
    assert first.progress().state == CANCELLED and not first.is_alive()
    second = board.start("model-a", codes, holder="a")
    assert second is not first
    second.cancel()
