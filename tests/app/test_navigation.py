"""The legacy-pages shim (ui/shell/navigation.py) against the Streamlit internals it relies on.

ui/shell/navigation.py flips `PagesManager.uses_pages_directory`, an internal of Streamlit, because a folder
named pages/ next to app.py puts every fresh server in the old multipage mode until st.navigation runs.
requirements.txt bounds Streamlit to the versions checked here. When an upgrade breaks one of these tests,
read the new PagesManager and st.navigation, then fix the shim (or drop it if Streamlit no longer needs it)
and move the bound.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ui.shell import navigation

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"
BROKEN = (
    "Streamlit changed the internals ui/shell/navigation.py relies on: fix the shim and the bound in requirements.txt"
)


@pytest.fixture
def pages_manager(monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager

    assert "uses_pages_directory" in vars(PagesManager), BROKEN
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    return PagesManager


def test_streamlit_still_decides_the_legacy_mode_from_a_pages_folder(pages_manager):
    assert (APP_FILE.parent / "pages").is_dir()
    pages_manager(str(APP_FILE))  # what a fresh server does before the first script run
    assert pages_manager.uses_pages_directory is True, BROKEN


def test_st_navigation_leaves_the_legacy_mode_through_the_same_flag():
    from streamlit.commands import navigation as st_navigation

    source = inspect.getsource(st_navigation.navigation)
    assert "PagesManager.uses_pages_directory = False" in source, BROKEN


def test_the_shim_leaves_the_legacy_mode_and_reruns(pages_manager, monkeypatch):
    reruns = []
    monkeypatch.setattr(navigation.st, "rerun", lambda: reruns.append(True))
    pages_manager.uses_pages_directory = True
    navigation.leave_legacy_pages_mode()
    assert pages_manager.uses_pages_directory is False and reruns == [True]
    navigation.leave_legacy_pages_mode()  # out of the legacy mode: nothing to do
    assert reruns == [True]


def test_requirements_bound_streamlit_to_the_checked_versions():
    import streamlit
    from packaging.requirements import Requirement

    lines = (APP_FILE.parent / "requirements.txt").read_text().splitlines()
    (line,) = [line for line in lines if line.startswith("streamlit")]
    requirement = Requirement(line.split("#")[0].strip())
    assert any(spec.operator == "<" for spec in requirement.specifier), "bound Streamlit above (see this file)"
    assert requirement.specifier.contains(streamlit.__version__), f"Streamlit {streamlit.__version__} is outside {line}"
