"""Seeded toy manifolds: a few hundred points near a curve in 2-D or a surface in 3-D.

The autoencoder lesson's small models train on these in seconds (the zoo command; they ship trained), so that a
student can see what each objective does to a manifold they can draw. Every sample carries its clean point on the
manifold, the manifold coordinate t and the unit tangent there, so "along" and "across" the manifold are known exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

TOY_MANIFOLDS = ("curve", "spiral", "swiss-roll")  # 2-D, 2-D, 3-D
MANIFOLD_DIMS = {"curve": 2, "spiral": 2, "swiss-roll": 3}  # ambient dimension of each


@dataclass(frozen=True)
class ToyManifold:
    """Points near a manifold, with the clean points and the geometry the lesson draws."""

    name: str  # one of TOY_MANIFOLDS
    points: Tensor  # (N, d) clean + isotropic Gaussian noise of std `noise`
    clean: Tensor  # (N, d) the points on the manifold
    t: Tensor  # (N,) the manifold coordinate of each clean point (arc parameter, not arc length)
    tangent: Tensor  # (N, d) unit tangent d clean / d t at each clean point
    noise: float  # std of the added noise, in the units of the points
    seed: int

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def __len__(self) -> int:
        return self.points.shape[0]


def make_toy_manifold(name: str, n_points: int = 500, noise: float = 0.05, seed: int = 0) -> ToyManifold:
    """n_points samples of a named manifold, t drawn uniformly, plus N(0, noise^2 I) noise; all seeded.

    curve: y = 0.8 sin(1.5 x) for x in [-2, 2] (an S-shaped 1-D manifold in 2-D; PCA's best line misses
    its bends). spiral: (t cos t, t sin t) / 3 for t in [pi/2, 3 pi] (Archimedes' spiral, 1-D in 2-D).
    swiss-roll: (t cos t, h, t sin t) / 3 for t in [3 pi/2, 9 pi/2], h in [0, 2] (a 2-D sheet rolled in 3-D;
    its tangent here is the one along t).
    """
    if name not in TOY_MANIFOLDS:
        raise ValueError(f"unknown toy manifold {name!r}; known: {', '.join(TOY_MANIFOLDS)}")
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(n_points, generator=generator, dtype=torch.float64)
    if name == "curve":
        t = -2.0 + 4.0 * u
        clean = torch.stack([t, 0.8 * torch.sin(1.5 * t)], 1)
        velocity = torch.stack([torch.ones_like(t), 1.2 * torch.cos(1.5 * t)], 1)
    elif name == "spiral":
        t = math.pi / 2 + 2.5 * math.pi * u
        clean = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 3
        velocity = torch.stack([torch.cos(t) - t * torch.sin(t), torch.sin(t) + t * torch.cos(t)], 1) / 3
    else:
        t = 1.5 * math.pi + 3.0 * math.pi * u
        height = 2.0 * torch.rand(n_points, generator=generator, dtype=torch.float64)
        clean = torch.stack([t * torch.cos(t), height * 3, t * torch.sin(t)], 1) / 3
        velocity = (
            torch.stack([torch.cos(t) - t * torch.sin(t), torch.zeros_like(t), torch.sin(t) + t * torch.cos(t)], 1) / 3
        )
    points = clean + noise * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    tangent = velocity / velocity.norm(dim=1, keepdim=True)
    return ToyManifold(name, points.float(), clean.float(), t.float(), tangent.float(), float(noise), seed)


def manifold_normal(manifold: ToyManifold) -> Tensor:
    """A unit direction across the manifold at each clean point, (N, d).

    2-D curves: the tangent turned by +90 degrees. The swiss roll: tangent x (0, 1, 0), normal to the sheet
    (its other tangent is the height axis).
    """
    tangent = manifold.tangent
    if manifold.dim == 2:
        return torch.stack([-tangent[:, 1], tangent[:, 0]], 1)
    height_axis = torch.zeros_like(tangent)
    height_axis[:, 1] = 1.0
    normal = torch.linalg.cross(tangent, height_axis, dim=1)
    return normal / normal.norm(dim=1, keepdim=True)


def grid_2d(points: Tensor, steps: int = 21, margin: float = 0.3) -> Tensor:
    """A steps x steps grid of 2-D inputs covering the points' bounding box enlarged by `margin` per side.

    Returned flat, (steps * steps, 2), rows varying fastest in x.
    """
    if points.shape[1] != 2:
        raise ValueError(f"grid_2d needs 2-D points, got shape {tuple(points.shape)}")
    low, high = points.min(0).values, points.max(0).values
    pad = margin * (high - low)
    xs = torch.linspace(float(low[0] - pad[0]), float(high[0] + pad[0]), steps)
    ys = torch.linspace(float(low[1] - pad[1]), float(high[1] + pad[1]), steps)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.flatten(), grid_y.flatten()], 1)
