"""Shared fixtures for the app's tests: a tiny digits checkpoint zoo and an AppTest factory.

`tiny_zoo` (session) trains, in a few seconds, the checkpoints the pages need:
- digits-ae-z2.pt, digits-vae-z2.pt: role "family-2d", group "digits-family-2d"
- digits-vae-z3-beta0.5.pt, -beta1.pt, -beta4.pt: role "beta-sweep", group "digits-beta-sweep"
- digits-vae-z4.pt: a VAE with a 4-D latent (PCA / t-SNE, slices, per-dimension sliders)
`app_env` (function) points the app at it: VAE_CHECKPOINT_DIR is the zoo, VAE_USER_CHECKPOINT_DIR a fresh
empty folder per test, VAE_DATA_DIR an empty folder so only the offline digits data set is offered.
`open_page(page_file)` returns an AppTest of app.py that has run once on that page (with `navigation_only`,
which keeps AppTest from rerunning a page file without app.py; see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from vae_core.checkpoints import save_checkpoint
from vae_core.training import training_metadata
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import load_dataset
from vae_core.evaluation import evaluate
from vae_core.training import fit

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_FILE = REPO_ROOT / "app.py"
APP_TIMEOUT_S = 60  # first runs load data and models; later runs hit the caches


@dataclass(frozen=True)
class TinyZoo:
    folder: Path
    ae_2d: Path
    vae_2d: Path
    sweep: tuple[Path, ...]
    vae_4d: Path
    sweep_group: str = "digits-beta-sweep"
    family_group: str = "digits-family-2d"


def train_tiny_checkpoint(path: Path, *, kind: str = "vae", latent_dim: int = 2, beta: float = 1.0,
                          role: str | None = None, group: str | None = None, epochs: int = 2,
                          hidden_dims: tuple[int, ...] = (64,), seed: int = 0) -> Path:
    """Train a small MLP on digits for a few epochs and save it like the zoo does (metrics, role, group)."""
    train_data, test_data = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_config = ModelConfig(kind=kind, input_shape=train_data.input_shape, latent_dim=latent_dim,
                               hidden_dims=hidden_dims, beta=beta)
    train_config = TrainConfig(dataset="digits", epochs=epochs, batch_size=128, lr=3e-3, seed=seed,
                               eval_each_epoch=False)
    result = fit(model_config, train_config, train_data=train_data, test_data=test_data)
    metadata = training_metadata(result.seconds, len(train_data), len(test_data), len(result.history))
    if role:
        metadata.update(role=role, group=group)
    return save_checkpoint(path, result.model, train_config, history=[r.to_dict() for r in result.history],
                           metrics=evaluate(result.model, test_data).to_dict(), metadata=metadata)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> TinyZoo:
    folder = tmp_path_factory.mktemp("zoo")
    family = dict(role="family-2d", group="digits-family-2d")
    sweep = dict(role="beta-sweep", group="digits-beta-sweep", latent_dim=3)
    return TinyZoo(
        folder=folder,
        ae_2d=train_tiny_checkpoint(folder / "digits-ae-z2.pt", kind="ae", **family),
        vae_2d=train_tiny_checkpoint(folder / "digits-vae-z2.pt", kind="vae", **family),
        sweep=tuple(train_tiny_checkpoint(folder / f"digits-vae-z3-beta{b:g}.pt", beta=b, **sweep)
                    for b in (0.5, 1.0, 4.0)),
        vae_4d=train_tiny_checkpoint(folder / "digits-vae-z4.pt", latent_dim=4),
    )


@pytest.fixture
def app_env(tiny_zoo, tmp_path, monkeypatch) -> TinyZoo:
    """Point the app at the tiny zoo, a fresh user folder and a data folder with only digits."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tiny_zoo.folder))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "no_data"))
    return tiny_zoo


@pytest.fixture
def navigation_only(monkeypatch) -> None:
    """Keep AppTest out of Streamlit's legacy pages-folder mode, so each run is one run of app.py.

    AppTest resets PagesManager.uses_pages_directory before every run, like a freshly started server; with a
    pages/ folder present, that mode reruns the page file alone. The app leaves the mode itself by rerunning
    (ui.navigation, tested without this shim in test_pages.py); the shim only saves that extra run per test run.
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
    """open_page("pages/2_latent_space.py") -> an AppTest of app.py that has run once on that page."""
    from streamlit.testing.v1 import AppTest

    def _open(page_file: str | None = None):
        at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
        at.run()
        if page_file is not None:
            at.switch_page(page_file).run()
        return at

    return _open


@pytest.fixture
def server_side_decoding(monkeypatch):
    """Pages behave as for a conv model: no browser decoder, so everything decodes on the server."""
    import ui.latent_pad
    from vae_core.decoder_export import UnsupportedDecoder

    def refuse(model):
        raise UnsupportedDecoder("the browser decoder runs MLP decoders only (test)")

    ui.latent_pad.browser_decoder.clear()
    monkeypatch.setattr(ui.latent_pad, "export_decoder", refuse)
    yield
    ui.latent_pad.browser_decoder.clear()
