"""Sprites with known generating factors, drawn in code: dSprites' recipe (Matthey et al. 2017) at 32 x 32.

Every image is one white shape on black, fixed by five factors: shape (square, ellipse, heart), scale, rotation
and the x and y position of its centre. The full factor grid is rendered, once, deterministically (no download,
no randomness in the pictures); a seeded permutation splits it into train and test. The disentanglement lesson
measures how each latent dimension of a model relates to these factors.

The grid is sized for CPU training (SPRITE_COUNT = 12,960 images, about a second per epoch of a small MLP on one
thread). Rotations span a quarter turn only: a square repeats itself every quarter turn and an ellipse every half
turn, so a wider range would draw the same image for different factor values (dSprites has such duplicates);
here every image is unique, which tests/engine/test_sprites.py checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SPRITE_SIDE = 32  # pixels
SHAPES = ("square", "ellipse", "heart")
SCALES = tuple(float(s) for s in np.linspace(0.5, 1.0, 5))  # of BASE_RADIUS
ROTATIONS = tuple(float(r) for r in np.linspace(0.0, 90.0, 6, endpoint=False))  # degrees: 0, 15, ..., 75
POSITIONS = tuple(float(p) for p in np.linspace(10.0, 22.0, 12))  # centre, in pixels from the top-left corner
BASE_RADIUS = 7.0  # pixels: half the width of a scale-1 shape (a rotated square's corner stays inside the frame)
ELLIPSE_ASPECT = 0.5  # minor / major axis
SQUARE_HALF_SIDE = 0.95  # radii


@dataclass(frozen=True)
class Factor:
    """One generating factor: its name and its values, in grid order (a factor's index is its position here)."""

    name: str
    values: tuple  # shape names, or numbers
    unit: str = ""

    def format(self, value: object) -> str:
        """A value as a label: 'heart', '0.75', '45°', '16.55px'."""
        if isinstance(value, str):
            return value
        assert isinstance(value, (int, float)), f"a factor value is a name or a number, got {value!r}"
        return f"{round(float(value), 2):g}{self.unit}"


FACTORS = (
    Factor("shape", SHAPES),
    Factor("scale", SCALES),
    Factor("rotation", ROTATIONS, "°"),
    Factor("x", POSITIONS, "px"),
    Factor("y", POSITIONS, "px"),
)
FACTOR_NAMES = tuple(f.name for f in FACTORS)
GRID_SHAPE = tuple(len(f.values) for f in FACTORS)
SPRITE_COUNT = math.prod(GRID_SHAPE)
SPRITES_TEST_FRACTION = 0.2
SPRITES_SPLIT_SEED = 0


def factor_grid() -> np.ndarray:
    """Every factor combination as indices into FACTORS' values, (SPRITE_COUNT, 5) int64, in C order of
    GRID_SHAPE (the last factor, y, varies fastest)."""
    mesh = np.meshgrid(*(np.arange(n) for n in GRID_SHAPE), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1).astype(np.int64)


def render(factor_indices: np.ndarray) -> np.ndarray:
    """Binary images (N, SPRITE_SIDE, SPRITE_SIDE) uint8 for factor indices (N, 5): a pixel is on when its centre
    lies inside the shape."""
    idx = np.asarray(factor_indices, dtype=np.int64).reshape(-1, len(FACTORS))
    # float32: half the time of float64; the pixel tests are far from its rounding (checked: every image unique)
    scale = np.asarray(SCALES, dtype=np.float32)[idx[:, 1]] * BASE_RADIUS
    angle = np.deg2rad(np.asarray(ROTATIONS, dtype=np.float32)[idx[:, 2]])
    cx, cy = (np.asarray(POSITIONS, dtype=np.float32)[idx[:, k]] for k in (3, 4))
    centres = np.arange(SPRITE_SIDE, dtype=np.float32) + 0.5
    px = centres[None, None, :] - cx[:, None, None]  # (N, 1, W)
    py = centres[None, :, None] - cy[:, None, None]  # (N, H, 1)
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    # The pixel in the shape's own frame (rotated back, in units of its radius); y points up in that frame.
    u = (cos * px + sin * py) / scale[:, None, None]
    v = -(-sin * px + cos * py) / scale[:, None, None]
    inside = np.zeros(u.shape, dtype=bool)
    for shape_index, shape in enumerate(SHAPES):
        rows = idx[:, 0] == shape_index
        if rows.any():
            inside[rows] = _inside(shape, u[rows], v[rows])
    return inside.astype(np.uint8)


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if shape == "square":
        # Half-side 0.95 radii: scale steps then move an axis-aligned square's edges by a whole pixel, so no two
        # scales draw the same square (at 0.8 some did).
        return (np.abs(u) <= SQUARE_HALF_SIDE) & (np.abs(v) <= SQUARE_HALF_SIDE)
    if shape == "ellipse":
        return (u / 1.0) ** 2 + (v / ELLIPSE_ASPECT) ** 2 <= 1.0
    # The heart curve (x² + y² − 1)³ = x² y³, scaled to about one radius (it spans x in ±1.14, y in −1..1.2).
    x, y = u * 1.15, v * 1.15 + 0.1
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


def split_indices(split: str) -> np.ndarray:
    """The grid rows of a split, sorted: a fixed seeded permutation, its first SPRITES_TEST_FRACTION the test."""
    order = np.random.default_rng(SPRITES_SPLIT_SEED).permutation(SPRITE_COUNT)
    n_test = round(SPRITE_COUNT * SPRITES_TEST_FRACTION)
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return np.sort(chosen)


def factor_values(factor_indices: np.ndarray) -> list[tuple]:
    """Each row's factors as values (shape name, scale, degrees, x px, y px), for captions."""
    return [tuple(f.values[i] for f, i in zip(FACTORS, row, strict=True)) for row in np.asarray(factor_indices)]
