"""The first page draws before torch loads (it takes seconds), and torch then loads in the background."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ui.shell import sidebar, warmup

REPO_ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: run the app's first page (the home page) with AppTest, the background warm-up held
# back, and report whether torch was imported (and pandas, which must be).
FIRST_PAGE = """
import json, sys
import ui.shell.warmup
ui.shell.warmup.QUIET_S = 600  # keep the background imports out of this check
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120).run()
from ui.shell.sidebar import available_devices, NVIDIA_DRIVER_SIGNS
import os
print(json.dumps({
    "exception": [str(e.value) for e in at.exception],
    "title": [t.value for t in at.title],
    "model": at.sidebar.selectbox(key="sidebar_model").value,
    "devices": available_devices(),
    "driver": any(os.path.exists(sign) for sign in NVIDIA_DRIVER_SIGNS),
    "torch": "torch" in sys.modules,
    "pandas_whole": hasattr(sys.modules.get("pandas"), "Series"),
}))
"""


def test_the_first_page_draws_without_importing_torch(app_env):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_PAGE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exception"] == [] and "VAE Latent Explorer" in report["title"]
    assert report["model"] == "shipped/digits-vae-z2"  # the picker holds the data set's model
    if report["driver"]:
        pytest.skip("an NVIDIA driver is present: asking torch about the GPU is the right thing to do here")
    assert report["devices"] == ["cpu"]
    assert not report["torch"], "the home page imported torch"
    # Imported by every run before any page code, so no session's plotly meets another session's half-imported
    # pandas (ui/shell/warmup.py, SHARED_MODULES).
    assert report["pandas_whole"], "the first run did not import pandas before the pages"


def test_devices_come_from_torch_where_a_driver_may_be(monkeypatch, tmp_path):
    import torch

    sign = tmp_path / "nvidia-version"
    sign.write_text("driver")
    monkeypatch.setattr(sidebar, "NVIDIA_DRIVER_SIGNS", (str(sign),))
    expected = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    assert sidebar.available_devices() == expected
    # torch already imported (as here): it is asked whatever the signs say.
    monkeypatch.setattr(sidebar, "NVIDIA_DRIVER_SIGNS", (str(tmp_path / "absent"),))
    assert sidebar.available_devices() == expected


@pytest.fixture
def fresh_warm_up(monkeypatch):
    """The warm-up as in a fresh server process: no thread yet, no run counted."""
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "_runs_in_progress", 0)
    monkeypatch.setattr(warmup, "_last_run_end", 0.0)
    monkeypatch.setattr(warmup, "POLL_S", 0.01)


def test_warm_up_imports_the_heavy_modules_once_in_the_background(monkeypatch, fresh_warm_up):
    monkeypatch.setattr(warmup, "QUIET_S", 0.0)
    monkeypatch.setattr(warmup, "HEAVY_MODULES", ("colorsys", "no_such_module_anywhere"))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    warmup.run_started()
    thread = warmup.run_finished()
    assert thread.daemon and thread is not threading.current_thread()
    warmup.run_started()
    assert warmup.run_finished() is thread  # once per process
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules  # imported; the missing module was skipped without an error
    importlib.import_module("colorsys")


def test_the_warm_up_waits_while_runs_are_in_progress_and_for_the_quiet_time(monkeypatch, fresh_warm_up):
    import time

    monkeypatch.setattr(warmup, "QUIET_S", 0.3)
    monkeypatch.setattr(warmup, "HEAVY_MODULES", ("colorsys",))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    warmup.run_started()  # two sessions' runs
    warmup.run_started()
    thread = warmup.run_finished()  # the first ends: the thread starts, but the other run is still going
    time.sleep(0.8)
    assert "colorsys" not in sys.modules, "imported while a run was in progress"
    ended = time.monotonic()
    warmup.run_finished()
    thread.join(timeout=30)
    assert "colorsys" in sys.modules
    assert time.monotonic() - ended >= 0.3  # not before the quiet time


def test_the_warm_up_imports_only_what_the_app_imports():
    # A module nobody imports costs the background thread seconds of GIL for nothing (torchvision did, 1.6 s).
    import ast

    imported: set[str] = set()
    for folder in ("vae_core", "ui", "pages"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module)
    for name in warmup.HEAVY_MODULES:
        assert any(m == name or m.startswith(name + ".") for m in imported), f"the app never imports {name}"


def test_a_spawned_child_does_not_run_the_app(monkeypatch):
    # multiprocessing's spawn re-runs the main script as "__mp_main__" in every child, and under Streamlit the main
    # script is app.py: a t-SNE child must not draw the app or start the warm-up (its torch import raced the child's).
    import runpy

    import streamlit as st

    calls: list[str] = []
    monkeypatch.setattr(st, "set_page_config", lambda *a, **k: calls.append("set_page_config"))
    monkeypatch.setattr(warmup, "run_started", lambda: calls.append("warmup"))
    namespace = runpy.run_path(str(REPO_ROOT / "app.py"), run_name="__mp_main__")
    assert callable(namespace["main"]) and calls == []
