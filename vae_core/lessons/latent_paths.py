"""Codes to decode: grids over the latent plane, interpolation paths, slices and slider ranges (no Streamlit).

Everything returns float32 numpy arrays of codes, (N, D); ui.state.derived decodes them with a cached model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

INTERPOLATIONS = ("linear", "spherical")


def gaussian_quantile_axis(n: int, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """n values of z with equal mass of N(mean, std²) between them: mean + std Φ⁻¹((i + 0.5) / n), i = 0..n-1.

    Kingma & Welling (2014), Fig. 4: linearly spaced points of the unit square mapped through the inverse
    CDF of the Gaussian, so the grid covers the prior where its mass is, and never reaches infinity.
    """
    if n < 1 or std <= 0:
        raise ValueError(f"need n >= 1 and std > 0, got n={n}, std={std}")
    probabilities = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (mean + std * torch.special.ndtri(probabilities)).numpy().astype(np.float32)


def linear_axis(n: int, half_range: float) -> np.ndarray:
    """n evenly spaced values from -half_range to +half_range."""
    if n < 1 or half_range <= 0:
        raise ValueError(f"need n >= 1 and half_range > 0, got n={n}, half_range={half_range}")
    return np.linspace(-half_range, half_range, n, dtype=np.float32)


CODE_BOX_COVERAGE = 0.99  # the central share of the codes, per dimension, that a "code box" spans
PRIOR_BOX_SIGMA = 3.0  # a VAE's box also spans the prior's ±3σ (99.7% of its mass per coordinate)


def code_box(
    codes: np.ndarray, prior_sigma: float | None = None, coverage: float = CODE_BOX_COVERAGE, scale: float = 1.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x_lo, x_hi), (y_lo, y_hi)) of 2-D codes: the central `coverage` of them in each dimension, joined
    with the prior's ±prior_sigma box where given (a VAE), then scaled by `scale` about its centre.

    Each model's grid spans its own codes: an autoencoder's may sit anywhere at any scale (z₂ up to 35 on
    MNIST), so one fixed range shows one model's data and the other's far outside.
    """
    codes = np.asarray(codes, np.float64)
    assert codes.ndim == 2 and codes.shape[1] == 2, f"codes must be (N, 2), got {codes.shape}"
    if not (0.0 < coverage <= 1.0 and scale > 0):
        raise ValueError(f"need 0 < coverage <= 1 and scale > 0, got {coverage}, {scale}")
    tail = (1.0 - coverage) / 2.0
    low, high = np.quantile(codes, tail, axis=0), np.quantile(codes, 1.0 - tail, axis=0)
    if prior_sigma is not None:
        low, high = np.minimum(low, -prior_sigma), np.maximum(high, prior_sigma)
    centre, half = (low + high) / 2.0, np.maximum((high - low) / 2.0, 1e-3) * scale
    return (float(centre[0] - half[0]), float(centre[0] + half[0])), (
        float(centre[1] - half[1]),
        float(centre[1] + half[1]),
    )


GRID_KINDS = ("quantiles", "linear")


