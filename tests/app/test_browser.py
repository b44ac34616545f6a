"""The real app in a real browser: `streamlit run app.py` on the test zoo, driven by Debian's headless Chromium.

Opens every page from the navigation, uploads a digit and draws one on the ELBO page, moves its β slider, and
fails on any exception box Streamlit shows. Screenshots go to artifacts/browser/ (gitignored); with
SCREENSHOTS=<folder> small README-sized copies of each page go there too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import REPO_ROOT, capture, chromium_page, running_app
from tools.screenshots import README_SHOTS, SCREENSHOTS_ENV, save_readme_shot, tour
from ui.shell.lessons import LESSONS

pytestmark = NEEDS_BROWSER

ARTIFACTS = REPO_ROOT / "artifacts" / "browser"


def number(text: str) -> float:
    """A metric's value; a Monte Carlo figure's "± standard error" is dropped."""
    return float(text.split(" ± ")[0].replace("−", "-"))


def test_every_page_renders_and_the_elbo_page_takes_uploads_drawings_and_sliders(app_env):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    readme_folder = os.environ.get(SCREENSHOTS_ENV)

    def on_page(name: str, page) -> None:
        (ARTIFACTS / f"{name}.png").write_bytes(capture(page))
        if readme_folder and name in README_SHOTS:
            save_readme_shot(Path(readme_folder), README_SHOTS[name], page)

    with (
        running_app(log_path=ARTIFACTS / "streamlit.log") as url,
        sync_playwright() as playwright,
        chromium_page(playwright) as page,
    ):
        report = tour(page, url, on_page)

    print("seconds per page:", {name: round(s, 1) for name, s in report.seconds.items()})  # shown with -s
    listed = [name for name in report.pages if "-" not in name]
    assert listed == list(LESSONS), report.pages  # every lesson, in the registry's order, at its own address
    assert {"elbo_breakdown-upload", "elbo_breakdown-draw", "elbo_breakdown-beta", "elbo_breakdown-cleared"} <= set(
        report.pages
    )
    assert not {name: texts for name, texts in report.exceptions.items() if texts}, "an exception was shown"

    elbo = report.elbo
    assert number(elbo["upload"]) > 0, "the uploaded digit was measured"
    assert elbo["before_drawing"] == "", "nothing is measured on the Draw tab before a stroke"
    assert number(elbo["drawn"]) > 0, "the stroke reached Python and was measured"
    # β moved from 1 to 2: β·KL doubles (same posterior, only re-weighed)
    assert number(elbo["beta_kl_after"]) == pytest.approx(2 * number(elbo["beta_kl_before"]), abs=0.011)
    assert elbo["after_clear"] == "", "Clear forgets the drawing"
