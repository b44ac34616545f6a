"""The lesson registry (ui/shell/lessons.py) against the pages/ folder and the addresses links were made with."""

from __future__ import annotations

from tests.app.conftest import REPO_ROOT
from ui.shell.lessons import HOME, LESSONS, PAGES_FOLDER

# The pages' addresses before the registry (read from a running app): slides and bookmarks link to them.
PUBLISHED_URL_PATHS = {
    "autoencoders",
    "latent_space",
    "decoder_grid",
    "interpolation",
    "beta_tradeoff",
    "elbo_breakdown",
    "inference",
    "anomaly_detection",
    "conditional_vae",
    "train",
}


def test_every_lesson_has_its_script_and_every_script_is_a_lesson():
    scripts = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / PAGES_FOLDER).glob("*.py")}
    assert scripts == {lesson.script for lesson in LESSONS.values()}


def test_every_published_address_still_opens_its_lesson():
    assert set(LESSONS) >= PUBLISHED_URL_PATHS
    assert HOME is LESSONS["home"], "the home page is the default page, at /"


def test_each_lesson_is_listed_under_its_own_slug():
    assert all(slug == lesson.slug for slug, lesson in LESSONS.items())
    assert len({lesson.title for lesson in LESSONS.values()}) == len(LESSONS)
