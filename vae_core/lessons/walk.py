"""The Interpolation page's walk from A to B as numbers a browser only has to index.

The page's client-side walk (ui/widgets/latent_pad.latent_walk) decodes z(t) in the browser and draws it in the
picture of the test codes; everything that is maths is computed here, once per path: z(t) for every t of the
slider's grid, where each lands in the 2-D picture, its norm, the path drawn finely, and the norms of both paths
(the linear one and the spherical one) between the same two codes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vae_core.lessons.latent_paths import interpolate


@dataclass(frozen=True)
class Walk:
    """One path from z_A to z_B, sampled on the slider's grid and finely; points are in the picture's 2-D plane."""

    method: str  # "linear" or "spherical" (vae_core.lessons.latent_paths.INTERPOLATIONS)
    ts: np.ndarray  # (T,) the slider's grid of t in [0, 1]
    codes: np.ndarray  # (T, D) z(t) on the chosen path: what the browser decodes
    points: np.ndarray  # (T, 2) z(t) projected into the picture: where the star goes
    norms: np.ndarray  # (T,) ‖z(t)‖ in the D-dimensional latent space (not in the picture)
    fine_ts: np.ndarray  # (F,) a finer grid of t for the drawn path and the norm curves
    fine_points: np.ndarray  # (F, 2) the chosen path projected
    lerp_norms: np.ndarray  # (F,) ‖z(t)‖ along the linear path
    slerp_norms: np.ndarray  # (F,) ‖z(t)‖ along the spherical path


def plan_walk(
    z_a: np.ndarray,
    z_b: np.ndarray,
    method: str,
    ts: Sequence[float] | np.ndarray,
    fine_ts: Sequence[float] | np.ndarray,
    project: Callable[[np.ndarray], np.ndarray],
) -> Walk:
    """The walk along `method` from z_a to z_b; project maps (N, D) codes to (N, 2) points of the picture
    (vae_core.lessons.projection.Projection2D.transform)."""
    ts = np.asarray(ts, dtype=np.float64)
    fine_ts = np.asarray(fine_ts, dtype=np.float64)
    assert ts.ndim == 1 and fine_ts.ndim == 1 and len(ts) >= 2, "two 1-D grids of t"
    codes = interpolate(z_a, z_b, ts, method).astype(np.float32)
    fine = interpolate(z_a, z_b, fine_ts, method)
    points = np.asarray(project(codes), dtype=np.float64)
    fine_points = np.asarray(project(fine), dtype=np.float64)
    assert points.shape == (len(ts), 2) and fine_points.shape == (len(fine_ts), 2), "project must give (N, 2)"
    return Walk(
        method=method,
        ts=ts,
        codes=codes,
        points=points,
        norms=np.linalg.norm(codes.astype(np.float64), axis=1),
        fine_ts=fine_ts,
        fine_points=fine_points,
        lerp_norms=np.linalg.norm(interpolate(z_a, z_b, fine_ts, "linear"), axis=1),
        slerp_norms=np.linalg.norm(interpolate(z_a, z_b, fine_ts, "spherical"), axis=1),
    )


def picture_range(
    backdrop: np.ndarray,
    path: np.ndarray,
    prior_centre: Sequence[float] | None = None,
    prior_radius: float = 2.0,
    margin: float = 0.05,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x0, x1), (y0, y1)) that holds the backdrop's points (all but the 0.1% farthest on each side, so a few
    outliers do not shrink the cloud), the whole path and, where drawn, the prior's outer circle; with a margin."""
    backdrop = np.asarray(backdrop, dtype=np.float64).reshape(-1, 2)
    path = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    lows, highs = [path.min(axis=0)], [path.max(axis=0)]
    if len(backdrop):
        lows.append(np.quantile(backdrop, 0.001, axis=0))
        highs.append(np.quantile(backdrop, 0.999, axis=0))
    if prior_centre is not None:
        centre = np.asarray(prior_centre, dtype=np.float64)
        lows.append(centre - prior_radius)
        highs.append(centre + prior_radius)
    low, high = np.min(lows, axis=0), np.max(highs, axis=0)
    pad = (high - low) * margin + 1e-6
    return (float(low[0] - pad[0]), float(high[0] + pad[0])), (float(low[1] - pad[1]), float(high[1] + pad[1]))
