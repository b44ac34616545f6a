"""Recording a training run's replay (vae_core.engine.replay): a callback that snapshots the codes of a fixed set of
test images and the decoder's weights at evenly spaced steps (at least MIN_FRAME_GAP_STEPS apart), then draws every
frame in one fixed plane.

A run that records starts from `recorder.model` (built under the run's seed, as fit builds its own) and passes it
to fit with the recorder as callback:

    recorder = ReplayRecorder.for_run(model_config, train_config, n_train, test_data)
    result = fit(model_config, train_config, recorder, model=recorder.model, ...)
    replay = recorder.finish(result.model)

fit reseeds torch when it starts, so such a run is reproducible from its seed; the snapshots themselves never draw
a random number (they run under torch.no_grad in eval mode, and the train mode is restored).

The decoder's grid of each frame is drawn when the run ends, over the extent of all the frames in the final plane:
so each frame keeps a float16 copy of the decoder's weights until then. Those copies and the codes are bounded by
REPLAY_MEMORY_BYTES (fewer frames are taken when a large model would exceed it).

Grid layout: the PNG's top row of cells is the extent's largest y, its left column the smallest x (as on a plot);
`grid_cell_centres` gives the plane coordinates of the cells, in that order.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import ImageDataset, load_dataset
from vae_core.engine.models import LatentModel, build_model
from vae_core.engine.replay import (
    GRID_CELLS,
    GRID_GREY_LEVELS,
    MAX_FRAMES,
    PLANE_LATENT,
    PLANE_PCA,
    REPLAY_IMAGES,
    ReplayFrame,
    TrainingReplay,
)
from vae_core.engine.results import EpochRecord
from vae_core.engine.training import StepProgress, TrainingCallback, fixed_test_images

# Snapshots held while a run trains: float16 decoder weights and float32 codes per frame. The shipped 2-D MNIST
# models need 0.5 MB a frame (30 MB for 60 frames); the largest model the limits allow (20 M parameters, 40 MB of
# float16 decoder at most) gets 6 frames within this, never more memory.
REPLAY_MEMORY_BYTES = 256 * 2**20
EXTENT_PERCENTILES = (0.5, 99.5)  # the extent holds all but the farthest 0.5% of codes on each side
EXTENT_PADDING = 0.05  # of the span, added on each side so the outermost codes are not on the frame's edge
PRIOR_SIGMAS = 3.0  # a model with a prior: the extent holds N(0, I)'s ±3σ disc at least
LIVE_GROWTH = 0.25  # a live extent that must grow grows this much more (of its span), so it grows rarely
MIN_SPAN = 1e-3  # an extent's side is at least this long (codes that have not moved yet)
# A frame costs one to two training steps of the Train page's default model (MNIST, MLP 256-128, z = 2, one torch
# thread: encoding the REPLAY_IMAGES about one step, the grid's PNG and the live view about one more; measured by
# benchmarks/train_in_app.py's "frame" line), so frames at least this many steps apart keep the replay within about
# 2% of the training time. A short run still gets MIN_FRAMES frames, closer together: its whole training takes
# seconds (digits' default, 30 epochs, is 360 steps), and a replay of 4 moments would show a student nothing. They
# cost it about 15 x 1.5 steps (6% of those 360 steps, under half a second; 2% of two MNIST epochs).
MIN_FRAME_GAP_STEPS = 100
MIN_FRAMES = 15


def replay_supported(model_config: ModelConfig) -> bool:
    """Whether a run of this model can record a replay: not for models whose decoder takes a class label (the
    conditional VAE), whose grid would depend on a label the replay does not choose."""
    return not model_config.needs_labels


def frame_steps(
    total_steps: int, max_frames: int = MAX_FRAMES, min_gap: int = MIN_FRAME_GAP_STEPS, min_frames: int = MIN_FRAMES
) -> list[int]:
    """The global steps at which frames are taken: 0 (the untrained model) to total_steps, evenly spaced (gaps
    differ by at most one step), at most max_frames of them, and no two closer than min_gap steps unless that
    would leave fewer than min_frames (then min_frames, or one per step of a run shorter than that)."""
    spaced = total_steps // max(1, min_gap) + 1
    count = max(1, min(max_frames, total_steps + 1, max(2, min_frames, spaced)))
    if count == 1:
        return [0]
    return sorted({round(k * total_steps / (count - 1)) for k in range(count)})


def start_model(model_config: ModelConfig, train_config: TrainConfig) -> LatentModel:
    """The untrained model of a recorded run: built under the run's seed (the same weights as fit's own build),
    without changing torch's global generator for the caller."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        return build_model(model_config)


