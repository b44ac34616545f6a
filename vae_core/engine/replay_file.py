"""How a checkpoint stores a training replay (vae_core.engine.replay), and every check a read makes; no torch.

The frames' arrays are extra tensors of the safetensors file, under REPLAY_PREFIX (the model's own tensors never
start with it):

    replay.codes          F16 (frames, images, 2)  each frame's codes in the plane
    replay.grids          U8  (grid bytes,)        the frames' PNGs, one after the other
    replay.grid_offsets   I64 (frames + 1,)        where each PNG starts (and the last one ends) in replay.grids
    replay.labels         U8  (images,)            the fixed images' classes
    replay.image_indices  I64 (images,)            their indices in the test split

and the small fields are the document's "replay" entry: {"frames", "images", "grid_bytes", "steps",
"steps_per_epoch", "extent", "plane", "prior_centre"} (a frame's epoch is its step / steps_per_epoch). The file's
checksum covers both.

A read checks in two places. The structure (the entry's fields, and the replay tensors' names, dtypes and shapes
against them, bounded by MAX_FRAMES, REPLAY_IMAGES and a PNG's largest size) is checked with the rest of the file:
a file whose replay is malformed is not one this code wrote, and is refused whole with a CheckpointError, like a
file with a stray tensor. The values (finite codes, PNG signatures and sizes, offsets) are checked only when the
replay itself is read (checkpoints.load_replay): a bad one is refused there with a CheckpointError, and the model,
whose own bytes passed every check, still loads.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vae_core.engine import limits
from vae_core.engine.replay import GRID_CELLS, MAX_FRAMES, PLANES, REPLAY_IMAGES, ReplayFrame, TrainingReplay

REPLAY_PREFIX = "replay."
CODES_KEY = "replay.codes"
GRIDS_KEY = "replay.grids"
OFFSETS_KEY = "replay.grid_offsets"
LABELS_KEY = "replay.labels"
INDICES_KEY = "replay.image_indices"
REPLAY_DOCUMENT_KEY = "replay"  # the document's entry of the small fields

if TYPE_CHECKING:  # numpy is imported where the frames are read or written: a listing never needs it
    import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_START = b"\x00\x00\x00\rIHDR"  # the first chunk of every PNG: its length (13) and type
PNG_OVERHEAD_BYTES = 1024  # signature, IHDR, a 16-colour palette, IEND and the IDAT chunks' headers, with room


@dataclass(frozen=True)
class ReplayHeader:
    """A stored replay's small fields, checked: what a listing reports without reading the frames."""

    frames: int
    images: int
    grid_bytes: int  # the PNGs' bytes together
    steps: tuple[int, ...]
    steps_per_epoch: int
    extent: tuple[float, float, float, float]
    plane: str
    prior_centre: tuple[float, float] | None

    @property
    def stored_bytes(self) -> int:
        """What the frames take in the file: codes, PNGs, offsets, labels and indices."""
        return self.frames * self.images * 2 * 2 + self.grid_bytes + 8 * (self.frames + 1) + 9 * self.images


def has_replay_name(name: str) -> bool:
    return name.startswith(REPLAY_PREFIX)


def replay_document(replay: TrainingReplay) -> dict[str, Any]:
    """The small fields of a replay, for the checkpoint's document."""
    return {
        "frames": len(replay.frames),
        "images": len(replay.labels),
        "grid_bytes": sum(len(frame.grid_png) for frame in replay.frames),
        "steps": [frame.step for frame in replay.frames],
        "steps_per_epoch": replay.steps_per_epoch,
        "extent": [float(v) for v in replay.extent],
        "plane": replay.plane,
        "prior_centre": None if replay.prior_centre is None else [float(v) for v in replay.prior_centre],
    }


def replay_arrays(replay: TrainingReplay) -> dict[str, np.ndarray]:
    """The frames' arrays, by tensor name (save_checkpoint stores them beside the weights)."""
    import numpy as np

    if not replay.frames:
        raise ValueError("a replay without frames is not stored")
    pngs = [frame.grid_png for frame in replay.frames]
    offsets = np.concatenate([[0], np.cumsum([len(png) for png in pngs])]).astype(np.int64)
    return {
        CODES_KEY: np.stack([np.asarray(frame.codes, dtype=np.float16) for frame in replay.frames]),
        GRIDS_KEY: np.frombuffer(b"".join(pngs), dtype=np.uint8).copy(),
        OFFSETS_KEY: offsets,
        LABELS_KEY: np.asarray(replay.labels, dtype=np.uint8),
        INDICES_KEY: np.asarray(replay.image_indices, dtype=np.int64),
    }


