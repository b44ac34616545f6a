"""The lesson registry (ui/shell/lessons.py) against the pages/ folder and the addresses links were made with."""

from __future__ import annotations

import ast

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


def imported_packages(source: str) -> set[str]:
    """The top-level package of every import in a script, at any depth (inside functions too)."""
    tree = ast.parse(source)
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def test_imported_packages_sees_imports_inside_functions():
    assert imported_packages("def f():\n    import torch.nn\nfrom numpy import array\n") == {"torch", "numpy"}


def test_no_page_imports_torch():
    # A page is the script of a lesson, layout and words: tensors live in ui.state and vae_core.lessons.
    for path in sorted((REPO_ROOT / PAGES_FOLDER).glob("*.py")):
        assert "torch" not in imported_packages(path.read_text()), f"{path.name} imports torch"
