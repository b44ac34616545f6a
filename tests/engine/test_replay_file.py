"""A training replay in a checkpoint (vae_core.engine.replay_file): the round trip, the checksum over it, and files
without one."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.hostile_files import good_replay, tiny_model
from vae_core.engine.checkpoint_info import CheckpointError, list_checkpoints, read_checkpoint_info
from vae_core.engine.checkpoints import load_checkpoint, load_replay, save_checkpoint
from vae_core.engine.config import TrainConfig
from vae_core.engine.replay_file import CODES_KEY, GRIDS_KEY, has_replay_name, max_png_bytes


@pytest.fixture
def model():
    return tiny_model()


def test_a_replay_round_trips_beside_the_weights(tmp_path, model):
    replay = good_replay(model, frames=4, images=7)
    path = save_checkpoint(tmp_path / "r.safetensors", model, TrainConfig(dataset="digits"), replay=replay, half=True)
    back = load_replay(path)
    assert back is not None and len(back.frames) == 4
    for got, frame in zip(back.frames, replay.frames, strict=True):
        assert (got.step, got.epoch, got.grid_png) == (frame.step, frame.epoch, frame.grid_png)
        assert got.codes.dtype == np.float16 and np.array_equal(got.codes, frame.codes)
    np.testing.assert_array_equal(back.labels, replay.labels)
    np.testing.assert_array_equal(back.image_indices, replay.image_indices)
    assert (back.extent, back.plane, back.prior_centre, back.steps_per_epoch) == (
        replay.extent,
        replay.plane,
        replay.prior_centre,
        replay.steps_per_epoch,
    )
    info = read_checkpoint_info(path)
    assert info.replay_frames == 4 and info.replay is not None
    assert not any(has_replay_name(name) for name in info.tensor_shapes)
    arrays_bytes = 4 * 7 * 2 * 2 + sum(len(f.grid_png) for f in replay.frames) + 8 * 5 + 7 + 8 * 7
    assert info.replay.stored_bytes == arrays_bytes
    loaded, _ = load_checkpoint(path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value.half().float())


def test_a_checkpoint_without_a_replay_reads_as_before(tmp_path, model):
    path = save_checkpoint(tmp_path / "plain.safetensors", model, TrainConfig(dataset="digits"))
    assert load_replay(path) is None
    info = read_checkpoint_info(path)
    assert info.replay is None and info.replay_frames == 0
    load_checkpoint(path)
    assert [i.name for i in list_checkpoints(tmp_path).infos] == ["plain"]


def test_the_checksum_covers_the_replays_bytes(tmp_path, model):
    replay = good_replay(model)
    path = save_checkpoint(tmp_path / "r.safetensors", model, TrainConfig(dataset="digits"), replay=replay)
    data = bytearray(path.read_bytes())
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    for key in (CODES_KEY, GRIDS_KEY):
        changed = bytearray(data)
        changed[8 + header_length + header[key]["data_offsets"][0] + 20] ^= 0xFF
        bad = tmp_path / f"flipped-{key}.safetensors"
        bad.write_bytes(changed)
        for reader in (load_checkpoint, load_replay):
            with pytest.raises(CheckpointError, match="do not match its checksum"):
                reader(bad)


def test_the_png_bound_holds_an_incompressible_grid():
    """A 4-bit PNG of noise (deflate cannot shrink it) fits max_png_bytes."""
    noise = np.random.default_rng(0).integers(0, 16, size=(168, 168), dtype=np.uint8)
    picture = Image.fromarray(noise, mode="P")
    picture.putpalette([v * 17 for v in range(16) for _ in range(3)])
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", bits=4)
    assert 168 * 84 * 0.9 < len(buffer.getvalue()) <= max_png_bytes(168, 168)
