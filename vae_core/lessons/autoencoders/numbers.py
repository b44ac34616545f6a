"""The numbers of the autoencoder-family lesson: PCA against the linear AE, sparsity, denoising, contraction.

Streamlit-free, so the page, the CLI-less checks in tests/ and a notebook all compute the same things.
Models are anything with `embed(x)` and `reconstruct(x)`: the image models of vae_core.engine.models (x shaped
(B, C, H, W)) and the toy models of vae_core.lessons.autoencoders.toy_models (x shaped (N, d)).

Units: every reconstruction or denoising error here is the squared error ||x - x_hat||^2 of one image
(summed over pixels, pixels in [0, 1]) or of one toy point, averaged over images or points. PCA has no
likelihood, so this is the one unit in which PCA, autoencoders and noisy inputs can stand side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from torch import Tensor

from vae_core.engine.models.autoencoders import bernoulli_kl, jacobian_frobenius_sq, kl_sparsity, l1_sparsity
from vae_core.lessons.autoencoders.toy_models import ToyAutoencoder, squared_error

# bernoulli_kl, kl_sparsity, l1_sparsity and squared_error are re-exported: every formula of the lesson here.
__all__ = [
    "NOISE_KINDS",
    "AlongAcross",
    "ContractionSummary",
    "DenoisingCurve",
    "FieldAlignment",
    "PrincipalBasis",
    "SubspaceComparison",
    "along_across",
    "bernoulli_kl",
    "code_displacement",
    "code_spread",
    "compare_with_pca",
    "contraction_summary",
    "corrupt",
    "decoded_curve",
    "denoising_curve",
    "directional_sensitivity",
    "field_alignment",
    "fit_pca",
    "fit_principal_basis",
    "fraction_on",
    "hidden_activations",
    "jacobian_norms_sq",
    "kl_sparsity",
    "l1_sparsity",
    "mean_activations",
    "pca_reconstruct",
    "principal_angles_degrees",
    "reconstruction_errors",
    "reconstruction_field",
    "response_profile",
    "squared_error",
]

Embed = Callable[[Tensor], Tensor]
NOISE_KINDS = ("gaussian", "mask")  # the DAE's two corruptions (ModelConfig.corruption)


# --- 1. Undercomplete autoencoders and PCA -----------------------------------------------------------------


def fit_pca(data: Tensor, n_components: int) -> PCA:
    """scikit-learn's PCA on rows of `data` (images are flattened), deterministic (full SVD)."""
    return PCA(n_components=n_components, svd_solver="full").fit(data.flatten(1).double().numpy())


@dataclass(frozen=True)
class PrincipalBasis:
    """The leading principal directions of a data set, fitted once: PCA-k for every k up to its size.

    PCA's components are nested (the top k of a full decomposition are PCA with k components, up to sign), so one
    fit serves every position of a k slider. transform / inverse_transform work as scikit-learn's PCA's do.
    """

    mean: np.ndarray  # (d,) float64
    components: np.ndarray  # (K, d) float64, orthonormal rows by decreasing variance
    explained_variance: np.ndarray  # (K,) the variance along each, unbiased (n - 1), as scikit-learn reports it

    def first(self, k: int) -> PrincipalBasis:
        if not 1 <= k <= len(self.components):
            raise ValueError(f"k must lie in 1..{len(self.components)}, got {k}")
        return PrincipalBasis(self.mean, self.components[:k], self.explained_variance[:k])

    @property
    def components_(self) -> np.ndarray:
        return self.components

    def transform(self, flat: np.ndarray) -> np.ndarray:
        return (flat - self.mean) @ self.components.T

    def inverse_transform(self, scores: np.ndarray) -> np.ndarray:
        return scores @ self.components + self.mean


def fit_principal_basis(data: Tensor, n_components: int) -> PrincipalBasis:
    """The top n_components principal directions of the rows of `data` (images are flattened), in float64.

    By the eigendecomposition of the d x d covariance rather than an SVD of the data: for 10 000 MNIST images a
    fraction of the time, and the same subspaces (scikit-learn's PCA is the independent check in the tests).
    """
    flat = data.flatten(1).double()
    mean = flat.mean(0)
    centred = flat - mean
    covariance = centred.T @ centred / (len(flat) - 1)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    order = torch.argsort(values, descending=True)[:n_components]
    return PrincipalBasis(mean.numpy(), vectors[:, order].T.contiguous().numpy(), values[order].numpy())


