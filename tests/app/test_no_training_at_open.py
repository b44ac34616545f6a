"""No page trains a model when it opens: every optimiser step, vae_core's fit(), the toy trainer and the t-SNE fit
are made to raise, then every page is opened with its defaults (digits, offline; and, where MNIST is in the data
directory, the autoencoder family on MNIST with the shipped zoo; every page on MNIST under `-m slow`).

What a page needs is shipped (zoo models, the toy bundle) or computed without training (PCA, scores, grids).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ui.shell.lessons import LESSONS
from vae_core.engine.data import is_available

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"
PAGE_TIMEOUT_S = 120  # a first open loads data and models; the budget is for a loaded machine, not a goal
AE_FAMILY = ("autoencoders", "sparse_autoencoders", "denoising_autoencoders", "contractive_autoencoders")
EVERY_PAGE = tuple(slug for slug in LESSONS if slug != "home")


class TrainedAtOpen(AssertionError):
    pass


@pytest.fixture
def training_forbidden(monkeypatch):
    """Every entry to training raises TrainedAtOpen (the optimisers themselves, so no import style escapes)."""
    import sklearn.manifold
    import torch

    import vae_core.engine.training as training
    import vae_core.lessons.autoencoders.toy_models as toy_models

    def refuse(*args, **kwargs):
        raise TrainedAtOpen("a page trained or fitted a model at open")

    for optimiser in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop):
        monkeypatch.setattr(optimiser, "step", refuse)
    monkeypatch.setattr(training, "fit", refuse)
    monkeypatch.setattr(toy_models, "train_toy_autoencoder", refuse)
    monkeypatch.setattr(toy_models, "_train", refuse)
    monkeypatch.setattr(sklearn.manifold.TSNE, "fit_transform", refuse)
    monkeypatch.setattr(sklearn.manifold.TSNE, "fit", refuse)


def open_without_training(slug: str, query: dict[str, str] | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_FILE), default_timeout=PAGE_TIMEOUT_S)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(LESSONS[slug].script).run()
    texts = [str(e.value) for e in at.exception]
    assert not any("trained or fitted a model at open" in t for t in texts), f"{slug}: {texts}"
    assert not at.exception, f"{slug}: {texts}"
    return at


@pytest.mark.parametrize("slug", EVERY_PAGE)
def test_no_page_trains_at_open_on_digits(slug, ae_lesson_env, navigation_only, training_forbidden):
    open_without_training(slug)


def test_the_guard_catches_a_training(training_forbidden, tiny_config):
    """The patches bite: a fit() and a toy training both raise."""
    import torch

    from vae_core.engine.config import TrainConfig
    from vae_core.engine.training import fit
    from vae_core.lessons.autoencoders.toy_models import ToyTrainSpec, train_toy_autoencoder

    with pytest.raises(TrainedAtOpen):
        fit(tiny_config(kind="ae"), TrainConfig(dataset="digits", epochs=1))
    with pytest.raises(TrainedAtOpen):
        train_toy_autoencoder(torch.zeros(4, 2), ToyTrainSpec(steps=1))


@pytest.fixture
def mnist_env(monkeypatch, navigation_only, tmp_path):
    data = Path(os.environ.get("VAE_DATA_DIR", "data"))
    monkeypatch.setenv("VAE_DATA_DIR", str(data.resolve()))
    if not is_available("mnist"):
        pytest.skip("MNIST is not in the data directory")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(SHIPPED))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))


@pytest.mark.parametrize("slug", AE_FAMILY)
def test_the_autoencoder_family_does_not_train_at_open_on_mnist(slug, mnist_env, training_forbidden):
    open_without_training(slug, {"dataset": "mnist"})


@pytest.mark.slow
@pytest.mark.parametrize("slug", [s for s in EVERY_PAGE if s not in AE_FAMILY])
def test_no_page_trains_at_open_on_mnist(slug, mnist_env, training_forbidden):
    open_without_training(slug, {"dataset": "mnist"})
