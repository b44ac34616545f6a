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
    # the same-z matrix, the digit and its style transfer row; a latent grid per class, on axes
    assert sum(c.startswith("Each row: one z") for c in captions) == 1
    assert len(captions) >= 1 + 2
    grid_charts = [c for c in at.get("plotly_chart") if "cvae_class_grid_" in str(c.proto.id)]
    assert len(grid_charts) == 10
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


def brute_force_log_px_given_y(model, x: torch.Tensor, label: int, half_width: float = 6.0, n: int = 241) -> float:
    """log ∫ p(x | z, y) p(z) dz on a fixed grid with torch.distributions (grey pixels scored by the Bernoulli
    formula, as the tiny grey-level CVAE is trained), independent of the page's importance sampling."""
    from torch.distributions import Bernoulli, Normal

    t = torch.linspace(-half_width, half_width, n)
    z = torch.cartesian_prod(t, t)
    with torch.no_grad():
        logits = model.decode_params(z, torch.full((len(z),), label)).flatten(1)
        log_lik = Bernoulli(logits=logits, validate_args=False).log_prob(x.flatten().expand(len(z), -1)).sum(1)
    log_joint = log_lik.double() + Normal(0.0, 1.0).log_prob(z).sum(1).double()
    return float(torch.logsumexp(log_joint, 0)) + 2 * float(torch.log(t[1] - t[0]))


def test_an_upload_gets_a_guessed_class_labelled_as_a_guess(cvae_page, tiny_cvae):
    """Issue 20 item 12: an uploaded 7 got class 0 by default and "its own (0) is the reconstruction". The class
    is now the conditional VAE's own guess, argmax_y p(x | y), shown as a guess; it matches a brute-force
    quadrature of log p(x | y) for every class."""
    from tests.app.test_inference_page import seven_png
    from vae_core.serving.preprocess import preprocess_bytes

    at = cvae_page
    at.radio(key="cvae_pick_source").set_value("upload").run()
    png = seven_png()
    at.file_uploader(key="cvae_pick_file").upload("seven.png", png, "image/png").run()
    assert not at.exception, at.exception
    box = at.selectbox(key="cvae_upload_label")
    assert box.value == "guess" and "guessed" in box.options[0]
    model = load_checkpoint(tiny_cvae).model.eval()
    x = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 8, 8)
    log_px = [brute_force_log_px_given_y(model, x, y) for y in range(10)]
    guess = int(np.argmax(log_px))
    assert f"guessed: {guess} " in box.options[0]
    probabilities = np.exp(np.array(log_px) - max(log_px))
    probabilities /= probabilities.sum()
    assert f"p = {probabilities[guess]:.2f}"[:-1] in box.options[0]  # IW-200 against quadrature: 1 decimal
    captions = [c for image in at.image for c in image.captions]
    assert any(f"its guessed class ({guess})" in c for c in captions)
    box.set_value(3).run()
    captions = [c for image in at.image for c in image.captions]
    assert any("its own class (3)" in c for c in captions)


def test_codes_and_knn_use_the_models_protocol(tmp_path):
    """Issue 20 item 24: the k-NN and the scatter encoded grey images while the KL section used binarised ones.
    The shipped digits CVAE is binarised: its codes are those of the test set's one fixed binarisation."""
    from ui.state import conditional_cache
    from vae_core.engine.data import measured_inputs
    from vae_core.engine.protocol import protocol_of
    from vae_core.engine.registry import ModelRef

    path = Path(__file__).resolve().parents[2] / "checkpoints" / "digits-cvae-z2.safetensors"
    loaded = load_checkpoint(path)
    protocol = protocol_of(loaded.info.train_config, loaded.info.model_config)
    assert protocol.binarizes_inputs
    ref = ModelRef(f"test:{path}", str(path))
    codes, _ = conditional_cache.codes(ref, "digits", protocol.value)
    test = load_dataset("digits", "test")
    binary = measured_inputs(test.images, protocol)
    assert set(binary.unique().tolist()) == {0.0, 1.0}
    with torch.no_grad():
        expected = loaded.model.embed(binary, test.labels).numpy()
        grey = loaded.model.embed(test.images, test.labels).numpy()
    np.testing.assert_allclose(codes, expected, atol=1e-5)
    assert np.abs(codes - grey).max() > 0.05
