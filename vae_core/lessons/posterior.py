"""The true posterior p(z|x) of a 2-D-latent decoder on a grid, log p(x) by quadrature, and the ELBO's gap.

With two latent dimensions the joint log p(x|z) + log p(z) can be evaluated on a grid fine enough to
integrate: log p(x) = log ∫ p(x|z) p(z) dz is a logsumexp times the cell area, and the normalised grid is
p(z|x). That makes the identity log p(x) = ELBO(q) + KL(q(z|x) ‖ p(z|x)) checkable with numbers:

- ``posterior_grid``: an adaptive grid centred on q's mean (a coarse scan finds where the mass is; the box
  grows until the estimated mass outside it is below a tolerance); error estimates from grid halving and
  from the extrapolated tail mass.
- ``elbo_by_quadrature``: closed-form KL(q ‖ p(z)) (Kingma & Welling 2014, Appendix B) plus E_q log p(x|z)
  by 2-D Gauss–Hermite quadrature (deterministic; no seed), its error from halving the number of nodes.
- ``analyse_image``: both of the above, and the gap twice: log p(x) − ELBO, and KL(q ‖ p(z|x)) summed
  directly on the grid.
- ``amortisation_gap``: a per-image Gaussian q* fitted by L-BFGS on (μ, log σ²) to the ELBO computed from the
  grid's log p(x, z) (deterministic, no decoder call), from the encoder's q and from the grid posterior's moments
  (the better one, by Gauss–Hermite ELBO, kept);
  log p(x) − ELBO(q*) is the approximation gap, ELBO(q*) − ELBO(q_encoder) the amortisation gap
  (Cremer et al. 2018, "Inference suboptimality in VAEs").
- ``rank_by_gap``: a cheap, batched gap estimate for many images, to find the worst-fitted ones.

All quantities are in nats per image. The likelihood terms come from their one home, ``losses``.
Grids are indexed [i, j] at (z1[i], z2[j]): the first axis is z₁.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from vae_core.engine.losses import (
    gaussian_kl_per_dim,
    iw_log_likelihood,
    iw_log_weights,
    log_normal,
    reconstruction_nll,
)
from vae_core.engine.models import LatentModel

LATENT_DIM = 2  # everything here integrates over a plane
DECODE_CHUNK = 8192  # latent points per decoder call: flat memory for any grid


# --- the model pieces ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoder:
    """p(x|z) for a 2-D latent: the decoder's output for codes z, and how to score an image against it."""

    decode_params: Callable[[Tensor], Tensor]  # (N, 2) codes -> (N, C, H, W) logits (bernoulli) or means
    likelihood: str  # "bernoulli" | "gaussian", as in ModelConfig
    gaussian_sigma: float = 0.1  # the fixed decoder std of the gaussian likelihood, in pixel units

    @classmethod
    def from_model(cls, model: LatentModel) -> Decoder:
        if model.config.latent_dim != LATENT_DIM:
            raise ValueError(f"the posterior grid needs a 2-D latent; this model has {model.config.latent_dim}")
        return cls(model.decode_params, model.config.likelihood, model.config.gaussian_sigma)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) for one image x (C, H, W) at codes z (N, 2), shape (N,), in decoder chunks."""
        out = []
        for start in range(0, z.shape[0], DECODE_CHUNK):
            params = self.decode_params(z[start : start + DECODE_CHUNK])
            out.append(-reconstruction_nll(params, x.expand_as(params), self.likelihood, self.gaussian_sigma))
        return torch.cat(out)

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) + log p(z), prior N(0, I), at codes z (N, 2) for one image (C, H, W): shape (N,)."""
        return self.log_likelihood(x, z) + log_prior(z)


def log_prior(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return log_normal(z, torch.zeros_like(z), torch.zeros_like(z))


@dataclass(frozen=True)
class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(logvar))) over the 2-D latent, for one image."""

    mean: Tensor  # (2,)
    logvar: Tensor  # (2,)

    @property
    def std(self) -> Tensor:
        return (0.5 * self.logvar).exp()

    def log_prob(self, z: Tensor) -> Tensor:
        """log q(z) at codes z (N, 2), shape (N,)."""
        return log_normal(z, self.mean.to(z), self.logvar.to(z))

    def kl_to_prior(self) -> float:
        """KL(q ‖ N(0, I)) in closed form (Kingma & Welling 2014, Appendix B), in nats."""
        return float(gaussian_kl_per_dim(self.mean, self.logvar).sum())

    def ellipse(self, n_sigma: float, n_points: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """The n_sigma contour (an axis-aligned ellipse) as closed (z1, z2) polylines for plotting."""
        angle = np.linspace(0.0, 2 * np.pi, n_points)
        mean, std = self.mean.detach().double().numpy(), self.std.detach().double().numpy()
        return mean[0] + n_sigma * std[0] * np.cos(angle), mean[1] + n_sigma * std[1] * np.sin(angle)


def encode_one(model: LatentModel, x: Tensor) -> DiagonalGaussian:
    """The encoder's q(z|x) for one image (C, H, W)."""
    with torch.no_grad():
        mean, logvar = model.encode(x.unsqueeze(0))
    if logvar is None:
        raise ValueError("the model has no posterior variance: an autoencoder has no q(z|x) to compare")
    return DiagonalGaussian(mean[0], logvar[0])


