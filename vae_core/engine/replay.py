"""A training run's replay: the codes of a fixed set of test images and the decoder's grid, every few hundred steps.

The Train page draws these frames in the browser (a time slider replays the run) and the β page's sweep replays
any model that carries them; a checkpoint stores them beside the weights. Frames are compact on purpose: a
shipped model's replay counts against the zoo's 30 MB budget, and a browser receives the whole run at once.

Coordinates: every frame is drawn in one fixed plane with fixed axes, so motion on screen is motion of the codes.
For a 2-D latent space the plane is z itself; for more dimensions it is the final model's first two principal
axes of the codes (the first finished epoch's while a run is still going), and the prior's centre moves with the
projection's offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: listing checkpoints reads a replay's header without numpy (nor its pickle)
    import numpy as np

MAX_FRAMES = 60  # snapshots kept per run: a longer run keeps every other one, so frames stay evenly spaced
REPLAY_IMAGES = 1000  # the fixed subset of test images whose codes are drawn (all of a smaller test split)
GRID_CELLS = 6  # the decoder's grid is GRID_CELLS x GRID_CELLS images spanning the plot's extent
GRID_GREY_LEVELS = 16  # the grid's PNG stores 16 grey levels (4 bits a pixel): a thumbnail, a quarter the bytes

PLANE_LATENT = "z"  # the frames' axes are the two latent coordinates
PLANE_PCA = "pca"  # the frames' axes are the final model's first two principal axes of the codes
PLANES = (PLANE_LATENT, PLANE_PCA)


@dataclass(frozen=True)
class ReplayFrame:
    """One snapshot: where the fixed images' codes were and what the decoder drew, at one moment of training."""

    step: int  # global optimiser step (1-based) after which the snapshot was taken
    epoch: float  # fractional epoch: step / steps_per_epoch
    codes: np.ndarray  # float16, (n_images, 2): posterior means (autoencoders: codes), in the plane's coordinates
    grid_png: bytes  # the decoder's GRID_CELLS x GRID_CELLS grid over `extent`, a GRID_GREY_LEVELS grey PNG


@dataclass(frozen=True)
class TrainingReplay:
    """The frames of one run in one fixed plane, with what a viewer needs to draw them."""

    frames: tuple[ReplayFrame, ...]  # in training order, at most MAX_FRAMES
    labels: np.ndarray  # uint8, (n_images,): the classes of the fixed images, for colour
    image_indices: np.ndarray  # int64, (n_images,): which test images (indices into the test split)
    extent: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max: the axes of every frame and the grid
    plane: str  # one of PLANES
    prior_centre: tuple[float, float] | None  # N(0, I)'s centre in the plane; None for models without a prior
    steps_per_epoch: int
