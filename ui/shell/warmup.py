"""Load torch (and the other heavy libraries the lessons import) in the background, after the first page is drawn.

The home page and the sidebar do not need torch, so the app's first page appears seconds sooner when it
loads later (torch takes 2-3 s to import on a 2-core machine). Importing it in a daemon thread once that
first page is out, while the student reads it (no run in progress for QUIET_S), means the lesson page a student
opens next usually finds it ready. Python's import lock makes a page that needs torch mid-import wait for it, not
import it twice. app.py calls run_started() and run_finished() around every run.

Then the anomaly page's scores are warmed into the disk cache (vae_core.serving.anomaly_scores.warm: every setting
the page offers, for each data set's opening models), in a child process at the lowest priority on one torch
thread, which works only while the runs are quiet and waits between batches of images while a page runs: a
lecturer who starts the server before class finds every setting scored.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import sys
import threading
import time
from typing import Any

# Third-party modules only: they never import ours, so a page importing our modules meanwhile cannot
# deadlock with this thread on Python's per-module import locks.
# torch for every lesson; scikit-learn's PCA for the Latent space and Autoencoder family pages. About 1.3 + 1.5 s of
# imports on a 2-core machine that the page a student opens next does not wait for. (Streamlit itself imports
# plotly.graph_objects.) Only modules the app imports: torchvision, once here, is not (vae_core.engine.data reads the
# MNIST files with gzip and numpy), and its 1.6 s of imports were spent for nothing.
HEAVY_MODULES = ("torch", "sklearn.decomposition")

# Importing holds the GIL for long stretches (loading shared libraries, initialising extension modules), and a run
# needs it, as does the server answering the browser (after a run, the browser still fetches the page's images and
# the script chunks of its elements, plotly's among them, from this process). So each import waits until no run has
# been in progress for QUIET_S, the time a student spends reading a page; a fixed second after the first page, as
# before, could start scikit-learn's import in the middle of the next page's run. (benchmarks/cold_profile.py times
# the gap from a direct link's run to the page idle in the browser: on a 2-core machine at load 7-8 it varied from
# 0.8 to 6.5 s with the warm-up and without it alike, so that gap is the loaded browser's, not this thread's.)
QUIET_S = 2.0
POLL_S = 0.1

# Modules that other libraries read straight from sys.modules, past Python's import lock: plotly's JSON encoder
# looks pandas up with should_load=False, so a session drawing a figure while another session's first run was
# importing pandas met a half-initialised module ("partially initialized module 'pandas' has no attribute
# 'Series'", seen by benchmarks/class_load.py on a fresh server). app.py imports them before anything else in
# every run: an import waits for another thread's import of the same module, so no run gets past that line
# while pandas is half-built. It costs the server's first run about 0.4 s, once.
SHARED_MODULES = ("pandas",)

WARM_SCORES_ENV = "VAE_WARM_SCORES"  # "0": no score warm-up (the tests; a machine short of memory)
WARM_NICENESS = 19  # the score warm-up's child runs at the lowest CPU priority

_lock = threading.Lock()
_thread: threading.Thread | None = None
_runs_in_progress = 0
_last_run_end = 0.0  # time.monotonic() when the last run ended


def import_shared_modules() -> None:
    """Import SHARED_MODULES (already loaded after the server's first run: then this costs microseconds)."""
    for name in SHARED_MODULES:
        importlib.import_module(name)


def run_started() -> None:
    """A script run began (app.py, first thing): the warm-up holds its next import until the runs are quiet."""
    global _runs_in_progress
    with _lock:
        _runs_in_progress += 1


def run_finished() -> threading.Thread:
    """A script run ended (app.py, last thing, however it ended): start the background loading once per server
    process, the first time; returns the thread."""
    global _runs_in_progress, _last_run_end, _thread
    with _lock:
        _runs_in_progress = max(0, _runs_in_progress - 1)
        _last_run_end = time.monotonic()
        if _thread is None:
            _thread = threading.Thread(target=_load_everything, name="vae-explorer-warm-up", daemon=True)
            _thread.start()
        return _thread


def quiet_for() -> float:
    """Seconds since the last run ended, 0 while one is in progress."""
    with _lock:
        return 0.0 if _runs_in_progress else time.monotonic() - _last_run_end


def _load_everything() -> None:
    for name in HEAVY_MODULES:
        if name in sys.modules:  # a page imported it already
            continue
        _wait_for_quiet()
        # the page that needs it imports it again and shows the error
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    if scores_warm_up_wanted():
        _wait_for_quiet()
        with contextlib.suppress(Exception):  # the pages score what the warm-up could not
            warm_scores()


def _wait_for_quiet() -> None:
    while quiet_for() < QUIET_S:
        time.sleep(POLL_S)


def scores_warm_up_wanted() -> bool:
    """Whether this server warms the anomaly scores ($VAE_WARM_SCORES is not "0")."""
    return os.environ.get(WARM_SCORES_ENV, "1").strip() != "0"


def warm_scores(poll_s: float = POLL_S) -> int | None:
    """Run the score warm-up's child to its end, telling it whenever the runs are quiet (quiet_for() >= QUIET_S)
    and whenever they are not (it then waits at its next batch); returns its exit code."""
    context = multiprocessing.get_context("spawn")  # no forked copy of the server's threads and torch state
    quiet = context.Event()
    # daemon: a server that exits takes the child with it (and the child ends when it sees its parent gone)
    child = context.Process(
        target=_warm_scores_in_child, args=(quiet, os.getpid()), name="vae-explorer-score-warm-up", daemon=True
    )
    child.start()
    while child.is_alive():
        if quiet_for() >= QUIET_S:
            quiet.set()
        else:
            quiet.clear()
        child.join(poll_s)
    return child.exitcode


def _warm_scores_in_child(quiet: Any, parent_pid: int) -> None:
    if hasattr(os, "nice"):
        os.nice(WARM_NICENESS)  # a page's run always comes first
    # Our modules are imported here, in the child, never by the warm-up thread (see HEAVY_MODULES).
    from vae_core.serving.anomaly_scores import warm_in_background

    warm_in_background(quiet, parent_pid)
