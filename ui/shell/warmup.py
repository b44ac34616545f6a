"""Load torch (and the other heavy libraries the lessons import) in the background, after the first page is drawn.

The home page and the sidebar do not need torch, so the app's first page appears seconds sooner when it
loads later (torch takes 2-3 s to import on a 2-core machine). Importing it in a daemon thread once that
first page is out means the lesson page a student opens next usually finds it ready. Python's import lock
makes a page that needs torch mid-import wait for it, not import it twice.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time

# Third-party modules only: they never import ours, so a page importing our modules meanwhile cannot
# deadlock with this thread on Python's per-module import locks.
# torch for every lesson; scikit-learn's PCA for the Latent space and Autoencoder family pages. About 1.3 + 1.5 s of
# imports on a 2-core machine that the page a student opens next does not wait for. (Streamlit itself imports
# plotly.graph_objects.) Only modules the app imports: torchvision, once here, is not (vae_core.engine.data reads the
# MNIST files with gzip and numpy), and its 1.6 s of imports held the GIL while the first lesson page drew.
HEAVY_MODULES = ("torch", "sklearn.decomposition")

# Importing torch holds the GIL for long stretches (loading its shared libraries), which would hold up the
# messages that finish the first page; a second is enough for them to go out (measured with
# benchmarks/app_latency.py's probe: without the wait the first page went idle 1.3 s later).
DELAY_S = 1.0

# Modules that other libraries read straight from sys.modules, past Python's import lock: plotly's JSON encoder
# looks pandas up with should_load=False, so a session drawing a figure while another session's first run was
# importing pandas met a half-initialised module ("partially initialized module 'pandas' has no attribute
# 'Series'", seen by benchmarks/class_load.py on a fresh server). app.py imports them before anything else in
# every run: an import waits for another thread's import of the same module, so no run gets past that line
# while pandas is half-built. It costs the server's first run about 0.4 s, once.
SHARED_MODULES = ("pandas",)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def import_shared_modules() -> None:
    """Import SHARED_MODULES (already loaded after the server's first run: then this costs microseconds)."""
    for name in SHARED_MODULES:
        importlib.import_module(name)


def start() -> threading.Thread:
    """Start the background loading once per server process; later calls return the same thread."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_load_everything, name="vae-explorer-warm-up", daemon=True)
            _thread.start()
        return _thread


def _load_everything() -> None:
    time.sleep(DELAY_S)
    for name in HEAVY_MODULES:
        # the page that needs it imports it again and shows the error
        with contextlib.suppress(Exception):
            importlib.import_module(name)
