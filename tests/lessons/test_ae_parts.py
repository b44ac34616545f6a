"""vae_core.lessons.autoencoders.parts: the numbers the autoencoder pages show, against direct computations.

Untrained toy models are enough here: the functions only gather numbers from the models they are given (the
trained models' numbers are checked on the pages, tests/app/test_autoencoder_page.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_core.lessons.autoencoders import parts
from vae_core.lessons.autoencoders.numbers import corrupt, fit_pca
from vae_core.lessons.autoencoders.toy_data import make_toy_manifold, manifold_normal
from vae_core.lessons.autoencoders.toy_models import ToyAutoencoder


def toy_model(code_dim: int, seed: int, linear: bool = False) -> ToyAutoencoder:
    torch.manual_seed(seed)
    return ToyAutoencoder(2, code_dim, hidden=8, linear=linear)


@pytest.fixture(scope="module")
def curve():
    return make_toy_manifold("curve", n_points=60, noise=0.05, seed=0)


def test_the_pca_line_spans_the_projections_of_the_points(curve):
    drawn = parts.toy_reconstructions(curve.points, toy_model(1, 0, linear=True), toy_model(1, 1), code_dim=1)
    pca = fit_pca(curve.points, 1)
    direction = pca.components_[0]
    ends = drawn.pca_line - pca.mean_
    # both ends lie on the principal axis, at the extreme projections of the points
    assert np.allclose(ends - np.outer(ends @ direction, direction), 0, atol=1e-9)
    projections = (curve.points.double().numpy() - pca.mean_) @ direction
    assert sorted(ends @ direction) == pytest.approx(sorted([projections.min(), projections.max()]))
    assert drawn.linear.shape == (60, 2)


def test_with_a_2d_code_both_models_reconstruct_the_points(curve):
    linear, nonlinear = toy_model(2, 0, linear=True), toy_model(2, 1)
    drawn = parts.toy_reconstructions(curve.points, linear, nonlinear, code_dim=2)
    with torch.no_grad():
        assert np.array_equal(drawn.nonlinear, nonlinear.reconstruct(curve.points).numpy())
    assert drawn.pca_line is None


def test_the_kl_penalty_curve_is_bernoullis_kl():
    curve = parts.kl_penalty_curve(0.05)
    assert curve.at_half == pytest.approx(0.05 * math.log(0.05 / 0.5) + 0.95 * math.log(0.95 / 0.5))
    assert curve.kl[np.argmin(np.abs(curve.rho_hat - 0.05))] < 1e-4 and (curve.kl >= 0).all()


def test_denoising_errors_are_against_the_clean_image():
    clean = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0))

    class Halves:  # a "model" whose reconstruction is half its input
        def reconstruct(self, x):
            return x / 2

    denoised = parts.denoise(clean, "gaussian", 0.3, seed=2, dae=Halves(), ae=Halves())
    noisy = corrupt(clean, "gaussian", 0.3, seed=2)
    assert denoised.errors["noisy input"] == pytest.approx(((clean - noisy) ** 2).sum().item())
    assert denoised.errors["DAE output"] == pytest.approx(((clean - noisy / 2) ** 2).sum().item())
    assert list(denoised.outputs) == ["noisy input", "DAE output", "plain AE output"]


def test_the_field_splits_its_arrows_by_distance(curve):
    arrows = parts.denoising_field(toy_model(2, 0), curve, steps=7, noise=0.2)
    assert arrows.grid.shape == arrows.field.shape == (49, 2)
    assert (arrows.near, arrows.far) == pytest.approx((0.4, 0.8))
    lengths = np.linalg.norm(arrows.field, axis=1)
    clean = curve.clean.double().numpy()
    distance = np.linalg.norm(arrows.grid[:, None, :] - clean[None, :, :], axis=2).min(1)

    def lower_middle(values: np.ndarray) -> float:  # torch's median: the lower of two middles
        return float(np.sort(values)[(len(values) - 1) // 2])

    assert arrows.median_length_near == pytest.approx(lower_middle(lengths[distance < 0.4]), rel=1e-5)
    assert arrows.median_length_elsewhere == pytest.approx(lower_middle(lengths[distance >= 0.4]), rel=1e-5)


def test_the_curve_response_is_taken_at_the_point_ranked_by_t(curve):
    models = {"plain AE": toy_model(2, 0), "CAE": toy_model(2, 1)}
    response = parts.curve_response(models, curve, position=10)
    i = int(curve.t.argsort()[10])
    normal = manifold_normal(curve)
    with torch.no_grad():
        moved = models["CAE"].reconstruct(curve.clean[i] + 0.3 * normal[i] / normal[i].norm())
        base = models["CAE"].reconstruct(curve.clean[i])
    expected = ((moved - base) * normal[i] / normal[i].norm()).sum().item()
    assert response.profiles["CAE, across"][-1] == pytest.approx(expected, abs=1e-6)
    assert list(response.profiles) == ["plain AE, across", "CAE, across", "plain AE, along", "CAE, along"]
    assert response.offsets[0] == pytest.approx(-0.3) and len(response.offsets) == 31
