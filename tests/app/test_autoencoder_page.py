"""AppTest of the autoencoder-family page (offline: toy data and digits): the key numbers it shows against
independent computations on the same models (scikit-learn's PCA, numpy counts, direct squared errors,
torch.func / torch.autograd Jacobians, finite differences).

The pages load their shipped toy and digits models (ae_lesson_env) and keep them in ui.state.autoencoder_lesson's
store; the tests take the same objects from there.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from sklearn.decomposition import PCA

from ui.shell.lessons import LESSONS
from ui.state import autoencoder_lesson as state
from vae_core.engine.data import load_dataset
from vae_core.engine.vocabulary import UNIT_ON_ACTIVATION
from vae_core.lessons.autoencoders.lesson_models import (
    GAUSSIAN_LEVELS,
    MASK_LEVELS,
    PERTURBATION_NORM,
    TOY_SPECS,
    ToySettings,
)
from vae_core.lessons.autoencoders.numbers import corrupt
from vae_core.lessons.autoencoders.toy_data import manifold_normal
from vae_core.serving.preprocess import preprocess_bytes

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"
# The family's four parts, one lesson each (ui.widgets.autoencoder_parts.PARTS).
SECTIONS = ("autoencoders", "sparse_autoencoders", "denoising_autoencoders", "contractive_autoencoders")
PAGE_TIMEOUT_S = 60  # the first run of a part loads its shipped models and data


@pytest.fixture
def open_part(ae_lesson_env, navigation_only):
    from streamlit.testing.v1 import AppTest

    def _open(section: str):
        at = AppTest.from_file(str(APP_FILE), default_timeout=PAGE_TIMEOUT_S)
        at.run()
        at.switch_page(LESSONS[section].script).run()
        assert not at.exception, at.exception
        return at

    return _open


def metric(at, label: str) -> str:
    (found,) = [m.value for m in at.metric if m.label == label]
    return found


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def chart(at, key: str) -> dict:
    (found,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == key]
    return found


def values(array_or_typed) -> np.ndarray:
    if isinstance(array_or_typed, dict) and "bdata" in array_or_typed:
        return np.frombuffer(base64.b64decode(array_or_typed["bdata"]), dtype=np.dtype(array_or_typed["dtype"]))
    return np.asarray(array_or_typed, dtype=float)


def digits_test() -> torch.Tensor:
    return load_dataset("digits", "test").images


def test_pca_part_shows_the_angle_and_errors_scikit_learn_gives(open_part):
    at = open_part(SECTIONS[0])
    settings = ToySettings()
    toy = state.toy_manifold(settings)
    linear = state.toy_fit(settings, TOY_SPECS["linear"]).model
    points = toy.points.double().numpy()
    pca = PCA(n_components=1).fit(points)
    direction = linear.decoder.weight.detach().double().numpy()[:, 0]
    direction /= np.linalg.norm(direction)
    sine = np.linalg.norm(direction - (direction @ pca.components_[0]) * pca.components_[0])
    assert metric(at, "Angle, PCA vs linear AE") == f"{math.degrees(math.asin(sine)):.3f}°"
    pca_error = ((points - pca.inverse_transform(pca.transform(points))) ** 2).sum(1).mean()
    assert metric(at, "PCA-1 error") == f"{pca_error:.4f}"
    nonlinear = state.toy_fit(settings, TOY_SPECS["nonlinear"]).model
    with torch.no_grad():
        nonlinear_error = ((toy.points - nonlinear.reconstruct(toy.points)) ** 2).sum(1).mean().item()
    assert metric(at, "Non-linear AE error") == f"{nonlinear_error:.4f}"
    assert nonlinear_error < pca_error and "the same subspace" in captions(at)
    # MNIST's stand-in offline: PCA-2 on digits against the 2-D autoencoder, same unit
    test = digits_test().flatten(1).double().numpy()
    pca_2 = PCA(n_components=2).fit(load_dataset("digits", "train").images.flatten(1).double().numpy())
    pca_2_error = ((test - pca_2.inverse_transform(pca_2.transform(test))) ** 2).sum(1).mean()
    assert metric(at, "PCA-2 error (test mean)") == f"{pca_2_error:.2f}"
    assert len(chart(at, "ae_pca_chart")["data"]) >= 4
    assert "move k to 16" in captions(at)
    at.slider(key="ae_pca_k").set_value(16).run()
    assert float(metric(at, "PCA-16 error (test mean)")) < pca_2_error
    assert "move k to 16" not in captions(at), "the caption asks for the k already shown"


def test_sparse_part_shows_the_fractions_a_direct_count_gives(open_part):
    at = open_part(SECTIONS[1])
    test = digits_test()
    sparse = state.lesson_model("digits", "sparse")
    dense = state.lesson_model("digits", "dense")
    with torch.no_grad():
        sparse_acts = sparse.encoder(test).numpy()
        dense_acts = dense.encoder(test).numpy()
    assert metric(at, "This digit, KL penalty") == f"{(sparse_acts[0] > UNIT_ON_ACTIVATION).mean():.1%}"
    assert metric(at, "Test mean, KL penalty") == f"{(sparse_acts > UNIT_ON_ACTIVATION).mean():.1%}"
    assert metric(at, "Test mean, no penalty") == f"{(dense_acts > UNIT_ON_ACTIVATION).mean():.1%}"
    assert (sparse_acts > UNIT_ON_ACTIVATION).mean() < 0.5 * (dense_acts > UNIT_ON_ACTIVATION).mean()
    bars = chart(at, "ae_sparse_bars")["data"]
    assert np.allclose(values(bars[1]["y"]), sparse_acts[0], atol=1e-6)
    histogram = chart(at, "ae_sparse_hist")["data"]
    assert values(histogram[1]["y"]).sum() == sparse_acts.shape[1]  # one count per unit
    assert f"mean {sparse_acts.mean(0).mean():.3f}" in captions(at)
    at.slider(key="ae_sparse_threshold").set_value(0.5).run()
    assert metric(at, "Test mean, KL penalty") == f"{(sparse_acts > 0.5).mean():.1%}"


def test_denoising_part_shows_the_errors_against_the_clean_digits(open_part):
    at = open_part(SECTIONS[2])
    test = digits_test()
    ae = state.lesson_model("digits", "ae")
    dae = state.lesson_model("digits", "dae")
    level = GAUSSIAN_LEVELS[3]
    noisy = corrupt(test, "gaussian", level, seed=0)
    with torch.no_grad():
        dae_error = ((test - dae.reconstruct(noisy)) ** 2).sum((1, 2, 3)).mean().item()
        ae_error = ((test - ae.reconstruct(noisy)) ** 2).sum((1, 2, 3)).mean().item()
    text = captions(at)
    assert f"the DAE's mean error is {dae_error:.2f} and the plain AE's {ae_error:.2f}" in text
    # the example digit (test image 0, its own noise draw with seed 0) is called typical only if it is
    with torch.no_grad():
        per_image_dae = ((test - dae.reconstruct(noisy)) ** 2).sum((1, 2, 3))
        per_image_ae = ((test - ae.reconstruct(noisy)) ** 2).sum((1, 2, 3))
        example = corrupt(test[:1], "gaussian", level, seed=0)
        example_dae = ((test[:1] - dae.reconstruct(example)) ** 2).sum().item()
        example_ae = ((test[:1] - ae.reconstruct(example)) ** 2).sum().item()
    share = (per_image_dae < per_image_ae).double().mean().item()
    assert f"the DAE has the lower error on {share:.0%} of the {len(test)} test images" in text
    typical = (example_dae < example_ae) == (share >= 0.5)
    assert ("so this digit is a typical example." in text) == typical, (example_dae, example_ae, share)
    assert ("so this digit is **not a typical example**." in text) == (not typical)
    curve = chart(at, "ae_dae_curve")["data"]
    assert [trace["name"] for trace in curve] == ["plain AE", "DAE", "noisy input"]
    assert values(curve[1]["y"])[3] == pytest.approx(dae_error, rel=1e-5)
    input_errors = [
        ((test - corrupt(test, "gaussian", lv, seed=0)) ** 2).sum((1, 2, 3)).mean().item() for lv in GAUSSIAN_LEVELS
    ]
    assert np.allclose(values(curve[2]["y"]), input_errors, rtol=1e-5)
    # the toy field's arrows near the curve point back to it
    near = metric(at, f"Arrows pointing back (within 45°), closer than {2 * TOY_SPECS['dae'].noise:g}")
    assert int(near.rstrip("%")) >= 75
    at.radio(key="ae_dae_kind").set_value("mask").run()
    curve = chart(at, "ae_dae_curve")["data"]
    assert len(values(curve[0]["y"])) == len(MASK_LEVELS)


def test_contractive_part_shows_the_jacobian_norms_autograd_gives(open_part):
    at = open_part(SECTIONS[3])
    test = digits_test()
    for exhibit, label in (("ae", "plain AE"), ("cae", "CAE")):
        model = state.lesson_model("digits", exhibit)
        per_image = torch.func.vmap(torch.func.jacrev(lambda x, m=model: m.embed(x.unsqueeze(0))[0]))(test)
        norms = per_image.pow(2).flatten(1).sum(1)
        assert float(metric(at, f"Test mean ‖J‖², {label}")) == pytest.approx(norms.mean().item(), abs=0.006)
        first = torch.autograd.functional.jacobian(lambda x, m=model: m.embed(x.unsqueeze(0))[0], test[0])
        assert float(metric(at, f"‖J‖² this digit, {label}")) == pytest.approx(first.pow(2).sum().item(), abs=0.006)
    assert float(metric(at, "Test mean ‖J‖², CAE")) < float(metric(at, "Test mean ‖J‖², plain AE"))
    assert f"norm {PERTURBATION_NORM:g} moves" in captions(at)
    # the toy curve: slopes of the reconstruction across the manifold, by central differences
    settings = ToySettings()
    toy = state.toy_manifold(settings)
    normal = manifold_normal(toy)
    h = 1e-3
    for spec, label in ((TOY_SPECS["plain-2d"], "Plain AE"), (TOY_SPECS["cae"], "CAE")):
        model = state.toy_fit(settings, spec).model
        with torch.no_grad():
            slope = (model.reconstruct(toy.clean + h * normal) - model.reconstruct(toy.clean - h * normal)) / (2 * h)
        assert float(metric(at, f"{label}: slope across")) == pytest.approx(slope.norm(dim=1).mean().item(), abs=0.006)
    assert float(metric(at, "CAE: slope across")) < float(metric(at, "Plain AE: slope across"))
    # the legend stays clear of the x-axis title: pinned to the figure's bottom, below a margin that holds the title
    for key in ("ae_cae_hist", "ae_cae_response"):
        layout = chart(at, key)["layout"]
        assert layout["xaxis"]["title"]["text"], key
        legend = layout["legend"]
        assert (legend["yref"], legend["yanchor"], legend["y"]) == ("container", "bottom", 0), key
        assert layout["margin"]["b"] >= 90, key
    assert re.search(r"flatter across the manifold than along it", captions(at))


def test_the_part_picker_opens_another_part_at_its_own_address(open_part):
    at = open_part(SECTIONS[0])
    picker = at.segmented_control(key="ae_part_autoencoders")
    assert picker.options == ["1 · Undercomplete AE and PCA", "2 · Sparse AE", "3 · Denoising AE", "4 · Contractive AE"]
    picker.set_value(picker.options[1]).run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="ae_part_sparse_autoencoders").value == picker.options[1]
    assert [w.key for w in at.slider if w.key.startswith("ae_sparse")] == ["ae_sparse_rho", "ae_sparse_threshold"]
    assert not [w for w in at.slider if w.key == "ae_pca_k"]


def test_denoising_an_upload_measures_it_against_its_own_clean_version(open_part):
    """The noise slider works on your own image too: the errors shown are against the prepared upload."""
    at = open_part(SECTIONS[2])
    at.toggle(key="ae_dae_own").set_value(True).run()
    at.radio(key="ae_dae_own_source").set_value("upload").run()
    png = seven_png()
    at.file_uploader(key="ae_dae_own_upload").upload("seven.png", png, "image/png").run()
    assert not at.exception, at.exception
    clean = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 1, 8, 8)
    level = GAUSSIAN_LEVELS[3]
    noisy = corrupt(clean, "gaussian", level, seed=0)
    dae = state.lesson_model("digits", "dae")
    with torch.no_grad():
        dae_error = ((clean - dae.reconstruct(noisy)) ** 2).sum().item()
    input_error = ((clean - noisy) ** 2).sum().item()
    text = "\n".join(caption for image in at.image for caption in image.captions)
    assert f"noisy input: {input_error:.1f}" in text and f"DAE output: {dae_error:.1f}" in text
    assert "your upload" in captions(at) and "uses seed 0" in captions(at)


def seven_png(size: int = 280) -> bytes:
    """A 7 in dark ink on white paper, like a photo of a handwritten digit."""
    image = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(image)
    pen.line((60, 50, 220, 50), fill=0, width=22)
    pen.line((220, 50, 120, 250), fill=0, width=22)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
