"""What each page of the autoencoder family shows, computed from its models: plain numbers and arrays.

The four pages (pages/autoencoders.py and its three siblings) are scripts of layout and words; the tensors stay
here. Each function gathers the numbers one figure, row or caption of a part needs, from the formulas of
vae_core.lessons.autoencoders.numbers, in the order the page used to compute them (so every number shown is the
same). Errors are squared errors ||x - x_hat||^2 per point or per image, as in `numbers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import Tensor

from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.toy_data import ToyManifold, grid_2d, manifold_normal

# --- 1. Undercomplete AE and PCA ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyReconstructions:
    """Part 1's toy figure: the linear and the non-linear AE's reconstructions beside PCA's line."""

    linear: np.ndarray  # (N, d) the linear AE's reconstruction of each point
    nonlinear: np.ndarray  # (N, d) the non-linear AE's reconstructions; with a 1-D code, its decoded curve
    pca_line: np.ndarray | None  # (2, d) the ends of PCA's line over the points (1-D code only)


@torch.no_grad()
def toy_reconstructions(points: Tensor, linear, nonlinear, code_dim: int) -> ToyReconstructions:
    """With a 1-D code: PCA's line, the linear AE's reconstructions and the non-linear AE's decoder run over a
    line of codes (L.decoded_curve); with a 2-D code (a 3-D manifold), both AEs' reconstructions."""
    if code_dim != 1:
        return ToyReconstructions(
            linear.reconstruct(points).numpy(), nonlinear.reconstruct(points).numpy(), pca_line=None
        )
    pca = L.fit_pca(points, 1)
    scores = pca.transform(points.double().numpy())
    line = pca.inverse_transform(np.array([[scores.min()], [scores.max()]]))
    return ToyReconstructions(
        linear.reconstruct(points).numpy(), L.decoded_curve(nonlinear, points).numpy(), pca_line=line
    )


@dataclass(frozen=True)
class ImageRow:
    """One row of digits: the images and each one's squared error against the originals."""

    images: Tensor  # (n, C, H, W)
    errors: list[float]  # one per image (0 for the originals themselves)


@torch.no_grad()
def pca_and_ae_rows(shown: Tensor, pca_k: PCA | L.PrincipalBasis, ae, k: int) -> dict[str, ImageRow]:
    """The originals, their PCA-k reconstructions and the AE's, by row label ("original", "PCA-k", "AE z = 2")."""
    rows = {"original": shown, f"PCA-{k}": L.pca_reconstruct(pca_k, shown), "AE z = 2": ae.reconstruct(shown)}
    return {label: ImageRow(row, L.squared_error(shown, row).tolist()) for label, row in rows.items()}


def row_images(rows: dict[str, ImageRow]) -> list[Tensor]:
    """Every image of the rows, row after row: the rows as one picture."""
    return [image for row in rows.values() for image in row.images]


@dataclass(frozen=True)
class PcaMeans:
    """Mean squared error over the test images of PCA-k, PCA-2 and the 2-D autoencoder."""

    pca_k: float
    pca_2: float
    ae: float


def pca_and_ae_means(images: Tensor, pca_k: PCA | L.PrincipalBasis, pca_2: PCA | L.PrincipalBasis, ae) -> PcaMeans:
    """The test means of part 1's image metrics."""
    return PcaMeans(
        pca_k=L.squared_error(images, L.pca_reconstruct(pca_k, images)).mean().item(),
        pca_2=L.squared_error(images, L.pca_reconstruct(pca_2, images)).mean().item(),
        ae=L.reconstruction_errors(ae, images).mean().item(),
    )


# --- 2. Sparse AE -------------------------------------------------------------------------------------------

KL_CURVE_POINTS = 500  # the penalty curve's values of rho_hat, over (0.001, 0.999)


@dataclass(frozen=True)
class KlPenaltyCurve:
    """KL(rho || rho_hat) of one unit against its average activation rho_hat, for a target rho."""

    rho_hat: np.ndarray  # (KL_CURVE_POINTS,)
    kl: np.ndarray  # (KL_CURVE_POINTS,) in nats
    at_half: float  # the cost of a unit that is on half the time (rho_hat = 0.5), nats


def kl_penalty_curve(rho: float) -> KlPenaltyCurve:
    """The sparse part's penalty curve (Ng's notes), in float64."""
    rho_hat = torch.linspace(0.001, 0.999, KL_CURVE_POINTS, dtype=torch.float64)
    half = L.bernoulli_kl(rho, torch.tensor([0.5], dtype=torch.float64)).item()
    return KlPenaltyCurve(rho_hat.numpy(), L.bernoulli_kl(rho, rho_hat).numpy(), half)


@dataclass(frozen=True)
class UnitsOfOneImage:
    """The hidden layer's activations for one image and the fraction of its units above a threshold."""

    activations: np.ndarray  # (units,)
    fraction_on: float


def units_of_one_image(model, image: Tensor, threshold: float) -> UnitsOfOneImage:
    """A wide model's hidden units for one image (shaped (1, C, H, W))."""
    values = L.hidden_activations(model, image)[0]
    return UnitsOfOneImage(values.numpy(), L.fraction_on(values.unsqueeze(0), threshold).item())


