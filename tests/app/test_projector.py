"""Projector mode (ui/shell/projector.py): the URL parameter and the sidebar switch agree, and the prose goes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE, APP_TIMEOUT_S
from tests.app.test_pages import MY_PAGES
from ui.shell.lessons import LESSONS
from ui.shell.projector import PROJECTOR_KEY

HOME_LEAD = "Look at what an autoencoder"  # the home page's first paragraph of prose


def _opened_with_url_parameter(value: str) -> AppTest:
    """The app opened from a link that says ?projector=<value>, after its first run (which must not fail)."""
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    at.query_params[PROJECTOR_KEY] = value
    at.run()
    assert not at.exception
    return at


def _markdown_text(at) -> str:
    return "\n".join(m.value for m in at.main.markdown)


def test_the_url_parameter_turns_projector_mode_on_and_hides_the_prose(app_env, navigation_only):
    at = _opened_with_url_parameter("1")
    assert at.sidebar.toggle(key=PROJECTOR_KEY).value is True
    assert HOME_LEAD not in _markdown_text(at)


def test_the_switch_writes_the_url_and_brings_the_prose_back_when_off(open_page):
    at = open_page()
    assert HOME_LEAD in _markdown_text(at)
    assert PROJECTOR_KEY not in at.query_params
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(True).run()
    assert at.query_params[PROJECTOR_KEY] == "1"
    assert HOME_LEAD not in _markdown_text(at)
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(False).run()  # the URL still said 1 during this run
    assert at.sidebar.toggle(key=PROJECTOR_KEY).value is False
    assert PROJECTOR_KEY not in at.query_params
    assert HOME_LEAD in _markdown_text(at)


def test_a_nonsense_value_in_the_url_means_off(app_env, navigation_only):
    at = _opened_with_url_parameter("<script>")
    assert at.sidebar.toggle(key=PROJECTOR_KEY).value is False
    assert HOME_LEAD in _markdown_text(at)


@pytest.mark.parametrize("page", MY_PAGES)
def test_projector_mode_leaves_out_each_pages_lesson_prose(open_page, page):
    at = open_page(page)
    lesson = {m.value for m in at.main.markdown}
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(True).run()
    assert not at.exception, at.exception
    projected = {m.value for m in at.main.markdown}
    assert projected < lesson, "projector mode draws a subset of the page's text, without its prose"


ANOMALY_PAGE = LESSONS["anomaly_detection"].script
ANOMALY_SETUP = "1 · The model and the sets"


def test_projector_mode_folds_a_pages_set_up_into_an_expander_that_still_holds_its_widgets(open_page):
    at = open_page(ANOMALY_PAGE)
    assert ANOMALY_SETUP in [h.value for h in at.main.header]
    assert not [e for e in at.main.expander if e.label == ANOMALY_SETUP]
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(True).run()
    assert not at.exception, at.exception
    assert ANOMALY_SETUP not in [h.value for h in at.main.header]
    (setup,) = [e for e in at.main.expander if e.label == ANOMALY_SETUP]
    assert setup.selectbox(key="anomaly_vae").value == at.selectbox(key="anomaly_vae").value
    assert {s.key for s in setup.select_slider} == {"anomaly_subset", "anomaly_k"}