def replay_images(test_data: ImageDataset, train_config: TrainConfig) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """The fixed images of a replay, their labels (uint8) and indices: the first REPLAY_IMAGES of the test split,
    under the run's protocol (the fixed binarisation fit measures on, when it trains binarised)."""
    images = fixed_test_images(test_data, train_config, torch.device("cpu"))
    assert images is not None
    n = min(REPLAY_IMAGES, len(images))
    labels = test_data.labels[:n].numpy()
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("a replay colours by class: the labels must lie in 0..255")
    return images[:n], labels.astype(np.uint8), np.arange(n, dtype=np.int64)


@dataclass(frozen=True)
class Snapshot:
    """What one frame keeps until the run ends."""

    step: int
    codes: torch.Tensor  # float32 (n_images, latent_dim): posterior means (autoencoders: codes)
    decoder: dict[str, torch.Tensor]  # float16 copies of the decoder's state at that step


@dataclass(frozen=True)
class Plane:
    """Plane coordinates (u, w) of a latent code z: (z - origin) @ axes.T; a plane point is origin + (u, w) @ axes."""

    kind: str  # one of replay.PLANES
    origin: torch.Tensor  # (latent_dim,)
    axes: torch.Tensor  # (2, latent_dim), orthonormal rows

    def project(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes - self.origin) @ self.axes.T

    def lift(self, points: torch.Tensor) -> torch.Tensor:
        return self.origin + points @ self.axes


def latent_plane(latent_dim: int) -> Plane:
    """The plane of a 2-D latent space: z itself."""
    assert latent_dim == 2, "only a 2-D latent space is its own plane"
    return Plane(PLANE_LATENT, torch.zeros(2), torch.eye(2))


def pca_plane(codes: torch.Tensor) -> Plane:
    """The codes' mean and first two principal axes (SVD of the centred codes); each axis's largest component is
    made positive, so the same codes always give the same plane."""
    codes = codes.double()
    origin = codes.mean(0)
    _, _, vh = torch.linalg.svd(codes - origin, full_matrices=False)
    axes = vh[:2]
    signs = torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))
    axes = axes * torch.where(signs == 0, 1.0, signs)
    return Plane(PLANE_PCA, origin.float(), axes.float())


def plane_for(codes: torch.Tensor) -> Plane:
    """z for a 2-D latent space, the codes' principal plane for more dimensions."""
    return latent_plane(2) if codes.shape[1] == 2 else pca_plane(codes)


def replay_extent(
    projected: list[torch.Tensor], prior_centre: tuple[float, float] | None
) -> tuple[float, float, float, float]:
    """x_min, x_max, y_min, y_max holding the codes of every frame (all but the farthest EXTENT_PERCENTILES),
    padded, and the prior's ±PRIOR_SIGMAS disc when there is a prior."""
    points = torch.cat(projected).double().numpy()
    low, high = np.percentile(points, EXTENT_PERCENTILES, axis=0)
    bounds = []
    for axis in range(2):
        lo, hi = float(low[axis]), float(high[axis])
        pad = EXTENT_PADDING * (hi - lo)
        lo, hi = lo - pad, hi + pad
        if prior_centre is not None:
            lo = min(lo, prior_centre[axis] - PRIOR_SIGMAS)
            hi = max(hi, prior_centre[axis] + PRIOR_SIGMAS)
        if hi - lo < MIN_SPAN:
            middle = (lo + hi) / 2
            lo, hi = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
        bounds += [lo, hi]
    return (bounds[0], bounds[1], bounds[2], bounds[3])


def grid_cell_centres(
    extent: tuple[float, float, float, float], cells: int = GRID_CELLS
) -> tuple[np.ndarray, np.ndarray]:
    """The plane coordinates of the grid's cell centres: x left to right, y top to bottom (largest first)."""
    x_min, x_max, y_min, y_max = extent
    fractions = (np.arange(cells) + 0.5) / cells
    return x_min + fractions * (x_max - x_min), y_max - fractions * (y_max - y_min)


