"""A synthetic training replay (vae_core.engine.replay.TrainingReplay) for the viewer's tests and benchmark.

Ten classes start as one blob at the origin and drift apart to their own centres on a circle, frame by frame, as a
VAE's codes do while it learns; each frame's grid is a GRID_CELLS x GRID_CELLS tiling of 8 x 8 cells whose
brightness grows with the frame, in GRID_GREY_LEVELS grey levels. Deterministic for a seed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vae_core.engine.replay import (
    GRID_CELLS,
    GRID_GREY_LEVELS,
    PLANE_LATENT,
    REPLAY_IMAGES,
    ReplayFrame,
    TrainingReplay,
)

N_CLASSES = 10
CELL_PX = 8


def synthetic_replay(
    n_frames: int = 30,
    n_images: int = REPLAY_IMAGES,
    *,
    steps_per_epoch: int = 100,
    every_steps: int = 40,
    variational: bool = True,
    seed: int = 0,
) -> TrainingReplay:
    """n_frames snapshots every every_steps steps of n_images codes in [-3, 3]², labelled 0-9 in turn."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n_images) % N_CLASSES).astype(np.uint8)
    angles = 2 * np.pi * labels / N_CLASSES
    centres = 1.8 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    noise = rng.normal(scale=0.35, size=(n_images, 2))
    frames = []
    for k in range(n_frames):
        progress = (k + 1) / n_frames  # the classes separate as training goes on
        codes = (progress * centres + (0.3 + 0.7 * progress) * noise).astype(np.float16)
        step = (k + 1) * every_steps
        frames.append(ReplayFrame(step=step, epoch=step / steps_per_epoch, codes=codes, grid_png=_grid_png(k, rng)))
    return TrainingReplay(
        frames=tuple(frames),
        labels=labels,
        image_indices=np.arange(n_images, dtype=np.int64),
        extent=(-3.0, 3.0, -3.0, 3.0),
        plane=PLANE_LATENT,
        prior_centre=(0.0, 0.0) if variational else None,
        steps_per_epoch=steps_per_epoch,
    )


def _grid_png(k: int, rng: np.random.Generator) -> bytes:
    side = GRID_CELLS * CELL_PX
    levels = rng.integers(0, GRID_GREY_LEVELS, size=(side, side)) * min(1.0, 0.2 + 0.05 * k)
    pixels = (np.floor(levels) * (255 // (GRID_GREY_LEVELS - 1))).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
