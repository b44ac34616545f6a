"""The replay's browser payload: it gives back every frame exactly and refuses what it must not send."""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest

from tools.synthetic_replay import synthetic_replay
from vae_core.engine.replay import MAX_FRAMES, REPLAY_IMAGES
from vae_core.serving.decoder_export import payload_bytes
from vae_core.serving.replay_payload import (
    MAX_GRID_PNG_BYTES,
    MAX_PAYLOAD_BYTES,
    PNG_SIGNATURE,
    UnsendableReplay,
    payload_codes,
    replay_payload,
)


def test_decoding_the_payload_gives_back_every_frame_exactly():
    replay = synthetic_replay(n_frames=7, n_images=123, variational=True)
    payload = json.loads(json.dumps(replay_payload(replay)))  # what the browser receives
    flat = np.frombuffer(base64.b64decode(payload["codes"]), dtype="<f2")
    assert flat.size == 7 * 123 * 2
    codes = flat.reshape(7, 123, 2)
    for k, frame in enumerate(replay.frames):
        assert np.array_equal(codes[k], frame.codes), f"frame {k}"
    assert np.array_equal(payload_codes(payload), codes)
    labels = np.frombuffer(base64.b64decode(payload["labels"]), dtype=np.uint8)
    assert np.array_equal(labels, replay.labels)
    assert payload["steps"] == [f.step for f in replay.frames]
    assert payload["epochs"] == pytest.approx([f.epoch for f in replay.frames], abs=1e-4)
    for url, frame in zip(payload["grids"], replay.frames, strict=True):
        head, data = url.split(",", 1)
        assert head == "data:image/png;base64" and base64.b64decode(data) == frame.grid_png
    assert payload["extent"] == list(replay.extent) and payload["prior_centre"] == [0.0, 0.0]
    assert payload["plane"] == replay.plane and payload["n"] == 123 and payload["n_frames"] == 7


def test_an_autoencoders_replay_has_no_prior_centre():
    assert replay_payload(synthetic_replay(n_frames=2, n_images=10, variational=False))["prior_centre"] is None


def test_the_fingerprint_follows_the_contents():
    first = replay_payload(synthetic_replay(n_frames=5, n_images=50))
    assert replay_payload(synthetic_replay(n_frames=5, n_images=50))["fingerprint"] == first["fingerprint"]
    assert replay_payload(synthetic_replay(n_frames=6, n_images=50))["fingerprint"] != first["fingerprint"]
    assert replay_payload(synthetic_replay(n_frames=5, n_images=50, seed=1))["fingerprint"] != first["fingerprint"]


def test_the_largest_replay_a_run_keeps_fits_the_payload_bound():
    replay = synthetic_replay(n_frames=MAX_FRAMES, n_images=REPLAY_IMAGES)
    largest_grid = PNG_SIGNATURE + bytes(MAX_GRID_PNG_BYTES - len(PNG_SIGNATURE))
    frames = tuple(dataclasses.replace(f, grid_png=largest_grid) for f in replay.frames)
    assert payload_bytes(replay_payload(dataclasses.replace(replay, frames=frames))) <= MAX_PAYLOAD_BYTES


def _with_frames(replay, **changes):
    return dataclasses.replace(replay, frames=tuple(dataclasses.replace(f, **changes) for f in replay.frames))


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda r: dataclasses.replace(r, frames=r.frames * (MAX_FRAMES // len(r.frames) + 1)), "frames"),
        (lambda r: dataclasses.replace(r, frames=()), "no frames"),
        (lambda r: dataclasses.replace(r, labels=np.zeros(REPLAY_IMAGES + 1, np.uint8)), "between 1 and"),
        (lambda r: _with_frames(r, codes=np.zeros((5, 2), np.float16)), "every frame must hold"),
        (lambda r: _with_frames(r, codes=np.full((20, 2), np.nan, np.float16)), "finite"),
        (lambda r: _with_frames(r, codes=np.full((20, 2), 1e6, np.float32)), "finite"),  # inf in float16
        (lambda r: _with_frames(r, grid_png=b"<svg onload=alert(1)>"), "not a PNG"),
        (lambda r: _with_frames(r, grid_png=PNG_SIGNATURE + bytes(MAX_GRID_PNG_BYTES)), "bytes"),
        (lambda r: dataclasses.replace(r, extent=(1.0, -1.0, 0.0, 1.0)), "extent"),
        (lambda r: dataclasses.replace(r, extent=(0.0, float("inf"), 0.0, 1.0)), "extent"),
        (lambda r: dataclasses.replace(r, plane="tsne"), "plane"),
    ],
)
def test_a_replay_outside_the_bounds_is_refused_with_a_clear_message(spoil, words):
    with pytest.raises(UnsendableReplay, match=words):
        replay_payload(spoil(synthetic_replay(n_frames=3, n_images=20)))