_GREY_PALETTE = [level * 255 // (GRID_GREY_LEVELS - 1) for level in range(GRID_GREY_LEVELS) for _ in range(3)]
_PNG_BITS = math.ceil(math.log2(GRID_GREY_LEVELS))


@torch.no_grad()
def decoder_grid_png(model: LatentModel, plane: Plane, extent: tuple[float, float, float, float]) -> bytes:
    """The decoder's GRID_CELLS x GRID_CELLS images at the extent's cell centres, as a GRID_GREY_LEVELS grey PNG
    (a palette of grey levels, 4 bits a pixel); several channels are averaged to grey."""
    xs, ys = grid_cell_centres(extent)
    u, w = np.meshgrid(xs, ys)  # row r, column c: the cell at (xs[c], ys[r])
    points = torch.from_numpy(np.stack([u.ravel(), w.ravel()], axis=1)).float()
    images = model.decode(plane.lift(points)).float().mean(1)  # (cells², H, W)
    cells, (height, width) = GRID_CELLS, images.shape[1:]
    tiled = images.reshape(cells, cells, height, width).permute(0, 2, 1, 3).reshape(cells * height, cells * width)
    levels = torch.round(tiled.clamp(0, 1) * (GRID_GREY_LEVELS - 1)).to(torch.uint8).numpy()
    picture = Image.fromarray(levels, mode="P")
    picture.putpalette(_GREY_PALETTE)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", bits=_PNG_BITS, optimize=True)
    return buffer.getvalue()


def snapshot_bytes(model: LatentModel, n_images: int) -> int:
    """Memory one snapshot of this model holds: float16 decoder weights and float32 codes."""
    decoder = sum(value.numel() for value in decoder_state(model).values())
    return 2 * decoder + 4 * n_images * model.config.latent_dim


def decoder_state(model: LatentModel) -> dict[str, torch.Tensor]:
    """The entries of the state that decoding reads: the decoder's (every model here has one), else all."""
    state = model.state_dict()
    return {key: value for key, value in state.items() if key.startswith("decoder.")} or dict(state)


class ReplayRecorder(TrainingCallback):
    """fit's callback that takes a replay's frames; `finish(model)` draws them, `live()` draws the frames so far."""

    def __init__(
        self,
        model: LatentModel,
        images: torch.Tensor,
        labels: np.ndarray,
        image_indices: np.ndarray,
        *,
        total_steps: int,
        steps_per_epoch: int,
        max_frames: int = MAX_FRAMES,
        min_gap: int = MIN_FRAME_GAP_STEPS,
        memory_bytes: int = REPLAY_MEMORY_BYTES,
    ) -> None:
        if not replay_supported(model.config):
            raise ValueError(f"a {model.config.kind} model takes class labels: its run records no replay")
        self.model, self.images = model, images
        self.labels, self.image_indices = labels, image_indices
        self.steps_per_epoch = steps_per_epoch
        affordable = max(2, memory_bytes // max(1, snapshot_bytes(model, len(images))))
        self.steps = frame_steps(total_steps, min(max_frames, affordable), min_gap)
        self.snapshots: list[Snapshot] = []
        self._live: _LiveView | None = None
        self._epoch_plane: Plane | None = None  # the live plane, once an epoch has finished
        self._take(0)
        self._first_plane = plane_for(self.snapshots[0].codes)  # the live plane until then

    @classmethod
    def for_run(
        cls,
        model_config: ModelConfig,
        train_config: TrainConfig,
        n_train: int,
        test_data: ImageDataset | None = None,
        *,
        max_frames: int = MAX_FRAMES,
        min_gap: int = MIN_FRAME_GAP_STEPS,
    ) -> ReplayRecorder:
        """A recorder for fit(model_config, train_config) on n_train images, with its start model (pass
        `recorder.model` to fit as model=); test_data: the split fit measures on (the whole test split if None);
        max_frames and min_gap: frame_steps'."""
        test_data = test_data if test_data is not None else load_dataset(train_config.dataset, "test")
        if test_data.input_shape != model_config.input_shape:  # as fit would say, before the first frame is taken
            raise ValueError(
                f"the model expects images shaped {model_config.input_shape} but {train_config.dataset} "
                f"images are {test_data.input_shape}"
            )
        images, labels, indices = replay_images(test_data, train_config)
        steps_per_epoch = math.ceil(n_train / train_config.batch_size)
        return cls(
            start_model(model_config, train_config),
            images,
            labels,
            indices,
            total_steps=train_config.epochs * steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            max_frames=max_frames,
            min_gap=min_gap,
        )

    # --- fit's callbacks --------------------------------------------------------------------------------------
    def on_step(self, progress: StepProgress) -> None:
        if len(self.snapshots) < len(self.steps) and progress.global_step == self.steps[len(self.snapshots)]:
            self._take(progress.global_step)

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        if model is not self.model:
            raise ValueError("a recorded run trains the recorder's model: pass model=recorder.model to fit")
        if self._epoch_plane is None:
            self._epoch_plane = plane_for(self._codes(model))

    # --- the replay -------------------------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return len(self.snapshots)

    @property
    def live_plane(self) -> Plane:
        """The plane live() draws in: the first finished epoch's, or the first frame's before one has finished."""
        return self._epoch_plane or self._first_plane

    def finish(self, model: LatentModel) -> TrainingReplay:
        """Every frame in the final plane (z, or the principal axes of `model`'s codes) and one extent."""
        plane = plane_for(self._codes(model))
        scratch = _scratch_copy(model)
        projected = [plane.project(snapshot.codes) for snapshot in self.snapshots]
        centre = prior_centre(scratch, plane)
        extent = replay_extent(projected, centre)
        frames = [
            self._frame(snapshot, codes, plane, extent, scratch)
            for snapshot, codes in zip(self.snapshots, projected, strict=True)
        ]
        return self._replay(frames, plane, extent, centre)

    def live(self) -> TrainingReplay:
        """The frames so far, for a run still training: in the plane of the first finished epoch (of the first
        frame before one has), in an extent that only grows. Incremental: each call projects and draws only the
        frames taken since the last, and redraws every grid only when the extent grows."""
        plane = self.live_plane
        view = self._live
        if view is None or view.plane is not plane:
            view = self._live = _LiveView(plane, _scratch_copy(self.model))
        view.projected += [plane.project(snapshot.codes) for snapshot in self.snapshots[len(view.projected) :]]
        centre = prior_centre(self.model, plane)
        if view.grow(replay_extent(view.projected, centre)):
            view.frames.clear()
        assert view.extent is not None
        view.frames += [
            self._frame(snapshot, codes, plane, view.extent, view.scratch)
            for snapshot, codes in zip(
                self.snapshots[len(view.frames) :], view.projected[len(view.frames) :], strict=True
            )
        ]
        return self._replay(view.frames, plane, view.extent, centre)

    # --- helpers ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _codes(self, model: LatentModel) -> torch.Tensor:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            return model.embed(self.images.to(device)).float().cpu()
        finally:
            model.train(was_training)

    @torch.no_grad()
    def _take(self, step: int) -> None:
        decoder = {
            key: value.detach().to("cpu", torch.float16, copy=True) for key, value in decoder_state(self.model).items()
        }
        self.snapshots.append(Snapshot(step, self._codes(self.model), decoder))

    def _frame(
        self,
        snapshot: Snapshot,
        codes: torch.Tensor,
        plane: Plane,
        extent: tuple[float, float, float, float],
        scratch: LatentModel,
    ) -> ReplayFrame:
        """One frame: the snapshot's codes (already in the plane) and its decoder's grid over the extent, drawn by
        `scratch` (a copy of the model, _scratch_copy, that takes the snapshot's decoder weights)."""
        scratch.load_state_dict({key: value.float() for key, value in snapshot.decoder.items()}, strict=False)
        png = decoder_grid_png(scratch, plane, extent)
        return ReplayFrame(snapshot.step, snapshot.step / self.steps_per_epoch, codes.half().numpy(), png)

    def _replay(
        self,
        frames: list[ReplayFrame],
        plane: Plane,
        extent: tuple[float, float, float, float],
        centre: tuple[float, float] | None,
    ) -> TrainingReplay:
        return TrainingReplay(
            frames=tuple(frames),
            labels=self.labels,
            image_indices=self.image_indices,
            extent=extent,
            plane=plane.kind,
            prior_centre=centre,
            steps_per_epoch=self.steps_per_epoch,
        )


def _scratch_copy(model: LatentModel) -> LatentModel:
    """A copy of the model to draw grids with: on the CPU, in eval mode, its decoder loaded from each snapshot."""
    return copy.deepcopy(model).cpu().eval()


def prior_centre(model: LatentModel, plane: Plane) -> tuple[float, float] | None:
    """Where N(0, I)'s centre, z = 0, lies in the plane; None for a model without a prior."""
    if not model.config.is_variational:
        return None
    u, w = plane.project(torch.zeros_like(plane.origin)).tolist()
    return (u, w)


class _LiveView:
    """A live replay's plane, its extent so far (it only grows), the codes projected into the plane and the frames
    drawn over that extent (one per snapshot, in order; fewer after the extent grew, until they are redrawn)."""

    def __init__(self, plane: Plane, scratch: LatentModel) -> None:
        self.plane, self.scratch = plane, scratch
        self.extent: tuple[float, float, float, float] | None = None
        self.projected: list[torch.Tensor] = []  # snapshot i's codes in the plane
        self.frames: list[ReplayFrame] = []  # frame i, its grid over self.extent

    def grow(self, needed: tuple[float, float, float, float]) -> bool:
        """Make the extent hold `needed`; when it must grow it grows LIVE_GROWTH more. True when it changed (the
        grids drawn over the old extent must be redrawn)."""
        if self.extent is None:
            self.extent = needed
            return True
        x_min, x_max, y_min, y_max = self.extent
        if needed[0] >= x_min and needed[1] <= x_max and needed[2] >= y_min and needed[3] <= y_max:
            return False
        grown = []
        for axis, (lo, hi) in enumerate(((x_min, x_max), (y_min, y_max))):
            new_lo, new_hi = min(lo, needed[2 * axis]), max(hi, needed[2 * axis + 1])
            margin = LIVE_GROWTH * (new_hi - new_lo)
            grown += [new_lo - margin if new_lo < lo else lo, new_hi + margin if new_hi > hi else hi]
        self.extent = (grown[0], grown[1], grown[2], grown[3])
        return True