# --- 3. Denoising AE ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DenoisingField:
    """The DAE's vector field r(x~) - x~ on a grid over the toy data, and how much of it points back."""

    grid: np.ndarray  # (steps², 2) the grid points
    field: np.ndarray  # (steps², 2) the arrow at each
    near: float  # 2 sigma: "near the curve" is closer than this
    far: float  # 4 sigma: "far from the curve" is farther than this
    near_fraction: float  # arrows within 45 degrees of the way back, near the curve (nan: no grid point there)
    far_fraction: float  # the same, far from it
    median_length_near: float  # arrow lengths near the curve (nan: none)
    median_length_elsewhere: float


def denoising_field(model, toy: ToyManifold, steps: int, noise: float) -> DenoisingField:
    """The field of a DAE trained with corruption std `noise` on a steps x steps grid (Alain & Bengio 2014)."""
    grid = grid_2d(toy.points, steps=steps)
    field = L.reconstruction_field(model, grid)
    alignment = L.field_alignment(field, grid, toy.clean)
    near, far = 2 * noise, 4 * noise
    lengths = field.norm(dim=1)
    near_mask = alignment.distance < near
    return DenoisingField(
        grid=grid.numpy(),
        field=field.detach().numpy(),
        near=near,
        far=far,
        near_fraction=alignment.fraction_pointing_back(max_distance=near),
        far_fraction=alignment.fraction_pointing_back(min_distance=far),
        median_length_near=lengths[near_mask].median().item() if near_mask.any() else float("nan"),
        median_length_elsewhere=lengths[~near_mask].median().item() if (~near_mask).any() else float("nan"),
    )


def image_batch(grey: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """One prepared image (an upload or a drawing, values in [0, 1]) as a batch of one, shaped (1, *shape)."""
    return torch.from_numpy(grey).reshape(1, *shape)


@dataclass(frozen=True)
class Denoised:
    """A clean image, its noisy copy and both models' outputs, each with its squared error against the clean one."""

    clean: Tensor  # (1, C, H, W)
    outputs: dict[str, Tensor]  # "noisy input", "DAE output", "plain AE output" -> (1, C, H, W)
    errors: dict[str, float]  # the same labels -> ||clean - output||^2


@torch.no_grad()
def denoise(clean: Tensor, kind: str, level: float, seed: int, dae, ae) -> Denoised:
    """Corrupt `clean` (kind, level, seed as L.corrupt), then reconstruct the noisy copy with the DAE and the AE."""
    noisy = L.corrupt(clean, kind, level, seed=seed)
    outputs = {"noisy input": noisy, "DAE output": dae.reconstruct(noisy), "plain AE output": ae.reconstruct(noisy)}
    return Denoised(clean, outputs, {label: L.squared_error(clean, out).item() for label, out in outputs.items()})


# --- 4. Contractive AE --------------------------------------------------------------------------------------


def jacobian_norm_sq(model, image: Tensor) -> float:
    """||J_f(x)||_F^2 of the model's code at one image (shaped (1, C, H, W)), computed exactly."""
    return L.jacobian_norms_sq(model.embed, image).item()


MAX_OFFSET, N_OFFSETS = 0.3, 31  # the moves s of the response curves: 31 values from -0.3 to 0.3


@dataclass(frozen=True)
class CurveResponse:
    """How two toy autoencoders' reconstructions follow moves along and across the curve."""

    slopes: dict[str, L.AlongAcross]  # model label -> mean slope along and across, over the curve
    offsets: np.ndarray  # the moves s
    profiles: dict[str, np.ndarray]  # "<label>, across" and "<label>, along" -> the response at each s


def curve_slopes(models: Mapping[str, object], toy: ToyManifold) -> dict[str, L.AlongAcross]:
    """Each model's mean slope along and across the curve, over all its clean points."""
    normal = manifold_normal(toy)
    return {label: L.along_across(model, toy.clean, toy.tangent, normal) for label, model in models.items()}


def curve_response(
    models: dict[str, object],
    toy: ToyManifold,
    position: int,
    slopes: dict[str, L.AlongAcross] | None = None,
) -> CurveResponse:
    """Slopes over the whole curve (curve_slopes, unless given: they do not depend on the position), and the
    response curves at the point `position`-th by the coordinate t."""
    normal = manifold_normal(toy)
    slopes = curve_slopes(models, toy) if slopes is None else slopes
    i = int(toy.t.argsort()[min(position, len(toy) - 1)])
    offsets = torch.linspace(-MAX_OFFSET, MAX_OFFSET, N_OFFSETS)
    across = {
        f"{label}, across": L.response_profile(model, toy.clean[i], normal[i], offsets).numpy()
        for label, model in models.items()
    }
    along = {
        f"{label}, along": L.response_profile(model, toy.clean[i], toy.tangent[i], offsets).numpy()
        for label, model in models.items()
    }
    return CurveResponse(slopes, offsets.numpy(), {**across, **along})