# --- the grid --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PosteriorGrid:
    """log p(x|z) + log p(z) on a rectangular grid of cell centres, and what quadrature makes of it."""

    z1: Tensor  # (n1,) cell centres along z₁
    z2: Tensor  # (n2,) cell centres along z₂
    log_joint: Tensor  # (n1, n2) float64: log p(x|z) + log p(z) at (z1[i], z2[j])
    log_px: float  # log Σ exp(log_joint) · cell area: log p(x) by quadrature, in nats
    refinement_error: float  # |log p(x) − the same sum over every other grid point| (step doubled), nats
    truncation_mass: float  # estimated fraction of p(z|x) outside the box (extrapolated from the edge bands)
    n_evaluations: int  # decoder evaluations spent, the coarse scan and any regrown boxes included

    @property
    def cell_area(self) -> float:
        return float((self.z1[1] - self.z1[0]) * (self.z2[1] - self.z2[0]))

    @property
    def log_px_error(self) -> float:
        """An error estimate for log p(x): the halving difference plus the mass lost outside (log(1+ε) ≈ ε)."""
        return self.refinement_error + self.truncation_mass

    @property
    def points(self) -> Tensor:
        """(n1·n2, 2) the grid's codes, row-major in [i, j]."""
        return torch.cartesian_prod(self.z1, self.z2)

    def log_posterior(self) -> Tensor:
        """log p(z|x) (a density, per unit area) at the grid points, (n1, n2)."""
        return self.log_joint - self.log_px

    def posterior(self) -> Tensor:
        """p(z|x) at the grid points, (n1, n2): sums to 1 / cell_area."""
        return self.log_posterior().exp()

    def posterior_mean_and_cov(self) -> tuple[Tensor, Tensor]:
        """E[z|x] (2,) and Cov[z|x] (2, 2) under the grid posterior."""
        weights = (self.log_posterior() + math.log(self.cell_area)).exp().flatten()
        points = self.points.double()
        mean = weights @ points
        centred = points - mean
        return mean, (centred * weights[:, None]).T @ centred


def posterior_grid(
    decoder: Decoder,
    x: Tensor,
    q: DiagonalGaussian,
    *,
    tail_tolerance: float = 1e-6,
    refine_tolerance: float = 5e-3,
    min_points: int = 65,
    max_points: int = 257,
    coarse_points: int = 33,
    coarse_radius: float = 4.0,
    q_sigmas: float = 7.0,
    points_per_sigma: float = 2.0,
    max_regrowths: int = 6,
) -> PosteriorGrid:
    """p(z|x) on an adaptive grid centred on q's mean, for one image x (C, H, W).

    1. A coarse scan (coarse_points² codes) over a box reaching the prior's ±coarse_radius and q's
       ±2·q_sigmas finds the cells that hold all but tail_tolerance of the coarse posterior's mass; the fine
       box is centred on q's mean and covers them and q's ±q_sigmas.
    2. The fine grid has at least min_points per axis and at least points_per_sigma per q standard
       deviation (so KL(q ‖ p(z|x)) is resolved too), up to max_points.
    3. The box grows by 1.5 per side while the mass extrapolated beyond it exceeds tail_tolerance, and the
       grid doubles its points while halving it changes log p(x) by more than refine_tolerance nats.

    The halving difference is the error of the coarser grid, so as an error of the finer one it is an
    overestimate: about 3x for the h² convergence of a ReLU decoder's kinked integrand, far more where
    the integrand is smooth (the midpoint rule then converges faster than any power of h).
    """
    if x.dim() != 3:
        raise ValueError(f"expected one image shaped (C, H, W), got {tuple(x.shape)}")
    mean = q.mean.detach().to(torch.float64)
    std = q.std.detach().to(torch.float64)
    with torch.inference_mode():
        half = _coarse_extent(decoder, x, mean, std, coarse_points, coarse_radius, q_sigmas, tail_tolerance)
        evaluations = coarse_points**2
        n = _points_for(half, std, min_points, max_points, points_per_sigma)
        for _ in range(max_regrowths + 1):
            z1, z2, log_joint = _evaluate(decoder, x, mean, half, n)
            evaluations += n[0] * n[1]
            log_px, refinement = _quadrature(z1, z2, log_joint)
            tail = _tail_mass(log_joint - log_joint.max())
            if tail > tail_tolerance:
                half = half * 1.5
                n = _points_for(half, std, max(n), max_points, points_per_sigma)
            elif refinement > refine_tolerance and max(n) < max_points:
                n = (min(2 * n[0] - 1, max_points), min(2 * n[1] - 1, max_points))
            else:
                break
    return PosteriorGrid(z1, z2, log_joint, log_px, refinement, tail, evaluations)


