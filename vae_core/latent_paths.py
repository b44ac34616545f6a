"""Codes to decode: grids over the latent plane, interpolation paths, slices and slider ranges (no Streamlit).

Everything returns float32 numpy arrays of codes, (N, D); ui.state.derived decodes them with a cached model.
"""

from __future__ import annotations

import numpy as np
import torch

INTERPOLATIONS = ("linear", "spherical")


def gaussian_quantile_axis(n: int) -> np.ndarray:
    """n values of z with equal prior mass between them: Φ⁻¹((i + 0.5) / n), i = 0..n-1.

    Kingma & Welling (2014), Fig. 4: linearly spaced points of the unit square mapped through the inverse
    CDF of the Gaussian, so the grid covers the prior where its mass is, and never reaches infinity.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    probabilities = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return torch.special.ndtri(probabilities).numpy().astype(np.float32)


def linear_axis(n: int, half_range: float) -> np.ndarray:
    """n evenly spaced values from -half_range to +half_range."""
    if n < 1 or half_range <= 0:
        raise ValueError(f"need n >= 1 and half_range > 0, got n={n}, half_range={half_range}")
    return np.linspace(-half_range, half_range, n, dtype=np.float32)


def grid_codes(x_values: np.ndarray, y_values: np.ndarray) -> np.ndarray:
    """(len(y)*len(x), 2) codes in image order: the top row has the largest y, each row runs left to right.

    So cell (row r, column c) of the decoded grid sits where the scatter plot shows z = (x[c], y[-1-r]).
    """
    xs, ys = np.meshgrid(np.asarray(x_values, np.float32), np.asarray(y_values, np.float32)[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


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
    """Spherical interpolation (Shoemake 1985; White 2016 for generative models), shape (len(ts), D).

    Moves along the great circle between the directions of z0 and z1 while the norm changes linearly, so the
    path stays in the shell where Gaussian samples live instead of cutting through the low-norm middle.
    Falls back to lerp when z0 and z1 are (anti)parallel or one of them is zero.
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
    return [(float(m - n_sigma * s), float(m + n_sigma * s), float(m)) for m, s in zip(means, stds)]
