"""A training run's replay (vae_core.engine.replay.TrainingReplay) as one JSON-friendly payload for the browser.

The browser (ui/widgets/js/training_replay.js) receives a whole run at once and plays it with no further message
to the server, so everything a frame needs travels here: every frame's codes as one base64 block of little-endian
float16 (frames x images x 2, frame-major), the labels as bytes, each frame's step and epoch, the fixed axes, the
plane, the prior's centre and each frame's decoder grid as a PNG data URL. Like the decoder payloads
(vae_core.serving.decoder_export), it carries a fingerprint of its contents, so a browser session is sent it once.

The payload is bounded whatever the replay holds (a replay can come from an uploaded or hostile checkpoint): at
most MAX_FRAMES frames of at most REPLAY_IMAGES codes, PNG grids of at most MAX_GRID_PNG_BYTES each, finite codes.
A replay outside these bounds raises UnsendableReplay, whose message says what is wrong.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from vae_core.engine.replay import GRID_CELLS, MAX_FRAMES, PLANES, REPLAY_IMAGES, TrainingReplay
from vae_core.serving.decoder_export import fingerprint, pack_array

REPLAY_FORMAT = "vle-replay/1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_GRID_PNG_BYTES = 64 * 1024  # a 6 x 6 grid of 28 x 28 thumbnails in 16 grey levels is a few kB
# The largest payload the bounds above allow: the codes, the grids (base64 adds a third) and a margin for the rest.
MAX_PAYLOAD_BYTES = MAX_FRAMES * (REPLAY_IMAGES * 2 * 2 + MAX_GRID_PNG_BYTES) * 4 // 3 + 64 * 1024


class UnsendableReplay(ValueError):
    """A replay the browser is not sent: too many frames or images, codes that are not finite, grids that are not
    small PNGs. The message says which."""


def replay_payload(replay: TrainingReplay) -> dict[str, Any]:
    """The replay as the browser component takes it, with a fingerprint of its contents (see the module's doc)."""
    frames = replay.frames
    if not frames:
        raise UnsendableReplay("the replay has no frames")
    if len(frames) > MAX_FRAMES:
        raise UnsendableReplay(f"the replay has {len(frames)} frames, more than the {MAX_FRAMES} a run keeps")
    labels = np.asarray(replay.labels)
    n_images = len(labels)
    if labels.ndim != 1 or not 0 < n_images <= REPLAY_IMAGES:
        raise UnsendableReplay(f"the replay must label between 1 and {REPLAY_IMAGES} images, got {labels.shape}")
    if labels.min() < 0 or labels.max() > 255:
        raise UnsendableReplay("the replay's labels must fit in a byte")
    if replay.plane not in PLANES:
        raise UnsendableReplay(f"unknown plane {replay.plane!r} (one of {', '.join(PLANES)})")
    x0, x1, y0, y1 = (float(v) for v in replay.extent)
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise UnsendableReplay(f"the replay's extent {replay.extent} is not a finite box")
    if any(np.shape(frame.codes) != (n_images, 2) for frame in frames):
        raise UnsendableReplay(f"every frame must hold ({n_images}, 2) codes, one per labelled image")
    codes = np.stack([np.asarray(frame.codes) for frame in frames])
    with np.errstate(over="ignore"):  # a code beyond float16's range becomes inf: refused just below
        halves = codes.astype(np.float16)
    if not np.isfinite(halves).all():
        raise UnsendableReplay("the replay's codes must be finite (in float16)")
    for frame in frames:
        if not (isinstance(frame.grid_png, bytes) and frame.grid_png.startswith(PNG_SIGNATURE)):
            raise UnsendableReplay(f"the grid of the frame at step {frame.step} is not a PNG")
        if len(frame.grid_png) > MAX_GRID_PNG_BYTES:
            raise UnsendableReplay(
                f"the grid of the frame at step {frame.step} has {len(frame.grid_png):,} bytes, "
                f"more than {MAX_GRID_PNG_BYTES:,}"
            )
    centre = replay.prior_centre
    payload: dict[str, Any] = {
        "format": REPLAY_FORMAT,
        "n_frames": len(frames),
        "n": n_images,
        "codes": pack_array(halves, "float16"),
        "labels": base64.b64encode(labels.astype(np.uint8).tobytes()).decode(),
        "steps": [int(frame.step) for frame in frames],
        "epochs": [round(float(frame.epoch), 4) for frame in frames],
        "steps_per_epoch": int(replay.steps_per_epoch),
        "extent": [x0, x1, y0, y1],
        "plane": replay.plane,
        "prior_centre": None if centre is None else [float(centre[0]), float(centre[1])],
        "grid_cells": GRID_CELLS,
        "grids": ["data:image/png;base64," + base64.b64encode(frame.grid_png).decode() for frame in frames],
    }
    payload["fingerprint"] = fingerprint(payload)
    return payload


def payload_codes(payload: dict[str, Any]) -> np.ndarray:
    """The codes of every frame, (n_frames, n, 2) float16, read back from a payload."""
    flat = np.frombuffer(base64.b64decode(payload["codes"]), dtype=np.dtype("<f2"))
    return flat.reshape(payload["n_frames"], payload["n"], 2)