def _coarse_extent(
    decoder: Decoder,
    x: Tensor,
    mean: Tensor,
    std: Tensor,
    n: int,
    radius: float,
    q_sigmas: float,
    tail_tolerance: float,
) -> Tensor:
    """Half-widths (2,) of a box centred on mean that holds the coarse scan's high-joint cells."""
    reach = torch.maximum(mean.abs() + radius, 2 * q_sigmas * std)
    z1, z2, log_joint = _evaluate(decoder, x, mean, reach, (n, n))
    points = torch.cartesian_prod(z1, z2).view(n, n, 2)
    log_mass = log_joint - torch.logsumexp(log_joint.flatten(), 0)
    keep = log_mass >= math.log(tail_tolerance / n**2)  # what is left out sums to under tail_tolerance
    step = 2 * reach / (n - 1)
    extent = (points[keep] - mean).abs().max(0).values + step
    return torch.maximum(extent, q_sigmas * std)


def _points_for(half: Tensor, std: Tensor, min_points: int, max_points: int, per_sigma: float) -> tuple[int, int]:
    wanted = torch.ceil(2 * half / std * per_sigma).long().tolist()
    n1, n2 = (min(max_points, max(min_points, k)) | 1 for k in wanted)  # odd: halving keeps both ends
    return n1, n2


def _evaluate(
    decoder: Decoder, x: Tensor, centre: Tensor, half: Tensor, n: tuple[int, int]
) -> tuple[Tensor, Tensor, Tensor]:
    z1 = torch.linspace(float(centre[0] - half[0]), float(centre[0] + half[0]), n[0], dtype=torch.float64)
    z2 = torch.linspace(float(centre[1] - half[1]), float(centre[1] + half[1]), n[1], dtype=torch.float64)
    dtype = x.dtype  # the decoder's own precision: callers pass x in it
    log_joint = decoder.log_joint(x, torch.cartesian_prod(z1, z2).to(dtype)).double()
    return z1, z2, log_joint.view(n[0], n[1])


def _quadrature(z1: Tensor, z2: Tensor, log_joint: Tensor) -> tuple[float, float]:
    """log p(x) = logsumexp · cell area, and how much it moves when the step is doubled."""
    area = float((z1[1] - z1[0]) * (z2[1] - z2[0]))
    fine = float(torch.logsumexp(log_joint.flatten(), 0)) + math.log(area)
    coarse = float(torch.logsumexp(log_joint[::2, ::2].flatten(), 0)) + math.log(4 * area)
    return fine, abs(fine - coarse)


def _tail_mass(log_joint: Tensor, band_fraction: float = 0.1) -> float:
    """Mass beyond the box, extrapolated from how fast it falls across the two outermost bands.

    The cells are grouped by their index distance from the box's edge; with m_out the posterior mass in the
    outermost band and m_in in the band inside it, r = m_out / m_in is the fall-off per band, and the
    geometric series m_out · r / (1 − r) estimates what lies beyond. A fall-off of r ≥ 1 means the box
    has cut the posterior: infinite.
    """
    n1, n2 = log_joint.shape
    i = torch.arange(n1)[:, None]
    j = torch.arange(n2)[None, :]
    # fraction of the way from the box's centre to its edge, per cell (Chebyshev, in index units)
    reach = torch.maximum((2 * i - (n1 - 1)).abs() / (n1 - 1), (2 * j - (n2 - 1)).abs() / (n2 - 1))
    mass = (log_joint - torch.logsumexp(log_joint.flatten(), 0)).exp()
    outer = float(mass[reach > 1 - band_fraction].sum())
    inner = float(mass[(reach > 1 - 2 * band_fraction) & (reach <= 1 - band_fraction)].sum())
    if outer == 0.0:
        return 0.0
    if inner <= outer:
        return math.inf
    ratio = outer / inner
    return outer * ratio / (1 - ratio)