def pca_reconstruct(pca: PCA | PrincipalBasis, data: Tensor) -> Tensor:
    """Project onto the PCA subspace and back: the best rank-k affine reconstruction, shaped like data."""
    flat = data.flatten(1).double().numpy()
    return torch.from_numpy(pca.inverse_transform(pca.transform(flat))).to(data.dtype).reshape(data.shape)


def principal_angles_degrees(basis_a: np.ndarray | Tensor, basis_b: np.ndarray | Tensor) -> np.ndarray:
    """Principal angles between the column spaces of two (d, k) matrices, in degrees, largest first.

    0 degrees everywhere means the two span the same subspace (scipy.linalg.subspace_angles, Björck & Golub).
    """
    a = np.asarray(basis_a, dtype=np.float64)
    b = np.asarray(basis_b, dtype=np.float64)
    return np.degrees(subspace_angles(a, b))


@dataclass(frozen=True)
class SubspaceComparison:
    """PCA and autoencoders with the same bottleneck k on the same points, errors in one unit."""

    n_components: int
    angles_deg: np.ndarray  # principal angles between PCA's subspace and the linear AE's, largest first
    pca_error: float  # mean ||x - x_hat||^2 per point
    linear_error: float
    nonlinear_error: float | None  # None when no non-linear model was given

    @property
    def largest_angle_deg(self) -> float:
        return float(self.angles_deg.max())


def compare_with_pca(
    points: Tensor, linear: ToyAutoencoder, nonlinear: ToyAutoencoder | None = None
) -> SubspaceComparison:
    """Fit PCA with the linear AE's bottleneck size and compare subspaces and errors on `points`."""
    k = linear.code_dim
    pca = fit_pca(points, k)
    return SubspaceComparison(
        n_components=k,
        angles_deg=principal_angles_degrees(pca.components_.T, linear.decoder_directions),
        pca_error=float(squared_error(points, pca_reconstruct(pca, points)).mean()),
        linear_error=reconstruction_errors(linear, points).mean().item(),
        nonlinear_error=None if nonlinear is None else reconstruction_errors(nonlinear, points).mean().item(),
    )


@torch.no_grad()
def decoded_curve(model: ToyAutoencoder, points: Tensor, steps: int = 200) -> Tensor:
    """The manifold a 1-D-code model has learned: decode evenly spaced codes over the range of its codes.

    (steps, d), ordered by code.
    """
    if model.code_dim != 1:
        raise ValueError(f"decoded_curve needs a 1-D code, this model has {model.code_dim}")
    codes = model.embed(points)
    line = torch.linspace(float(codes.min()), float(codes.max()), steps).unsqueeze(1)
    return model.decode(line)


@torch.no_grad()
def reconstruction_errors(model, data: Tensor, batch_size: int = 1000) -> Tensor:
    """||x - r(x)||^2 per image or point, (N,)."""
    return torch.cat([squared_error(chunk, model.reconstruct(chunk)) for chunk in data.split(batch_size)])


# --- 2. Sparse autoencoders --------------------------------------------------------------------------------


@torch.no_grad()
def hidden_activations(model, images: Tensor) -> Tensor:
    """The encoder's last hidden layer for each image, (B, units): the layer a sparse AE's penalty acts on."""
    return model.encoder(images)


def fraction_on(activations: Tensor, threshold: float) -> Tensor:
    """Per image, the fraction of hidden units that are on: activation above `threshold`, (B,)
    (vae_core.engine.vocabulary.UNIT_ON_ACTIVATION is the lesson's default)."""
    return (activations > threshold).to(torch.float32).mean(1)


@torch.no_grad()
def mean_activations(model, images: Tensor, batch_size: int = 1000) -> Tensor:
    """rho_hat_j: each hidden unit's average activation over `images`, (units,)."""
    total: Tensor | None = None
    for chunk in images.split(batch_size):
        summed = hidden_activations(model, chunk).double().sum(0)
        total = summed if total is None else total + summed
    assert total is not None, "mean_activations needs at least one image"
    return (total / images.shape[0]).float()


# --- 3. Denoising autoencoders -----------------------------------------------------------------------------


