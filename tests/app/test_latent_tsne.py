"""The Latent space page's t-SNE: progress and a Cancel button while it runs, the cap said on the page."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.browser_marks import needs_browser
from ui.shell.lessons import LESSONS
from vae_core.engine import limits
from vae_core.engine.data import load_dataset
from vae_core.serving.tsne_job import TsneBoard, sample_indices

TSNE_TIMEOUT_S = 180
CAP = 100  # below the digits test split, so the cap applies


@pytest.fixture
def fresh_tsne(monkeypatch):
    """A board of its own (no run left over from another test) and a cap the digits test split exceeds."""
    import ui.state.derived as derived

    board = TsneBoard()
    monkeypatch.setattr(derived, "TSNE_BOARD", board)
    monkeypatch.setattr(limits, "MAX_TSNE_POINTS", CAP)
    derived.project_split.clear()
    derived.latent_figure.clear()
    yield board
    for job in list(board._jobs.values()):
        job.cancel()
    derived.project_split.clear()
    derived.latent_figure.clear()


def on_tsne(open_page):
    at = open_page(LESSONS["latent_space"].script)
    at.sidebar.selectbox(key="sidebar_model").set_value("shipped/digits-vae-z4").run()
    at.radio(key="latent_projection").set_value("tsne").run()
    assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def test_tsne_shows_progress_and_the_cap_then_the_chart_of_the_subset(open_page, fresh_tsne):
    n_test = len(load_dataset("digits", "test"))
    at = on_tsne(open_page)
    progress = at.get("progress")
    assert len(progress) == 1 and "t-SNE" in progress[0].proto.text
    sentence = f"t-SNE of {CAP} of the {n_test} test codes, picked at random with seed 0"
    assert sentence in captions(at)
    assert at.button(key="latent_tsne_cancel") and not at.get("plotly_chart")

    deadline = time.monotonic() + TSNE_TIMEOUT_S
    while at.get("progress"):
        assert time.monotonic() < deadline, "t-SNE did not finish"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    shown = sorted(int(i) for trace in spec["data"] if "customdata" in trace for i in _values(trace["customdata"]))
    assert shown == sample_indices(n_test, cap=CAP).tolist()  # clicks still name the right test images
    assert sentence in captions(at)


def test_cancel_stops_the_run_and_goes_back_to_pca(open_page, fresh_tsne):
    at = on_tsne(open_page)
    (job,) = fresh_tsne._jobs.values()
    at.button(key="latent_tsne_cancel").click().run()
    assert not at.exception, at.exception
    assert not job.is_alive() and job.progress().state == "cancelled"
    assert at.radio(key="latent_projection").value == "pca"
    assert "t-SNE cancelled" in "\n".join(str(i.value) for i in at.info)
    (chart,) = at.get("plotly_chart")
    assert json.loads(chart.proto.spec)["layout"]["xaxis"]["title"]["text"] == "PC 1"


def _values(array_or_typed) -> np.ndarray:
    import base64

    if isinstance(array_or_typed, dict) and "bdata" in array_or_typed:
        return np.frombuffer(base64.b64decode(array_or_typed["bdata"]), dtype=np.dtype(array_or_typed["dtype"]))
    return np.asarray(array_or_typed)


@needs_browser
def test_in_a_browser_the_bar_moves_by_itself_and_the_chart_replaces_it(app_env):
    """The real polling: the progress fragment reruns on its own (run_every) until the t-SNE is done, then the
    page draws the t-SNE chart, with no click in between."""
    import re

    from playwright.sync_api import sync_playwright

    from tools.app_browser import chromium_page, open_app, running_app, wait_for_idle

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, f"{url}/latent_space")
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(1).click()
        page.get_by_role("option", name=re.compile("z4")).first.click()
        wait_for_idle(page, timeout_ms=60_000)
        page.get_by_text("t-SNE (non-linear", exact=False).click()
        page.locator('[data-testid="stProgress"]').wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Cancel t-SNE").count() == 1
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=TSNE_TIMEOUT_S * 1000)
        wait_for_idle(page, timeout_ms=60_000)
        assert page.locator('[data-testid="stProgress"]').count() == 0
        assert page.get_by_text("t-SNE of all", exact=False).count() >= 1
        assert page.locator(".xtitle", has_text="t-SNE 1").count() >= 1