# --- the ELBO and the gap ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElboEstimate:
    """ELBO(q) = E_q log p(x|z) − KL(q ‖ p(z)) for one image, in nats."""

    elbo: float
    expected_log_likelihood: float  # E_q log p(x|z), by tensor-product Gauss–Hermite quadrature
    kl_to_prior: float  # KL(q ‖ N(0, I)), closed form
    error: float  # differences of E_q log p(x|z) to the rules with n_nodes/2 and 3·n_nodes/4 nodes, summed
    n_nodes: int  # Gauss–Hermite nodes per axis
    method: str = "closed-form KL + Gauss–Hermite quadrature of E_q log p(x|z) (deterministic, no seed)"


def gauss_hermite_expectation(fn: Callable[[Tensor], Tensor], q: DiagonalGaussian, n_nodes: int) -> Tensor:
    """E_q fn(z) by n_nodes² Gauss–Hermite nodes; fn maps (N, 2) codes to (N,) values.

    Differentiable in q's mean and log-variance: the nodes are z = μ + √2 σ t (a deterministic
    reparameterisation).
    """
    nodes, weights = np.polynomial.hermite.hermgauss(n_nodes)
    dtype = q.mean.dtype
    t = torch.as_tensor(nodes, dtype=dtype)
    w = torch.as_tensor(weights / math.sqrt(math.pi), dtype=dtype)
    grid = torch.cartesian_prod(t, t)  # (n², 2)
    z = q.mean + math.sqrt(2.0) * q.std * grid
    return (torch.outer(w, w).flatten() * fn(z)).sum()