def parse_replay_header(value: Any) -> ReplayHeader:
    """The document's replay entry, checked; ValueError or TypeError saying what is wrong."""
    if not isinstance(value, dict):
        raise TypeError(f"replay must be a mapping, got {type(value).__name__}")
    frames = _count(value, "frames", 1, MAX_FRAMES)
    images = _count(value, "images", 1, REPLAY_IMAGES)
    grid_bytes = _count(value, "grid_bytes", frames * len(PNG_SIGNATURE), limits.MAX_TENSOR_BYTES)
    steps_per_epoch = _count(value, "steps_per_epoch", 1, limits.MAX_DATASET_SIZE)
    steps = value.get("steps")
    if not isinstance(steps, list) or len(steps) != frames or not all(_is_int(s) for s in steps):
        raise ValueError(f"replay.steps must be a list of {frames} whole numbers")
    if any(s < 0 or s > limits.MAX_EPOCHS * steps_per_epoch for s in steps) or steps != sorted(steps):
        raise ValueError("replay.steps must be increasing steps of the run")
    extent = _numbers(value.get("extent"), 4, "extent")
    if not (extent[0] < extent[1] and extent[2] < extent[3]):
        raise ValueError("replay.extent must be x_min < x_max, y_min < y_max")
    plane = value.get("plane")
    if plane not in PLANES:
        raise ValueError(f"replay.plane must be one of {', '.join(PLANES)}")
    centre = value.get("prior_centre")
    prior_centre = None if centre is None else _numbers(centre, 2, "prior_centre")
    return ReplayHeader(
        frames,
        images,
        grid_bytes,
        tuple(steps),
        steps_per_epoch,
        (extent[0], extent[1], extent[2], extent[3]),
        str(plane),
        None if prior_centre is None else (prior_centre[0], prior_centre[1]),
    )


def grid_size(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) in pixels of a model's decoder grid: GRID_CELLS images a side."""
    _, height, width = input_shape
    return GRID_CELLS * width, GRID_CELLS * height


def max_png_bytes(width: int, height: int) -> int:
    """The most a 4-bit PNG of this size can take: its raw rows (a filter byte each), deflate's stored-block
    overhead on them, and the chunks around them."""
    raw = height * (1 + math.ceil(width / 2))
    return raw + raw // 1000 + PNG_OVERHEAD_BYTES


def expected_replay_tensors(
    header: ReplayHeader, input_shape: tuple[int, ...]
) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Name -> (safetensors dtype, shape) of the replay tensors the header promises; ValueError if its PNG bytes
    exceed what its frames' grids can take."""
    width, height = grid_size(input_shape)
    most = header.frames * max_png_bytes(width, height)
    if header.grid_bytes > most:
        raise ValueError(
            f"its replay's grids take {header.grid_bytes:,} bytes, more than {header.frames} PNGs of "
            f"{width}x{height} pixels can ({most:,})"
        )
    return {
        CODES_KEY: ("F16", (header.frames, header.images, 2)),
        GRIDS_KEY: ("U8", (header.grid_bytes,)),
        OFFSETS_KEY: ("I64", (header.frames + 1,)),
        LABELS_KEY: ("U8", (header.images,)),
        INDICES_KEY: ("I64", (header.images,)),
    }


def replay_from_arrays(
    header: ReplayHeader, arrays: dict[str, np.ndarray], input_shape: tuple[int, ...]
) -> TrainingReplay:
    """The replay of checked structure (header and arrays of the promised shapes), its values checked: ValueError
    saying which is wrong."""
    import numpy as np

    codes, grids, offsets = arrays[CODES_KEY], arrays[GRIDS_KEY], arrays[OFFSETS_KEY]
    if not np.isfinite(codes).all():
        raise ValueError("its replay's codes are not all finite")
    if offsets[0] != 0 or offsets[-1] != len(grids) or (np.diff(offsets) < len(PNG_SIGNATURE) + 16).any():
        raise ValueError("its replay's grid offsets do not split its PNG bytes into frames")
    indices = arrays[INDICES_KEY]
    if (indices < 0).any() or (indices > limits.MAX_DATASET_SIZE).any():
        raise ValueError("its replay's image indices are not indices of a test split")
    width, height = grid_size(input_shape)
    data = grids.tobytes()
    frames = []
    for index, step in enumerate(header.steps):
        png = data[int(offsets[index]) : int(offsets[index + 1])]
        if not png.startswith(PNG_SIGNATURE) or png[8:16] != _IHDR_START:
            raise ValueError(f"its replay's grid {index + 1} is not a PNG")
        size = struct.unpack(">II", png[16:24])
        if size != (width, height):
            raise ValueError(f"its replay's grid {index + 1} is {size[0]}x{size[1]} pixels, not {width}x{height}")
        frames.append(ReplayFrame(step, step / header.steps_per_epoch, codes[index], png))
    return TrainingReplay(
        frames=tuple(frames),
        labels=arrays[LABELS_KEY],
        image_indices=indices,
        extent=header.extent,
        plane=header.plane,
        prior_centre=header.prior_centre,
        steps_per_epoch=header.steps_per_epoch,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: dict, key: str, low: int, high: int) -> int:
    number = value.get(key)
    if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
        raise ValueError(f"replay.{key} must be a whole number from {low} to {high}")
    return number


def _numbers(value: Any, count: int, key: str) -> list[float]:
    ok = isinstance(value, list) and len(value) == count
    numbers = [float(v) for v in value] if ok and all(_is_int(v) or isinstance(v, float) for v in value) else []
    if len(numbers) != count or not all(math.isfinite(v) and abs(v) <= limits.MAX_ABS_WEIGHT for v in numbers):
        raise ValueError(f"replay.{key} must be {count} finite numbers")
    return numbers