def corrupt(images: Tensor, kind: str, level: float, seed: int = 0) -> Tensor:
    """The DAE's corruptions, seeded: gaussian adds N(0, level^2) per pixel and clips to [0, 1]; mask sets
    a random fraction `level` of the pixels to 0. Same arithmetic as DenoisingAutoencoder.corrupt.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
    if level < 0 or (kind == "mask" and level > 1):
        raise ValueError(f"noise level must lie in [0, {'1' if kind == 'mask' else 'inf'}), got {level}")
    generator = torch.Generator().manual_seed(seed)
    if kind == "gaussian":
        noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
        return (images + level * noise).clamp(0.0, 1.0)
    keep = torch.rand(images.shape, generator=generator) >= level
    return images * keep.to(images.dtype)


@dataclass(frozen=True)
class DenoisingCurve:
    """Mean ||clean - output||^2 per image against the noise level, for several models and the noisy input."""

    kind: str
    levels: tuple[float, ...]
    model_errors: dict[str, tuple[float, ...]]  # model label -> one mean error per level
    input_errors: tuple[float, ...]  # the corrupted input itself against the clean image (no model)
    n_images: int
    seed: int
    # model label -> one share per level: of the images, those on which this model's error is the lowest of all
    # models' (ties count for none), so a single example can be called typical or not
    lowest_share: dict[str, tuple[float, ...]] = field(default_factory=dict)


@torch.no_grad()
class Reconstructs(Protocol):
    """Anything denoising_curve can compare: a model, or a baseline such as the identity."""

    def reconstruct(self, x: Tensor) -> Tensor: ...


def denoising_curve(
    models: Mapping[str, Reconstructs], clean: Tensor, kind: str, levels: tuple[float, ...], seed: int = 0
) -> DenoisingCurve:
    """Corrupt `clean` at each level (the same noise draw for every model), reconstruct, compare with clean."""
    model_errors: dict[str, list[float]] = {label: [] for label in models}
    lowest: dict[str, list[float]] = {label: [] for label in models}
    input_errors = []
    for level in levels:
        noisy = corrupt(clean, kind, level, seed)
        input_errors.append(squared_error(clean, noisy).mean().item())
        per_image = {label: squared_error(clean, model.reconstruct(noisy)) for label, model in models.items()}
        for label, errors in per_image.items():
            model_errors[label].append(errors.mean().item())
            others = [e for other, e in per_image.items() if other != label]
            below_all = (
                torch.stack([errors < e for e in others]).all(0)
                if others
                else torch.ones_like(errors, dtype=torch.bool)
            )
            lowest[label].append(below_all.double().mean().item())
    return DenoisingCurve(
        kind,
        tuple(levels),
        {k: tuple(v) for k, v in model_errors.items()},
        tuple(input_errors),
        clean.shape[0],
        seed,
        {k: tuple(v) for k, v in lowest.items()},
    )


@torch.no_grad()
def reconstruction_field(model, inputs: Tensor) -> Tensor:
    """r(x~) - x~ at each input: for a DAE, an estimate of sigma^2 times the score d log p / dx (Alain &
    Bengio 2014), pointing back towards the data near it.
    """
    return model.reconstruct(inputs) - inputs


@dataclass(frozen=True)
class FieldAlignment:
    """How well a vector field points back to a manifold, split by distance from it."""

    distance: Tensor  # (N,) distance from each input to the nearest clean manifold point
    cosine: Tensor  # (N,) cosine between the field and the direction to that nearest point

    def fraction_pointing_back(
        self, max_distance: float | None = None, min_distance: float = 0.0, max_angle_deg: float = 45.0
    ) -> float:
        """Among inputs with min_distance <= distance < max_distance, the fraction whose arrow is within
        max_angle_deg of the direction to the manifold (nan when there are none)."""
        near = self.distance >= min_distance
        if max_distance is not None:
            near &= self.distance < max_distance
        if not bool(near.any()):
            return float("nan")
        return (self.cosine[near] > math.cos(math.radians(max_angle_deg))).float().mean().item()


def field_alignment(field: Tensor, inputs: Tensor, manifold_points: Tensor) -> FieldAlignment:
    """Compare each arrow field[i] at inputs[i] with the direction to the nearest of manifold_points."""
    distances = torch.cdist(inputs.double(), manifold_points.double())
    nearest = distances.argmin(1)
    to_manifold = manifold_points[nearest].double() - inputs.double()
    cosine = torch.nn.functional.cosine_similarity(field.double(), to_manifold, dim=1, eps=1e-12)
    return FieldAlignment(distances.min(1).values.float(), cosine.float())


# --- 4. Contractive autoencoders ---------------------------------------------------------------------------


def jacobian_norms_sq(embed: Embed, inputs: Tensor, batch_size: int = 500) -> Tensor:
    """||J_f(x)||_F^2 = sum_ij (d f_i / d x_j)^2 of the code f(x) = embed(x) for each input, (N,).

    Exact: one backward pass per code dimension over a whole batch (inputs do not interact). The CAE's
    penalty is its contractive weight times the batch mean of this.
    """
    out = []
    for chunk in inputs.split(batch_size):
        with torch.enable_grad():
            x = chunk.detach().clone().requires_grad_(True)
            out.append(jacobian_frobenius_sq(embed(x), x, create_graph=False).detach())
    return torch.cat(out)


@torch.no_grad()
def code_displacement(embed: Embed, inputs: Tensor, epsilon: float, n_draws: int = 8, seed: int = 0) -> Tensor:
    """Mean over n_draws of ||f(x + epsilon u) - f(x)|| per input, u a uniformly random unit direction, (N,).

    The perturbation has norm exactly epsilon (in input units; for images, of the whole image); it is not
    clipped to [0, 1], since the question is how the encoder moves, not what images look like. For small
    epsilon this is about epsilon * ||J_f(x)||_F / sqrt(D) (D the input size).
    """
    generator = torch.Generator().manual_seed(seed)
    base = embed(inputs)
    total = torch.zeros(inputs.shape[0])
    for _ in range(n_draws):
        direction = torch.randn(inputs.shape, generator=generator)
        direction = direction / direction.flatten(1).norm(dim=1).view(-1, *([1] * (inputs.dim() - 1)))
        total += (embed(inputs + epsilon * direction) - base).norm(dim=1)
    return total / n_draws


@torch.no_grad()
def code_spread(embed: Embed, inputs: Tensor) -> float:
    """sqrt of the total variance of the codes over `inputs`: the scale of the code space.

    An encoder can lower its Jacobian by shrinking every code (a decoder that scales them back up costs
    nothing), so contraction is only meaningful relative to this scale.
    """
    codes = embed(inputs).double()
    return math.sqrt(float(codes.var(0).sum()))


def directional_sensitivity(function: Embed, points: Tensor, directions: Tensor) -> Tensor:
    """||J_function(x) v|| per point for unit directions v (N, d): how fast the output moves along v."""
    tangent_out = torch.func.jvp(function, (points.detach(),), (directions.detach(),))[1]
    return tangent_out.flatten(1).norm(dim=1).detach()


@dataclass(frozen=True)
class ContractionSummary:
    """One encoder's contraction over a set of inputs."""

    jacobian_sq_mean: float  # mean ||J_f(x)||_F^2
    jacobian_sq_median: float
    code_spread: float  # sqrt(total code variance)
    displacement_mean: float  # mean ||f(x + eps u) - f(x)||
    epsilon: float

    @property
    def relative_displacement(self) -> float:
        """Mean code displacement as a fraction of the code spread (scale-free)."""
        return self.displacement_mean / self.code_spread

    @property
    def relative_jacobian(self) -> float:
        """||J_f||_F (root of the mean square) divided by the code spread: per unit of input, in code spreads."""
        return math.sqrt(self.jacobian_sq_mean) / self.code_spread