def grid_axes(
    codes: np.ndarray, variational: bool, n: int, kind: str, extent: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(z₁ values, z₂ values) of a decoded grid of n by n cells that fits one model's own 2-D codes.

    "quantiles": equal mass between neighbouring cells of the Gaussian a sampler would draw from: the prior
    N(0, 1) for a VAE; for an autoencoder, which has no prior, the Gaussian with its test codes' mean and
    standard deviation in each dimension. "linear": evenly spaced over code_box (the codes' central 99%, the
    VAE's joined with the prior's ±3σ), `extent` times as wide.
    """
    codes = np.asarray(codes, np.float64)
    if kind == "quantiles":
        if variational:
            axis = gaussian_quantile_axis(n)
            return axis, axis.copy()
        mean, std = codes.mean(0), np.maximum(codes.std(0), 1e-3)
        return gaussian_quantile_axis(n, mean[0], std[0]), gaussian_quantile_axis(n, mean[1], std[1])
    if kind == "linear":
        (x_lo, x_hi), (y_lo, y_hi) = code_box(codes, PRIOR_BOX_SIGMA if variational else None, scale=extent)
        return np.linspace(x_lo, x_hi, n, dtype=np.float32), np.linspace(y_lo, y_hi, n, dtype=np.float32)
    raise ValueError(f"unknown grid {kind!r}; use one of {', '.join(GRID_KINDS)}")


def grid_codes(x_values: np.ndarray, y_values: np.ndarray) -> np.ndarray:
    """(len(y)*len(x), 2) codes in image order: the top row has the largest y, each row runs left to right.

    So cell (row r, column c) of the decoded grid sits where the scatter plot shows z = (x[c], y[-1-r]).
    """
    xs, ys = np.meshgrid(np.asarray(x_values, np.float32), np.asarray(y_values, np.float32)[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def to_cell_units(values: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Positions of z values along a grid axis in cell units: axis[i] -> i, linear in between and beyond the ends.

    A decoded grid is drawn with square cells whatever its axis (quantile axes are not evenly spaced in z), so
    anything drawn over it (the codes' density) is placed in these units.
    """
    axis = np.asarray(axis, np.float64)
    values = np.asarray(values, np.float64)
    if len(axis) == 1:
        return values - axis[0]
    inside = np.interp(values, axis, np.arange(len(axis), dtype=np.float64))
    below = (values - axis[0]) / (axis[1] - axis[0])
    above = len(axis) - 1 + (values - axis[-1]) / (axis[-1] - axis[-2])
    return np.where(values < axis[0], below, np.where(values > axis[-1], above, inside))


@dataclass(frozen=True)
class CodeDensity:
    """Where a model's test codes lie over a decoded grid of n_x by n_y cells, in cell units.

    density: (n_y * per_cell, n_x * per_cell) smoothed share of the codes per fine bin, the bottom row first
    (bins span cell units -0.5 .. n - 0.5); level: the density above which the bins hold `mass` of the codes;
    cell_inside: (n_y, n_x) in image order (top row first), whether a cell's centre lies inside that region.
    """

    x: np.ndarray  # (n_x * per_cell,) bin centres in cell units
    y: np.ndarray  # (n_y * per_cell,)
    density: np.ndarray
    level: float
    mass: float
    cell_inside: np.ndarray

    @property
    def cells_outside(self) -> int:
        return int((~self.cell_inside).sum())


SMOOTH_CELLS = 0.6  # the outline's smoothing, in cells, for 10 000 codes (MNIST's test set)


def code_density(
    codes: np.ndarray,
    x_axis: np.ndarray,
    y_axis: np.ndarray,
    mass: float = 0.95,
    per_cell: int = 5,
    smooth_cells: float | None = None,
) -> CodeDensity:
    """The region of a decoded grid where the densest `mass` of the codes lie.

    A histogram of the codes in cell units (per_cell bins per cell, odd so that one bin sits on each cell's
    centre), smoothed with a Gaussian of smooth_cells cells (by default SMOOTH_CELLS · (10 000 / N)^(1/6),
    Scott's rule for how a 2-D kernel's width grows as the codes get fewer, so 360 codes are not read as
    a sieve of holes); the level is the density above which bins hold
    `mass` of all the codes. The histogram reaches past the grid where the codes do (up to 3 grid widths), so
    a grid that shows only part of the codes shows only part of the region.
    """
    if not 0.0 < mass < 1.0:
        raise ValueError(f"mass must be in (0, 1), got {mass}")
    if per_cell < 1 or per_cell % 2 == 0:
        raise ValueError(f"per_cell must be odd, got {per_cell}")
    codes = np.asarray(codes, np.float64)
    if smooth_cells is None:
        smooth_cells = SMOOTH_CELLS * (10_000 / len(codes)) ** (1 / 6)
    u, v = to_cell_units(codes[:, 0], x_axis), to_cell_units(codes[:, 1], y_axis)
    n_x, n_y = len(x_axis), len(y_axis)

    def edges(values: np.ndarray, n: int) -> tuple[np.ndarray, int]:
        # whole cells before the grid (so bins line up with it), the grid, whole cells after
        before = int(np.clip(np.ceil(-0.5 - values.min()), 0, 3 * n))
        after = int(np.clip(np.ceil(values.max() - (n - 0.5)), 0, 3 * n))
        return np.linspace(-0.5 - before, n - 0.5 + after, (before + n + after) * per_cell + 1), before * per_cell

    x_edges, x_skip = edges(u, n_x)
    y_edges, y_skip = edges(v, n_y)
    counts, _, _ = np.histogram2d(v, u, bins=(y_edges, x_edges))
    density = gaussian_smooth(counts / len(codes), smooth_cells * per_cell)
    ordered = np.sort(density.ravel())[::-1]
    reach = int(np.searchsorted(np.cumsum(ordered), mass * ordered.sum()))
    level = float(ordered[min(reach, len(ordered) - 1)])
    on_grid = density[y_skip : y_skip + n_y * per_cell, x_skip : x_skip + n_x * per_cell]
    centre_bins = on_grid[per_cell // 2 :: per_cell, per_cell // 2 :: per_cell]  # the bin on each cell's centre
    x_centres = (x_edges[:-1] + x_edges[1:]) / 2
    y_centres = (y_edges[:-1] + y_edges[1:]) / 2
    return CodeDensity(
        x=x_centres[x_skip : x_skip + n_x * per_cell],
        y=y_centres[y_skip : y_skip + n_y * per_cell],
        density=on_grid,
        level=level,
        mass=mass,
        cell_inside=(centre_bins >= level)[::-1],
    )


KERNEL_TRUNCATE_SD = 4.0  # the smoothing kernel reaches this many standard deviations (scipy.ndimage's default)


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """values (2-D) convolved with a Gaussian of sigma bins along each axis, zero beyond the edges: what
    scipy.ndimage.gaussian_filter(values, sigma, mode="constant") returns, without importing scipy (about 0.3 s of
    a page's first open on a 2-core machine; tests/lessons/test_latent_paths.py compares the two)."""
    radius = int(KERNEL_TRUNCATE_SD * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) if sigma > 0 else (offsets == 0).astype(np.float64)
    kernel /= kernel.sum()
    smoothed = np.asarray(values, np.float64)
    for _ in range(2):  # along the rows, then (transposed) along the columns
        padded = np.pad(smoothed, ((radius, radius), (0, 0)))
        length = smoothed.shape[0]
        out = np.zeros_like(smoothed)
        for tap, weight in enumerate(kernel):  # one shifted view per tap: the kernel is short, the histogram large
            out += weight * padded[tap : tap + length]
        smoothed = out.T
    return np.ascontiguousarray(smoothed)


def hole_radii(density: CodeDensity, x_axis: np.ndarray, y_axis: np.ndarray) -> np.ndarray:
    """The distance from the origin of each hole's cell centre (cells outside the outline), in the axes' units:
    prior standard deviations on a VAE's grid, so a small radius is a hole in the middle of its prior and a large
    one sits in the prior's tails, where few codes are expected anyway."""
    xx, yy = np.meshgrid(np.asarray(x_axis, np.float64), np.asarray(y_axis, np.float64)[::-1])  # top row first
    return np.hypot(xx, yy)[~density.cell_inside]


def slice_codes(base: np.ndarray, dim_x: int, dim_y: int, x_values: np.ndarray, y_values: np.ndarray) -> np.ndarray:
    """A 2-D slice through a D-dimensional latent: dims dim_x, dim_y run over the grid, the rest stay at base."""
    base = np.asarray(base, dtype=np.float32).ravel()
    if dim_x == dim_y or not (0 <= dim_x < base.size and 0 <= dim_y < base.size):
        raise ValueError(f"need two different dimensions below {base.size}, got {dim_x} and {dim_y}")
    plane = grid_codes(x_values, y_values)
    codes = np.repeat(base[None, :], len(plane), axis=0)
    codes[:, dim_x], codes[:, dim_y] = plane[:, 0], plane[:, 1]
    return codes


def lerp(z0: np.ndarray, z1: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Straight-line points (1 - t) z0 + t z1 for each t: shape (len(ts), D)."""
    z0, z1, ts = _as_pair_and_ts(z0, z1, ts)
    return (1.0 - ts) * z0 + ts * z1


def slerp(z0: np.ndarray, z1: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The spherical path the app draws, shape (len(ts), D): a polar interpolation, slerp on the directions and
    lerp on the norms.

    The unit direction follows Shoemake's (1985) slerp, along the great circle from z0's to z1's at constant
    angular speed, while the norm changes linearly: ‖z(t)‖ = (1 − t)‖z0‖ + t‖z1‖, constant only when
    ‖z0‖ = ‖z1‖. It is not the slerp that White (2016, "Sampling generative networks") applies to the codes
    themselves, sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 (`white_slerp`): the two paths agree only when the
    norms are equal; otherwise White's norm is not linear in t. By the triangle
    inequality the straight line's norm ‖(1 − t) z0 + t z1‖ is never above that, and dips below it in the
    middle unless z0 and z1 point the same way (at t = ½ it is ½‖z0 + z1‖). Falls back to lerp when z0 and z1
    are (anti)parallel or one of them is zero.
    """
    z0, z1, ts = _as_pair_and_ts(z0, z1, ts)
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0[0], z1[0], ts[:, 0])
    cos_omega = float(np.clip(np.dot(z0[0] / n0, z1[0] / n1), -1.0, 1.0))
    omega = np.arccos(cos_omega)
    if np.sin(omega) < 1e-6:
        return lerp(z0[0], z1[0], ts[:, 0])
    u0, u1 = z0 / n0, z1 / n1
    direction = (np.sin((1.0 - ts) * omega) * u0 + np.sin(ts * omega) * u1) / np.sin(omega)
    return (direction * ((1.0 - ts) * n0 + ts * n1)).astype(np.float32)


def white_slerp(z0: np.ndarray, z1: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Slerp's formula applied to the codes as they are (White 2016), shape (len(ts), D): for comparison with the
    path drawn (`slerp`), which it equals only when ‖z0‖ = ‖z1‖. Falls back to lerp as `slerp` does."""
    z0, z1, ts = _as_pair_and_ts(z0, z1, ts)
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0[0], z1[0], ts[:, 0])
    omega = np.arccos(float(np.clip(np.dot(z0[0] / n0, z1[0] / n1), -1.0, 1.0)))
    if np.sin(omega) < 1e-6:
        return lerp(z0[0], z1[0], ts[:, 0])
    return ((np.sin((1.0 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)).astype(np.float32)


def interpolate(z0: np.ndarray, z1: np.ndarray, ts: np.ndarray, method: str) -> np.ndarray:
    """lerp or slerp by name."""
    if method == "linear":
        return lerp(z0, z1, ts)
    if method == "spherical":
        return slerp(z0, z1, ts)
    raise ValueError(f"unknown interpolation {method!r}; use one of {', '.join(INTERPOLATIONS)}")


def _as_pair_and_ts(z0, z1, ts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z0 = np.asarray(z0, dtype=np.float32).reshape(1, -1)
    z1 = np.asarray(z1, dtype=np.float32).reshape(1, -1)
    assert z0.shape == z1.shape, f"codes differ in size: {z0.shape} vs {z1.shape}"
    return z0, z1, np.asarray(ts, dtype=np.float32).reshape(-1, 1)


def prior_mean_norm(latent_dim: int) -> float:
    """E‖z‖ for z ~ N(0, I_D): the mean of a chi distribution, √2 Γ((D + 1)/2) / Γ(D/2) (1.25 for D = 2;
    just below √D for large D)."""
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
    return math.sqrt(2.0) * math.exp(math.lgamma((latent_dim + 1) / 2) - math.lgamma(latent_dim / 2))


def circle(radius: float, n_points: int = 121) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a closed circle of the given radius around the origin."""
    angles = np.linspace(0.0, 2.0 * np.pi, n_points)
    return radius * np.cos(angles), radius * np.sin(angles)


def slider_ranges(codes: np.ndarray, variational: bool, n_sigma: float = 3.0) -> list[tuple[float, float, float]]:
    """(low, high, centre) for one slider per latent dimension.

    A VAE's prior is N(0, 1) in every dimension, so ±n_sigma around 0. An AE has no prior: its codes can sit
    anywhere at any scale, so the range is the data's own mean ± n_sigma standard deviations.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if variational:
        return [(-n_sigma, n_sigma, 0.0)] * codes.shape[1]
    means, stds = codes.mean(0), np.maximum(codes.std(0), 1e-3)
    return [(float(m - n_sigma * s), float(m + n_sigma * s), float(m)) for m, s in zip(means, stds, strict=False)]
