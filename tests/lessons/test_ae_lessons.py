"""vae_core.lessons.autoencoders.numbers: each number of the autoencoder lesson against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from torch.distributions import Bernoulli, kl_divergence

from vae_core.engine.config import ModelConfig
from vae_core.engine.models import build_model
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.toy_data import make_toy_manifold, manifold_normal
from vae_core.lessons.autoencoders.toy_models import ToyAutoencoder, ToyTrainSpec, train_toy_autoencoder


@pytest.fixture(scope="module")
def curve():
    return make_toy_manifold("curve", n_points=300, noise=0.05, seed=0)


@pytest.fixture(scope="module")
def linear_fit(curve):
    return train_toy_autoencoder(curve.points, ToyTrainSpec(kind="linear", code_dim=1, steps=1500))


@pytest.fixture(scope="module")
def nonlinear_fit(curve):
    return train_toy_autoencoder(curve.points, ToyTrainSpec(kind="ae", code_dim=1, hidden=32, steps=800))


def image_model(kind: str = "ae", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    values = {"kind": kind, "input_shape": (1, 8, 8), "latent_dim": 3, "hidden_dims": (16,)}
    values.update(overrides)
    return build_model(ModelConfig(**values)).eval()


def images(n: int = 10, seed: int = 1) -> torch.Tensor:
    return torch.rand((n, 1, 8, 8), generator=torch.Generator().manual_seed(seed))


# --- 1. PCA and the linear AE -------------------------------------------------------------------------------


def test_principal_angles_of_known_lines_and_planes():
    degrees = math.radians(30)
    line_a = np.array([[1.0], [0.0]])
    line_b = np.array([[-2 * math.cos(degrees)], [-2 * math.sin(degrees)]])  # scale and sign do not matter
    assert L.principal_angles_degrees(line_a, line_b) == pytest.approx([30.0])
    plane_xy = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    plane_tilted = np.array([[1.0, 0.0], [0.0, math.cos(degrees)], [0.0, math.sin(degrees)]])
    assert L.principal_angles_degrees(plane_xy, plane_tilted) == pytest.approx([30.0, 0.0], abs=1e-6)


def test_pca_reconstruction_error_is_the_discarded_variance():
    data = make_toy_manifold("swiss-roll", 400, noise=0.1, seed=3).points
    pca = L.fit_pca(data, 2)
    error = L.squared_error(data, L.pca_reconstruct(pca, data)).mean().item()
    centred = data.double().numpy() - data.double().numpy().mean(0)
    eigenvalues = np.linalg.eigvalsh(centred.T @ centred / len(centred))  # ascending
    assert error == pytest.approx(eigenvalues[0], rel=1e-5)


def test_linear_autoencoder_spans_scikit_learns_pca_subspace(curve, linear_fit):
    pca = PCA(n_components=1).fit(curve.points.numpy())
    direction = linear_fit.model.decoder_directions[:, 0].double().numpy()
    direction /= np.linalg.norm(direction)
    axis = pca.components_[0]
    # The angle between two lines from the part of one that is orthogonal to the other (well conditioned).
    sine = np.linalg.norm(direction - (direction @ axis) * axis)
    comparison = L.compare_with_pca(curve.points, linear_fit.model, None)
    assert comparison.largest_angle_deg == pytest.approx(math.degrees(math.asin(sine)), abs=1e-4)
    assert comparison.largest_angle_deg < 0.5
    # PCA is the best rank-1 affine reconstruction: the linear AE can only match it.
    assert comparison.linear_error == pytest.approx(comparison.pca_error, rel=1e-3)
    assert comparison.linear_error >= comparison.pca_error * (1 - 1e-5)
    assert comparison.nonlinear_error is None


def test_nonlinear_autoencoder_follows_the_curve_with_a_lower_error(curve, linear_fit, nonlinear_fit):
    comparison = L.compare_with_pca(curve.points, linear_fit.model, nonlinear_fit.model)
    assert comparison.nonlinear_error < 0.5 * comparison.pca_error
    learned = L.decoded_curve(nonlinear_fit.model, curve.points, steps=100)
    assert learned.shape == (100, 2)
    distance_to_curve = torch.cdist(learned, curve.clean).min(1).values
    assert distance_to_curve.median() < 0.1  # the decoded line lies on the S-curve, not on PCA's line
    with pytest.raises(ValueError, match="1-D code"):
        L.decoded_curve(ToyAutoencoder(2, 2), curve.points)


def test_reconstruction_errors_per_image():
    model, x = image_model(), images(7)
    expected = ((x - model.reconstruct(x)) ** 2).sum((1, 2, 3))
    assert torch.allclose(L.reconstruction_errors(model, x, batch_size=3), expected.detach(), atol=1e-5)


# --- 2. Sparsity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.05, 0.3])
def test_bernoulli_kl_matches_torch_distributions(rho):
    rho_hat = torch.tensor([0.01, 0.05, 0.2, 0.5, 0.9], dtype=torch.float64)
    expected = kl_divergence(Bernoulli(probs=torch.full_like(rho_hat, rho)), Bernoulli(probs=rho_hat))
    assert torch.allclose(L.bernoulli_kl(rho, rho_hat), expected, atol=1e-10)
    assert L.bernoulli_kl(rho, torch.tensor([rho])).abs().item() < 1e-7  # zero at rho


def test_kl_and_l1_penalties_by_hand():
    activations = torch.tensor([[0.1, 0.9, 0.0], [0.3, 0.5, 0.2]])
    rho = 0.1
    rho_hat = [0.2, 0.7, 0.1]
    direct = sum(rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r)) for r in rho_hat)
    assert L.kl_sparsity(activations, rho).item() == pytest.approx(direct, rel=1e-5)
    assert L.l1_sparsity(activations).item() == pytest.approx((1.0 + 1.0) / 2)


def test_hidden_activations_are_the_layer_the_sparse_penalty_sees():
    model, x = image_model("sae", sparsity="kl"), images()
    hidden = L.hidden_activations(model, x)
    assert torch.equal(hidden, model(x).hidden.detach())
    assert hidden.min() > 0 and hidden.max() < 1  # the KL form puts a sigmoid there
    threshold = 0.5
    counted = np.array([(row > threshold).sum() / row.size for row in hidden.numpy()])
    assert np.allclose(L.fraction_on(hidden, threshold).numpy(), counted)
    assert torch.allclose(L.mean_activations(model, x, batch_size=3), hidden.mean(0), atol=1e-6)


# --- 3. Denoising -------------------------------------------------------------------------------------------


def test_gaussian_corruption_is_seeded_clipped_and_has_its_std():
    clean = torch.full((200, 1, 8, 8), 0.5)
    noisy = L.corrupt(clean, "gaussian", 0.1, seed=4)
    assert torch.equal(noisy, L.corrupt(clean, "gaussian", 0.1, seed=4))
    assert not torch.equal(noisy, L.corrupt(clean, "gaussian", 0.1, seed=5))
    assert (noisy - clean).std().item() == pytest.approx(0.1, rel=0.03)  # 5 sigma from the clip
    assert L.corrupt(clean, "gaussian", 5.0).min() >= 0 and L.corrupt(clean, "gaussian", 5.0).max() <= 1
    assert torch.equal(L.corrupt(clean, "gaussian", 0.0), clean)


def test_mask_corruption_zeroes_the_requested_fraction():
    clean = torch.full((200, 1, 8, 8), 0.7)
    noisy = L.corrupt(clean, "mask", 0.25, seed=1)
    assert (noisy == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.all((noisy == 0) | (noisy == clean))
    with pytest.raises(ValueError, match="noise level"):
        L.corrupt(clean, "mask", 1.5)
    with pytest.raises(ValueError, match="noise kind"):
        L.corrupt(clean, "salt", 0.1)


class Identity:
    def reconstruct(self, x):
        return x


def test_denoising_curve_against_direct_errors():
    model, clean = image_model("dae"), images(12)
    levels = (0.0, 0.2, 0.5)
    curve = L.denoising_curve({"dae": model, "identity": Identity()}, clean, "gaussian", levels, seed=3)
    for i, level in enumerate(levels):
        noisy = L.corrupt(clean, "gaussian", level, seed=3)
        direct = ((clean - model.reconstruct(noisy)) ** 2).sum((1, 2, 3)).mean().item()
        assert curve.model_errors["dae"][i] == pytest.approx(direct, rel=1e-6)
        assert curve.input_errors[i] == pytest.approx(((clean - noisy) ** 2).sum((1, 2, 3)).mean().item())
    assert curve.model_errors["identity"] == curve.input_errors  # a model that returns its input
    assert curve.input_errors[0] == 0.0 and curve.n_images == 12


def test_reconstruction_field_is_output_minus_input():
    model = ToyAutoencoder(2, 1, hidden=8)
    grid = torch.randn(9, 2)
    assert torch.allclose(L.reconstruction_field(model, grid), (model(grid) - grid).detach())


# --- 4. Contraction -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ae", "cae"])
def test_jacobian_norms_match_autograd_functional_jacobian(kind):
    model, x = image_model(kind), images(5)
    got = L.jacobian_norms_sq(model.embed, x, batch_size=2)
    for i in range(5):
        jacobian = torch.autograd.functional.jacobian(lambda xi: model.embed(xi.unsqueeze(0))[0], x[i])
        assert got[i].item() == pytest.approx(jacobian.pow(2).sum().item(), rel=1e-5)
    # and against torch.func, one more independent route
    per_image = torch.func.vmap(torch.func.jacrev(lambda xi: model.embed(xi.unsqueeze(0))[0]))(x)
    assert torch.allclose(got, per_image.pow(2).flatten(1).sum(1), rtol=1e-5)


def test_jacobian_norms_of_a_toy_encoder(curve):
    model = ToyAutoencoder(2, 1, hidden=8)
    x = curve.points[:4]
    got = L.jacobian_norms_sq(model.embed, x)
    for i in range(4):
        jacobian = torch.autograd.functional.jacobian(model.embed, x[i : i + 1])
        assert got[i].item() == pytest.approx(jacobian.pow(2).sum().item(), rel=1e-5)


def test_code_displacement_of_a_scaled_rotation_is_exact():
    angle = 0.4
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    embed = lambda x: 3.0 * x @ rotation.T
    x = torch.randn(20, 2)
    assert torch.allclose(L.code_displacement(embed, x, epsilon=0.01), torch.full((20,), 0.03), atol=1e-5)
    # ||J||_F^2 = 9 * 2 for this map, whatever x
    assert torch.allclose(L.jacobian_norms_sq(embed, x), torch.full((20,), 18.0), atol=1e-4)


def test_code_spread_and_summary():
    model, x = image_model(), images(30)
    codes = model.embed(x).detach().double().numpy()
    assert L.code_spread(model.embed, x) == pytest.approx(math.sqrt(codes.var(0, ddof=1).sum()), rel=1e-6)
    summary = L.contraction_summary(model.embed, x, epsilon=0.1)
    norms = L.jacobian_norms_sq(model.embed, x)
    assert summary.jacobian_sq_mean == pytest.approx(norms.mean().item())
    assert summary.relative_displacement == pytest.approx(summary.displacement_mean / summary.code_spread)
    # small perturbations: E||J u|| is at most ||J||_F / sqrt(input size) (Jensen), times epsilon
    bound = 0.1 * norms.sqrt().mean().item() / math.sqrt(64)
    assert summary.displacement_mean <= bound * 1.05


def test_directional_sensitivity_against_finite_differences(curve):
    model = ToyAutoencoder(2, 1, hidden=8)
    points, normal = curve.clean[:5], manifold_normal(curve)[:5]
    got = L.directional_sensitivity(model.reconstruct, points, normal)
    h = 1e-3
    with torch.no_grad():
        finite = (model.reconstruct(points + h * normal) - model.reconstruct(points - h * normal)) / (2 * h)
    assert torch.allclose(got, finite.norm(dim=1), rtol=1e-2, atol=1e-4)


def test_field_alignment_of_a_field_that_points_to_the_nearest_point():
    manifold_points = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    inputs = torch.tensor([[0.0, 0.5], [1.0, -2.0], [0.2, 0.0]])
    toward = torch.tensor([[0.0, -1.0], [0.0, 1.0], [1.0, 0.0]])  # the last one points away
    alignment = L.field_alignment(toward, inputs, manifold_points)
    assert torch.allclose(alignment.distance, torch.tensor([0.5, 2.0, 0.2]))
    assert torch.allclose(alignment.cosine, torch.tensor([1.0, 1.0, -1.0]))
    assert alignment.fraction_pointing_back() == pytest.approx(2 / 3)
    assert alignment.fraction_pointing_back(max_distance=1.0) == pytest.approx(0.5)
    assert alignment.fraction_pointing_back(min_distance=1.0) == 1.0
    assert math.isnan(alignment.fraction_pointing_back(min_distance=5.0))


class Projection:
    """r(x) = (x . u) u: follows moves along u fully and ignores moves across it."""

    def __init__(self, u):
        self.u = u

    def reconstruct(self, x):
        return (x @ self.u).unsqueeze(1) * self.u


def test_along_across_and_response_profile_of_a_projection():
    u, n = torch.tensor([0.6, 0.8]), torch.tensor([-0.8, 0.6])
    model = Projection(u)
    points = torch.randn(6, 2)
    result = L.along_across(model, points, u.expand(6, 2), n.expand(6, 2))
    assert result.along == pytest.approx(1.0, abs=1e-6) and result.across == pytest.approx(0.0, abs=1e-6)
    offsets = torch.linspace(-1, 1, 5)
    assert torch.allclose(L.response_profile(model, points[0], u * 3, offsets), offsets, atol=1e-6)
    assert torch.allclose(L.response_profile(model, points[0], n, offsets), torch.zeros(5), atol=1e-6)
