"""Shared fixtures for the app's tests: the app pointed at the tiny zoo, and an AppTest factory.

`tiny_zoo` (tests/conftest.py, session) is the tiny digits checkpoint zoo the pages need.
`app_env` (function) points the app at it: VAE_CHECKPOINT_DIR is the zoo, VAE_USER_CHECKPOINT_DIR a fresh
empty folder per test, VAE_DATA_DIR an empty folder: no training splits, the shipped MNIST and Fashion-MNIST test
splits offered all the same, and the session opens on digits, the only data set the tiny zoo has models for.
`open_page(script)` (a lesson's, e.g. `LESSONS["latent_space"].script`) returns an AppTest of app.py that has run
once on that page (with `navigation_only`, which keeps AppTest from rerunning a page file without app.py; see its
docstring).
"""

from __future__ import annotations

from pathlib import Path

import pytest

APP_TESTS = Path(__file__).resolve().parent
REPO_ROOT = APP_TESTS.parents[1]
APP_FILE = REPO_ROOT / "app.py"
APP_TIMEOUT_S = 60  # first runs load data and models; later runs hit the caches


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by `-m`
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/app `app` (pytest.ini), so `-m app` and `-m "not app"` run one layer alone."""
    for item in items:
        if item.path.is_relative_to(APP_TESTS):
            item.add_marker(pytest.mark.app)


@pytest.fixture
def app_env(tiny_zoo, tmp_path, monkeypatch):
    """Point the app at the tiny zoo, a fresh user folder and an empty data folder."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tiny_zoo.folder))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "no_data"))
    return tiny_zoo


@pytest.fixture
def navigation_only(monkeypatch) -> None:
    """Keep AppTest out of Streamlit's legacy pages-folder mode, so each run is one run of app.py.

    AppTest resets PagesManager.uses_pages_directory before every run, like a freshly started server; with a
    pages/ folder present, that mode reruns the page file alone. The app leaves the mode itself by rerunning
    (ui.shell.navigation, tested without this shim in test_pages.py); the shim only saves that extra run per test run.
    """
    import streamlit.testing.v1.app_test as app_test_module
    from streamlit.runtime.pages_manager import PagesManager

    class NavigationPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test_module, "PagesManager", NavigationPagesManager)


@pytest.fixture
def open_page(app_env, navigation_only):
    """open_page(LESSONS["latent_space"].script) -> an AppTest of app.py that has run once on that page."""
    from streamlit.testing.v1 import AppTest

    def _open(script: str | None = None):
        at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
        at.run()
        if script is not None:
            at.switch_page(script).run()
        return at

    return _open


@pytest.fixture
def server_side_decoding(monkeypatch):
    """Pages behave as for a conv model: no browser decoder, so everything decodes on the server."""
    import ui.state.browser_decoders as browser_decoders
    from vae_core.serving.decoder_export import UnsupportedDecoder

    def refuse(model):
        raise UnsupportedDecoder("the browser decoder runs MLP decoders only (test)")

    browser_decoders.browser_decoder.clear()
    monkeypatch.setattr(browser_decoders, "export_decoder", refuse)
    yield
    browser_decoders.browser_decoder.clear()


# The autoencoder lesson's shipped files on digits: its five zoo models and the toy bundle (nothing trains at open).
SHIPPED = REPO_ROOT / "checkpoints"
AE_LESSON_FILES = (
    "digits-ae-z2.safetensors",
    "digits-dae-z2.safetensors",
    "digits-cae-z2.safetensors",
    "digits-sae-wide-kl.safetensors",
    "digits-sae-wide-nopenalty.safetensors",
)


@pytest.fixture
def ae_lesson_env(app_env, tmp_path, monkeypatch):
    """app_env, with the shipped autoencoder-lesson files beside the tiny zoo (its digits-ae-z2 is the shipped one)."""
    import shutil

    from vae_core.lessons.autoencoders.toy_zoo import TOY_BUNDLE_FILE

    folder = tmp_path / "zoo_with_lesson"
    shutil.copytree(app_env.folder, folder)
    for name in AE_LESSON_FILES:
        shutil.copy2(SHIPPED / name, folder / name)
    (folder / TOY_BUNDLE_FILE).parent.mkdir(exist_ok=True)
    shutil.copy2(SHIPPED / TOY_BUNDLE_FILE, folder / TOY_BUNDLE_FILE)
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(folder))
    return folder
