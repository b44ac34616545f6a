"""The conditional VAE page (AppTest): it runs offline on digits with a tiny CVAE, and its numbers equal
independent computations (closed-form KL from the encoders, a k-NN score recomputed with scikit-learn)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from tests.conftest import train_tiny_checkpoint
from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset

PAGE = LESSONS["conditional_vae"].script


@pytest.fixture(scope="module")
def tiny_cvae(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cvae")
    return train_tiny_checkpoint(
        folder / "digits-cvae-z2.safetensors", kind="cvae", role="conditional", group="digits-conditional"
    )


@pytest.fixture
def cvae_page(open_page, tiny_cvae, tmp_path, monkeypatch):
    user = tmp_path / "user_with_cvae"
    user.mkdir()
    shutil.copy(tiny_cvae, user / tiny_cvae.name)
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(user))
    return open_page(PAGE)


def metric(at, label: str) -> float:
    (found,) = [m for m in at.metric if m.label == label]
    return float(found.value.rstrip("%"))


def closed_form_kl(model, images, labels=None) -> float:
    with torch.no_grad():
        mean, logvar = model.encode(images, labels)
    return float((0.5 * (mean**2 + logvar.exp() - 1 - logvar)).sum(1).mean())


def knn_score(codes: np.ndarray, labels: np.ndarray) -> float:
    a, b, ya, yb = train_test_split(codes, labels, test_size=0.5, random_state=0, stratify=labels)
    return KNeighborsClassifier(n_neighbors=5).fit(a, ya).score(b, yb)


def test_the_page_runs_and_its_numbers_match(cvae_page, tiny_cvae, tiny_zoo):
    at = cvae_page
    assert not at.exception, at.exception
    assert at.title[0].value == "Conditional VAE"
    captions = [c for image in at.image for c in image.captions]
    # the same-z matrix, a latent grid per class, the digit and its style transfer row
    assert sum(c.startswith("Each row: one z") for c in captions) == 1
    assert len(captions) >= 1 + 10 + 2
    test = load_dataset("digits", "test")
    cvae, vae = load_checkpoint(tiny_cvae).model, load_checkpoint(tiny_zoo.vae_2d).model
    # The tiny models see grey levels (no binarisation), so the test images go in as they are.
    assert metric(at, "KL · CVAE") == pytest.approx(closed_form_kl(cvae, test.images, test.labels), abs=0.006)
    assert metric(at, "KL · VAE") == pytest.approx(closed_form_kl(vae, test.images), abs=0.006)
    with torch.no_grad():
        cvae_codes = cvae.embed(test.images, test.labels).numpy()
        vae_codes = vae.embed(test.images).numpy()
    labels = test.labels.numpy()
    assert metric(at, "Class predicted from the conditional VAE's codes (5-NN)") == pytest.approx(
        100 * knn_score(cvae_codes, labels), abs=0.051
    )
    assert metric(at, "Class predicted from the VAE's codes (5-NN)") == pytest.approx(
        100 * knn_score(vae_codes, labels), abs=0.051
    )


def test_more_rows_and_another_digit(cvae_page):
    at = cvae_page
    at.slider(key="cvae_rows").set_value(3).run()
    assert not at.exception, at.exception
    at.selectbox(key="cvae_pick_class").set_value(7).run()
    assert not at.exception, at.exception
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith("Decoded with the labels") for c in captions)
    assert any("(7)" in c for c in captions)  # the picked test digit's own class


def test_no_cvae_says_how_to_get_one(open_page):
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert any("No conditional VAE for digits" in i.value for i in at.info)