def elbo_by_quadrature(decoder: Decoder, x: Tensor, q: DiagonalGaussian, n_nodes: int = 24) -> ElboEstimate:
    """The ELBO of q for one image (C, H, W), with an error estimate from fewer nodes.

    A ReLU decoder's log-likelihood has kinks, so Gauss–Hermite converges slowly and not monotonically; the
    error estimate is the sum of the differences to the rules with n_nodes/2 and 3·n_nodes/4 nodes.
    """

    def expected(n: int) -> float:
        return float(gauss_hermite_expectation(lambda z: decoder.log_likelihood(x, z), q, n))

    with torch.no_grad():
        fine = expected(n_nodes)
        error = abs(fine - expected(n_nodes // 2)) + abs(fine - expected(3 * n_nodes // 4))
    kl = q.kl_to_prior()
    return ElboEstimate(fine - kl, fine, kl, error, n_nodes)


def kl_to_grid_posterior(grid: PosteriorGrid, q: DiagonalGaussian) -> float:
    """KL(q ‖ p(z|x)) = Σ q (log q − log p(z|x)) · cell area, summed on the grid, q renormalised there."""
    log_q = q.log_prob(grid.points).view_as(grid.log_joint)  # float64, like the grid
    return _kl_on(log_q, grid.log_joint, grid.log_px)


def kl_halving_error(grid: PosteriorGrid, q: DiagonalGaussian) -> float:
    """|KL(q ‖ p(z|x)) on the grid − the same on every other grid point|: an error estimate (as for log p(x))."""
    log_q = q.log_prob(grid.points).view_as(grid.log_joint)[::2, ::2]
    coarse_joint = grid.log_joint[::2, ::2]
    coarse_log_px = float(torch.logsumexp(coarse_joint.flatten(), 0)) + math.log(4 * grid.cell_area)
    return abs(kl_to_grid_posterior(grid, q) - _kl_on(log_q, coarse_joint, coarse_log_px))


def _kl_on(log_q: Tensor, log_joint: Tensor, log_px: float) -> float:
    weights = torch.softmax(log_q.flatten(), 0).view_as(log_q)  # q's mass per cell, summing to 1
    return float((weights * (log_q - (log_joint - log_px))).sum())


def iw_bound(decoder: Decoder, x: Tensor, q: DiagonalGaussian, k: int, seed: int = 0) -> float:
    """IW_K ≤ log p(x) for one image with proposal q (Burda et al. 2015), seeded; nats."""
    with torch.no_grad():
        log_weights = iw_log_weights(
            x.unsqueeze(0),
            q.mean[None],
            q.logvar[None],
            decoder.decode_params,
            decoder.likelihood,
            decoder.gaussian_sigma,
            k=k,
            generator=torch.Generator().manual_seed(seed),
        )
    return float(iw_log_likelihood(log_weights)[0])


@dataclass(frozen=True)
class GapReport:
    """log p(x) = ELBO + KL(q ‖ p(z|x)), each side computed on its own, for one image and one q."""

    q: DiagonalGaussian
    grid: PosteriorGrid
    elbo: ElboEstimate
    kl_on_grid: float  # KL(q ‖ p(z|x)) summed on the grid
    kl_on_grid_error: float  # its halving difference (every other grid point), nats

    @property
    def log_px(self) -> float:
        return self.grid.log_px

    @property
    def gap_from_bounds(self) -> float:
        """log p(x) − ELBO."""
        return self.grid.log_px - self.elbo.elbo

    @property
    def gap_error(self) -> float:
        """How far the two ways of computing the gap may honestly differ: the quadratures' error estimates."""
        return self.grid.log_px_error + self.elbo.error + self.kl_on_grid_error


def analyse_image(decoder: Decoder, x: Tensor, q: DiagonalGaussian, **grid_options) -> GapReport:
    """The grid posterior, the ELBO and KL(q ‖ p(z|x)) for one image (C, H, W)."""
    grid = posterior_grid(decoder, x, q, **grid_options)
    return GapReport(
        q, grid, elbo_by_quadrature(decoder, x, q), kl_to_grid_posterior(grid, q), kl_halving_error(grid, q)
    )


# --- the amortisation gap ----------------------------------------------------------------------------------
# Progress of infer_image: each step's share of its time, measured on mnist-vae-z2 (2 cores, load 5: grid 0.7-1.5
# s, IW-5000 for 4 seeds 4-6 s, q* 0.7-6 s); the page's estimate of the time left is read from these fractions.
INFER_SHARES = {"grid": 0.15, "iw": 0.55, "q_star": 0.3}
Progress = Callable[[float, str], None]  # progress(fraction done in [0, 1], what is being computed now)
Q_STAR_ITERATIONS = 100  # L-BFGS iterations on the grid ELBO (at most); the fits of the shipped models settle in 10-40
# What amortisation_gap costs per image, as measured by benchmarks/posterior_grid.py on mnist-vae-z2 (median over 12
# test images, one torch thread: CPU time 0.118 s, quartiles 0.10-0.22 s, on the shared 2-core machine at load 24,
# where the wall clock was 8x that; CPU time bounds an idle core's wall clock). The Inference page's label says it.
Q_STAR_MEASURED_SECONDS = 0.12


@dataclass(frozen=True)
class AmortisationReport:
    """The encoder's q against the best diagonal Gaussian q* for this one image (Cremer et al. 2018)."""

    q_encoder: DiagonalGaussian
    q_star: DiagonalGaussian
    elbo_encoder: ElboEstimate
    elbo_star: ElboEstimate
    log_px: float
    q_star_start: str  # which start gave q*: "encoder", "grid moments" (p(z|x)'s mean and variances), or
    # "encoder, unchanged" when neither fit beat the encoder's own q (then q* is q_encoder)
    elbo_other_start: float  # the ELBO the other start's fit reached (the best fit's, when q* is unchanged)
    steps: int  # L-BFGS iterations allowed to each start (Q_STAR_ITERATIONS)
    seconds: float  # wall-clock time of the two fits and their ELBOs, as measured

    @property
    def approximation_gap(self) -> float:
        """log p(x) − ELBO(q*): what no diagonal Gaussian can close."""
        return self.log_px - self.elbo_star.elbo

    @property
    def amortisation_gap(self) -> float:
        """ELBO(q*) − ELBO(q_encoder): the price of one encoder for all images."""
        return self.elbo_star.elbo - self.elbo_encoder.elbo


def moment_matched(grid: PosteriorGrid) -> DiagonalGaussian:
    """The diagonal Gaussian with the grid posterior's mean and marginal variances."""
    mean, cov = grid.posterior_mean_and_cov()
    return DiagonalGaussian(mean, torch.diagonal(cov).log())


def grid_elbo(grid: PosteriorGrid, mean: Tensor, logvar: Tensor) -> Tensor:
    """ELBO(q) = E_q log p(x, z) + H(q) for S diagonal Gaussians at once (mean, logvar: (S, 2)), from the grid's
    log p(x, z) with no decoder call: the expectation weighs each grid point by q, normalised over the grid (so
    no q gains by leaving the box), and the entropy is closed form. Shape (S,), float64."""
    # the grid was built in inference mode: copies, so that autograd may save them
    points = grid.points.to(torch.float64).clone()
    log_joint = grid.log_joint.flatten().to(torch.float64).clone()
    mean, logvar = mean.to(torch.float64), logvar.to(torch.float64)
    log_q = -0.5 * ((points[None] - mean[:, None]) ** 2 / logvar.exp()[:, None] + logvar[:, None]).sum(-1)
    weights = torch.softmax(log_q, dim=1)
    entropy = 0.5 * (1.0 + math.log(2 * math.pi) + logvar).sum(-1)
    return weights @ log_joint + entropy


def fit_gaussian_posteriors(
    grid: PosteriorGrid, starts: list[DiagonalGaussian], *, iterations: int = Q_STAR_ITERATIONS
) -> list[DiagonalGaussian]:
    """Maximise each image's grid ELBO over diagonal Gaussians from every start at once (one batched L-BFGS with a
    strong-Wolfe line search on (μ, log σ²); the starts do not interact, their objectives are summed).

    Deterministic, and with no decoder call: the grid already holds log p(x, z) where p(z|x) has its mass, finely
    enough that log p(x) has converged (posterior_grid), so a q on that mass is resolved too.
    """
    dtype = starts[0].mean.dtype
    params = torch.stack([torch.cat([s.mean, s.logvar]).to(torch.float64) for s in starts]).clone()
    params.requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [params], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe", tolerance_grad=1e-5, tolerance_change=1e-9
    )

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = -grid_elbo(grid, params[:, :LATENT_DIM], params[:, LATENT_DIM:]).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    fitted = params.detach()
    return [DiagonalGaussian(p[:LATENT_DIM].to(dtype), p[LATENT_DIM:].to(dtype)) for p in fitted]


def amortisation_gap(
    decoder: Decoder,
    x: Tensor,
    q: DiagonalGaussian,
    grid: PosteriorGrid,
    *,
    elbo_encoder: ElboEstimate | None = None,
    steps: int = Q_STAR_ITERATIONS,
) -> AmortisationReport:
    """Fit q* and split log p(x) − ELBO(q) into the approximation and the amortisation gap.

    The ELBO over diagonal Gaussians can have several local optima (one per posterior mode), and where the
    encoder's q is far from p(z|x) a fit started there stays near it. So q* is fitted from two starts, the
    encoder's q and the grid posterior's moments, and the higher ELBO (by Gauss–Hermite quadrature, with the
    decoder, as for the encoder's q) is kept; the encoder's q itself, should neither fit beat it (the amortisation
    gap is then 0, never negative). elbo_encoder: the encoder's ELBO when already computed (analyse_image's).
    """
    started = time.perf_counter()
    dtype = q.mean.dtype
    grid_start = moment_matched(grid)
    starts = {"encoder": q, "grid moments": DiagonalGaussian(grid_start.mean.to(dtype), grid_start.logvar.to(dtype))}
    fits = dict(zip(starts, fit_gaussian_posteriors(grid, list(starts.values()), iterations=steps), strict=True))
    elbos = {name: elbo_by_quadrature(decoder, x, fit) for name, fit in fits.items()}
    best = max(elbos, key=lambda name: elbos[name].elbo)
    other = next(name for name in elbos if name != best)
    if elbo_encoder is None:
        elbo_encoder = elbo_by_quadrature(decoder, x, q)
    seconds = time.perf_counter() - started
    if elbo_encoder.elbo >= elbos[best].elbo:  # the fits did not beat the encoder: q* is the encoder's q
        return AmortisationReport(
            q, q, elbo_encoder, elbo_encoder, grid.log_px, "encoder, unchanged", elbos[best].elbo, steps, seconds
        )
    return AmortisationReport(
        q, fits[best], elbo_encoder, elbos[best], grid.log_px, best, elbos[other].elbo, steps, seconds
    )


# --- ranking many images ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GapRanking:
    """A quick gap estimate per image, largest first: a guide for picking images, not the page's numbers."""

    indices: Tensor  # (N,) positions in the images given, ordered by gap, largest first
    gaps: Tensor  # (N,) KL(q ‖ p(z|x)) estimated on each image's small box, same order, nats
    log_px: Tensor  # (N,) log p(x) on the same box (a slight underestimate where the box cuts mass)
    points: int  # grid points per axis of each image's box
    q_sigmas: float  # the box is q's mean ± q_sigmas · σ per axis


def rank_by_gap(
    decoder: Decoder,
    images: Tensor,
    means: Tensor,
    logvars: Tensor,
    *,
    points: int = 25,
    q_sigmas: float = 7.0,
    batch_size: int = 32,
) -> GapRanking:
    """Estimate KL(q ‖ p(z|x)) for many images (N, C, H, W) with encodings (N, 2), batched.

    Each image gets a points × points grid over its q's ±q_sigmas·σ box; the decoder runs on a whole batch
    of boxes at once. A posterior with mass far outside q's box is cut off there, so its gap comes out too
    small: use the ranking to find candidates, and analyse_image for the numbers.
    """
    n_images = images.shape[0]
    t = torch.linspace(-q_sigmas, q_sigmas, points, dtype=means.dtype)
    unit = torch.cartesian_prod(t, t)  # (G, 2) in units of σ
    log_cell = math.log((t[1] - t[0]) ** 2)
    gaps, log_pxs = [], []
    with torch.no_grad():
        for start in range(0, n_images, batch_size):
            x = images[start : start + batch_size]
            b = x.shape[0]
            std = (0.5 * logvars[start : start + b]).exp()
            z = means[start : start + b, None, :] + std[:, None, :] * unit  # (b, G, 2)
            flat = z.reshape(-1, LATENT_DIM)
            params = torch.cat(
                [decoder.decode_params(flat[i : i + DECODE_CHUNK]) for i in range(0, flat.shape[0], DECODE_CHUNK)]
            )
            x_rep = x[:, None].expand(b, unit.shape[0], *x.shape[1:]).reshape(params.shape)
            log_joint = (
                (-reconstruction_nll(params, x_rep, decoder.likelihood, decoder.gaussian_sigma) + log_prior(flat))
                .view(b, -1)
                .double()
            )
            log_area = log_cell + torch.log(std.prod(1)).double()  # (b,)
            log_px = torch.logsumexp(log_joint, 1) + log_area
            log_q = log_normal(z, means[start : start + b, None, :], logvars[start : start + b, None, :]).double()
            weights = torch.softmax(log_q, 1)
            gaps.append((weights * (log_q - log_joint + log_px[:, None])).sum(1))
            log_pxs.append(log_px)
    gap = torch.cat(gaps)
    order = torch.argsort(gap, descending=True)
    return GapRanking(order, gap[order], torch.cat(log_pxs)[order], points, q_sigmas)


@dataclass(frozen=True)
class ExactRanking:
    """The quick ranking's leading candidates measured exactly, ordered by their exact gap, largest first."""

    indices: tuple[int, ...]  # positions in the images given
    gaps: tuple[float, ...]  # log p(x) − ELBO by analyse_image (adaptive grid, quadrature ELBO), nats
    screened: int  # images the quick estimate ranked
    candidates: int  # of those, the leading ones measured exactly


def rerank_exactly(
    decoder: Decoder,
    images: Tensor,
    means: Tensor,
    logvars: Tensor,
    quick: GapRanking,
    candidates: int,
    progress: Progress | None = None,
) -> ExactRanking:
    """Measure the quick ranking's first `candidates` images with analyse_image and order them by that exact gap.

    The quick box around q misses posterior mass far from q, so its order is only a shortlist: on mnist-vae-z2
    it put test image 44 7th at ≈ 27 nats, whose exact gap is 68.1. The shown list comes from here instead.
    progress(fraction done, what comes next) after each image.
    """
    shortlist = [int(i) for i in quick.indices[:candidates]]
    gaps = []
    for done, i in enumerate(shortlist):
        if progress is not None:
            progress(done / len(shortlist), f"measuring test image {i} exactly ({done + 1} of {len(shortlist)})")
        q = DiagonalGaussian(means[i], logvars[i])  # as encode_one gives it for the page's exact numbers
        gaps.append(analyse_image(decoder, images[i], q).gap_from_bounds)
    order = np.argsort(gaps)[::-1]
    return ExactRanking(
        tuple(shortlist[j] for j in order), tuple(float(gaps[j]) for j in order), len(quick.indices), len(shortlist)
    )


# --- everything the lesson shows for one image --------------------------------------------------------------
@dataclass(frozen=True)
class IwEstimate:
    """IW_K with the encoder's q as proposal, from several seeds: one value to show and its spread."""

    k: int
    seeds: tuple[int, ...]
    values: tuple[float, ...]  # IW_K per seed, nats

    @property
    def value(self) -> float:
        """The first seed's estimate (what a single run reports)."""
        return self.values[0]

    @property
    def spread(self) -> float:
        """The standard deviation over the seeds: how much one estimate can move."""
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan

    @property
    def mean(self) -> float:
        """The mean over the seeds: what the page quotes, as one draw can sit in a tail of its distribution."""
        return float(np.mean(self.values))

    @property
    def mean_error(self) -> float:
        """The standard error of that mean, spread / √(number of seeds)."""
        return self.spread / math.sqrt(len(self.values))


@dataclass(frozen=True)
class ImageInference:
    """One image through the lesson: the posterior grid, both gaps, IW_K and (optionally) q*."""

    report: GapReport
    iw: IwEstimate
    amortisation: AmortisationReport | None
    image: Tensor  # (C, H, W): exactly what was scored


def infer_image(
    model: LatentModel,
    image: Tensor,
    *,
    k: int = 5000,
    iw_seeds: tuple[int, ...] = (0, 1, 2, 3),
    fit_q_star: bool = True,
    q_star_steps: int = Q_STAR_ITERATIONS,
    progress: Progress | None = None,
) -> ImageInference:
    """Everything the inference lesson shows for one image (C, H, W) in [0, 1], scored as given.

    Pass the image as the model is measured on it: binarised for a model of the DataProtocol.BINARIZED protocol
    (vae_core.engine.protocol.measured_inputs, or the image chooser's measured image), grey levels otherwise.
    progress(fraction done, what comes next) before each step, the fractions weighted by INFER_SHARES.
    """
    shares = [INFER_SHARES["grid"]] + [INFER_SHARES["iw"] / len(iw_seeds)] * len(iw_seeds)
    shares += [INFER_SHARES["q_star"]] if fit_q_star else []
    fractions = iter(np.cumsum([0.0, *shares]) / sum(shares))  # done before each step

    def step(what: str) -> None:
        fraction = float(next(fractions))
        if progress is not None:
            progress(fraction, what)

    x = image.to(next(model.parameters()).dtype)
    decoder = Decoder.from_model(model)
    q = encode_one(model, x)
    step("p(z|x) on a grid and the ELBO")
    report = analyse_image(decoder, x, q)
    iw_values = []
    for n, seed in enumerate(iw_seeds):
        step(f"IW-{k}, seed {seed} ({n + 1} of {len(iw_seeds)})")
        iw_values.append(iw_bound(decoder, x, q, k, seed))
    inference = ImageInference(report, IwEstimate(k, tuple(iw_seeds), tuple(iw_values)), None, x)
    if not fit_q_star:
        return inference
    step("fitting q*")
    return with_q_star(model, inference, steps=q_star_steps)


def with_q_star(model: LatentModel, inference: ImageInference, *, steps: int = Q_STAR_ITERATIONS) -> ImageInference:
    """An inference without q* completed with it: exactly what infer_image(fit_q_star=True) gives, at the cost of
    the fit alone (the grid and IW_K are reused), so switching q* on after it was off is quick."""
    report = inference.report
    amortisation = amortisation_gap(
        Decoder.from_model(model), inference.image, report.q, report.grid, elbo_encoder=report.elbo, steps=steps
    )
    return replace(inference, amortisation=amortisation)


def mass_levels(grid: PosteriorGrid, fractions: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[float]:
    """Densities of p(z|x) whose superlevel sets hold the given fractions of the mass (for contour lines)."""
    density = grid.posterior().flatten()
    ordered, _ = torch.sort(density, descending=True)
    cumulative = torch.cumsum(ordered * grid.cell_area, 0)
    return [float(ordered[min(int(torch.searchsorted(cumulative, f)), len(ordered) - 1)]) for f in fractions]


@dataclass(frozen=True)
class PosteriorShape:
    """How p(z|x) on the grid differs from a Gaussian, and where q sits in it."""

    mean: Tensor  # (2,) E[z|x]
    cov: Tensor  # (2, 2) Cov[z|x]
    kl_from_gaussian: float  # KL(p(z|x) ‖ N(mean, cov)) on the grid: 0 for a Gaussian posterior, nats
    q_offset: float  # Mahalanobis distance of q's mean from E[z|x] under Cov[z|x], in posterior std units

    @property
    def correlation(self) -> float:
        return float(self.cov[0, 1] / torch.sqrt(self.cov[0, 0] * self.cov[1, 1]))

    @property
    def std(self) -> Tensor:
        return torch.sqrt(torch.diagonal(self.cov))


def posterior_shape(grid: PosteriorGrid, q: DiagonalGaussian) -> PosteriorShape:
    """The grid posterior's moments, its KL to the Gaussian with those moments, and q's offset from its mean."""
    mean, cov = grid.posterior_mean_and_cov()
    points = grid.points.double()
    centred = points - mean
    precision = torch.linalg.inv(cov)
    log_gauss = (
        -0.5 * torch.einsum("ni,ij,nj->n", centred, precision, centred)
        - 0.5 * torch.logdet(cov)
        - math.log(2 * math.pi)
    ).view_as(grid.log_joint)
    log_post = grid.log_posterior()
    weights = (log_post + math.log(grid.cell_area)).exp()
    offset = q.mean.double() - mean
    return PosteriorShape(
        mean, cov, float((weights * (log_post - log_gauss)).sum()), float(torch.sqrt(offset @ precision @ offset))
    )