def contraction_summary(
    embed: Embed, inputs: Tensor, epsilon: float, n_draws: int = 8, seed: int = 0
) -> ContractionSummary:
    """Jacobian norms, code spread and code displacement of one encoder on the same inputs."""
    norms = jacobian_norms_sq(embed, inputs)
    return ContractionSummary(
        jacobian_sq_mean=norms.mean().item(),
        jacobian_sq_median=norms.median().item(),
        code_spread=code_spread(embed, inputs),
        displacement_mean=code_displacement(embed, inputs, epsilon, n_draws, seed).mean().item(),
        epsilon=float(epsilon),
    )


@dataclass(frozen=True)
class AlongAcross:
    """Mean ||J_r(x) v|| of the reconstruction r at clean manifold points, v along or across the manifold.

    1 means r follows a move in that direction fully (the identity would give 1 both ways); 0 means r
    ignores it. A good manifold learner keeps `along` near 1 and shrinks `across`.
    """

    along: float
    across: float


def along_across(model, clean: Tensor, tangent: Tensor, normal: Tensor) -> AlongAcross:
    """How strongly the reconstruction responds to moves along and across the manifold (see AlongAcross)."""
    return AlongAcross(
        directional_sensitivity(model.reconstruct, clean, tangent).mean().item(),
        directional_sensitivity(model.reconstruct, clean, normal).mean().item(),
    )


@torch.no_grad()
def response_profile(model, point: Tensor, direction: Tensor, offsets: Tensor) -> Tensor:
    """(r(p + s v) - r(p)) . v for each offset s: how far the reconstruction moves along v, (len(offsets),).

    The identity gives s itself (slope 1); a reconstruction flat in v gives 0.
    """
    direction = direction / direction.norm()
    inputs = point.unsqueeze(0) + offsets.unsqueeze(1) * direction
    base = model.reconstruct(point.unsqueeze(0))
    return ((model.reconstruct(inputs) - base) * direction).sum(1)
