"""vae_core.engine.replay_recorder: the frames' schedule, codes, plane, extent and grids, and a run it leaves alone."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import binarize
from vae_core.engine.replay import GRID_CELLS, GRID_GREY_LEVELS, MAX_FRAMES, PLANE_LATENT, PLANE_PCA
from vae_core.engine.replay_recorder import (
    MIN_FRAME_GAP_STEPS,
    MIN_FRAMES,
    PRIOR_SIGMAS,
    REPLAY_MEMORY_BYTES,
    ReplayRecorder,
    decoder_grid_png,
    frame_steps,
    pca_plane,
    prior_centre,
    snapshot_bytes,
    start_model,
)
from vae_core.engine.training import fit

DIGITS_TEST_IMAGES = 360


def configs(kind="vae", latent_dim=2, epochs=3, binarized=True):
    model = ModelConfig(kind=kind, input_shape=(1, 8, 8), latent_dim=latent_dim, hidden_dims=(32,))
    train = TrainConfig(
        dataset="digits", epochs=epochs, batch_size=128, lr=3e-3, seed=3, num_threads=1, dynamic_binarization=binarized
    )
    return model, train


def recorded_run(digits_train, digits_test, **kwargs):
    """A run with a frame every step (min_gap=1): these short digits runs have fewer steps than MIN_FRAME_GAP_STEPS,
    and what is under test here is the frames, not their spacing."""
    model_config, train_config = configs(**kwargs)
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test, min_gap=1)
    result = fit(
        model_config, train_config, recorder, model=recorder.model, train_data=digits_train, test_data=digits_test
    )
    return recorder, result


@pytest.fixture(scope="module")
def vae_run(digits_train, digits_test):
    recorder, result = recorded_run(digits_train, digits_test)
    return recorder, result, recorder.finish(result.model)


def grey_cells(png: bytes, cell_h: int, cell_w: int) -> np.ndarray:
    """The PNG's cells as an array (rows, cols, H, W) of grey levels in [0, 1]."""
    picture = Image.open(io.BytesIO(png))
    levels = np.array(picture.convert("L"), dtype=float) / 255
    rows, cols = levels.shape[0] // cell_h, levels.shape[1] // cell_w
    return levels.reshape(rows, cell_h, cols, cell_w).transpose(0, 2, 1, 3)


# --- the schedule -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("min_gap", [1, 50, MIN_FRAME_GAP_STEPS])
@pytest.mark.parametrize("total", [0, 1, 5, 58, 59, 60, 99, 100, 469, 469 * 5, 469 * 10, 12 * 150, 12345])
def test_frames_are_evenly_spaced_from_the_untrained_model_to_the_end(total, min_gap):
    steps = frame_steps(total, min_gap=min_gap)
    assert len(steps) <= MAX_FRAMES and steps[0] == 0 and steps[-1] == total
    gaps = np.diff(steps)
    if total == 0:
        assert steps == [0]
    elif total < MIN_FRAMES:
        assert steps == list(range(total + 1)), "a run shorter than MIN_FRAMES steps has a frame at every step"
    elif total // min_gap + 1 <= MIN_FRAMES:
        assert len(steps) == MIN_FRAMES, "a short run still gets MIN_FRAMES frames, closer than the gap"
        assert gaps.max() - gaps.min() <= 1
    else:
        assert gaps.min() >= min_gap and gaps.max() - gaps.min() <= 1
        # as many frames as fit: one more, evenly spaced, would be closer than min_gap (or past MAX_FRAMES)
        assert len(steps) == MAX_FRAMES or total / len(steps) < min_gap
    if min_gap == 1:
        assert len(steps) == min(MAX_FRAMES, total + 1)


def test_a_recorder_spaces_its_frames_min_frame_gap_steps_apart_by_default(digits_train, digits_test):
    model_config, train_config = configs(epochs=150)  # 1,800 steps: 19 frames 100 steps apart
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test)
    total = 150 * math.ceil(len(digits_train) / 128)
    assert recorder.steps == frame_steps(total) and len(recorder.steps) == total // MIN_FRAME_GAP_STEPS + 1
    assert len(recorder.steps) > MIN_FRAMES and min(np.diff(recorder.steps)) >= MIN_FRAME_GAP_STEPS


def test_a_short_run_still_gets_min_frames(digits_train, digits_test):
    model_config, train_config = configs(epochs=30)  # 360 steps, the Train page's digits default
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test)
    assert len(recorder.steps) == MIN_FRAMES and recorder.steps[-1] == 30 * math.ceil(len(digits_train) / 128)


def test_a_recorded_run_takes_every_scheduled_frame(vae_run, digits_train):
    _, _, replay = vae_run
    total = 3 * math.ceil(len(digits_train) / 128)
    steps = frame_steps(total, min_gap=1)
    assert [frame.step for frame in replay.frames] == steps
    assert [frame.epoch for frame in replay.frames] == [step / replay.steps_per_epoch for step in steps]
    assert replay.steps_per_epoch == math.ceil(len(digits_train) / 128)


# --- the codes --------------------------------------------------------------------------------------------------
def test_the_fixed_images_are_the_binarised_test_images_fit_measures_on(vae_run, digits_test):
    recorder, _, replay = vae_run
    expected = binarize(digits_test.images, torch.Generator().manual_seed(3))
    assert len(recorder.images) == DIGITS_TEST_IMAGES  # the whole of digits' smaller test split
    torch.testing.assert_close(recorder.images, expected, rtol=0, atol=0)
    np.testing.assert_array_equal(replay.labels, digits_test.labels.numpy())
    np.testing.assert_array_equal(replay.image_indices, np.arange(DIGITS_TEST_IMAGES))
    assert replay.labels.dtype == np.uint8 and replay.image_indices.dtype == np.int64


def test_first_and_last_frames_hold_the_codes_of_the_untrained_and_the_final_model(vae_run, digits_test):
    _, result, replay = vae_run
    _, train_config = configs()
    images = binarize(digits_test.images, torch.Generator().manual_seed(3))
    untrained = start_model(result.model_config, train_config).eval()
    with torch.no_grad():
        first, last = untrained.encode(images).mean, result.model.encode(images).mean
    assert replay.plane == PLANE_LATENT
    assert replay.frames[0].codes.dtype == np.float16 and replay.frames[0].codes.shape == (DIGITS_TEST_IMAGES, 2)
    np.testing.assert_allclose(replay.frames[0].codes.astype(float), first.numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(replay.frames[-1].codes.astype(float), last.numpy(), rtol=2e-3, atol=2e-3)
    assert not np.allclose(replay.frames[0].codes, replay.frames[-1].codes, atol=0.05)  # training moved them


def test_the_recorder_leaves_the_run_bit_identical(vae_run, digits_train, digits_test):
    _, result, _ = vae_run
    model_config, train_config = configs()
    plain = fit(
        model_config,
        train_config,
        model=start_model(model_config, train_config),
        train_data=digits_train,
        test_data=digits_test,
    )
    recorded_state, plain_state = result.model.state_dict(), plain.model.state_dict()
    for (name, recorded), unrecorded in zip(recorded_state.items(), plain_state.values(), strict=True):
        assert torch.equal(recorded, unrecorded), name
    assert [r.train.objective for r in result.history] == [r.train.objective for r in plain.history]


def test_the_start_model_is_the_one_fit_builds_and_leaves_the_global_generator_alone():
    model_config, train_config = configs()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    model = start_model(model_config, train_config)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(train_config.seed)
    from vae_core.engine.models import build_model

    for a, b in zip(model.state_dict().values(), build_model(model_config).state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_recorder_refuses_a_run_that_trains_another_model(digits_train, digits_test):
    model_config, train_config = configs(epochs=1)
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test)
    with pytest.raises(ValueError, match=r"model=recorder\.model"):
        fit(model_config, train_config, recorder, train_data=digits_train, test_data=digits_test)


# --- the plane, the prior's centre and the extent ---------------------------------------------------------------
def test_the_pca_plane_matches_numpys_principal_axes():
    generator = np.random.default_rng(0)
    # 4-D codes spread mostly along two known orthogonal directions, off-centre
    basis = np.linalg.qr(generator.normal(size=(4, 4)))[0].T
    scales = np.array([5.0, 2.0, 0.3, 0.1])
    codes = generator.normal(size=(500, 4)) * scales @ basis + np.array([1.0, -2.0, 0.5, 3.0])
    plane = pca_plane(torch.from_numpy(codes).float())
    centred = codes - codes.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred.T))
    top = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]].T
    for axis, expected in zip(plane.axes.numpy(), top, strict=True):
        assert abs(float(axis @ expected)) == pytest.approx(1.0, abs=1e-4)
        assert abs(axis).argmax() == abs(expected).argmax() and axis[abs(axis).argmax()] > 0
    np.testing.assert_allclose(plane.origin.numpy(), codes.mean(0), atol=1e-5)
    projected = plane.project(torch.from_numpy(codes).float()).numpy()
    expected_projection = centred @ top.T
    np.testing.assert_allclose(np.abs(projected), np.abs(expected_projection), atol=1e-3)
    assert projected[:, 0].var() > projected[:, 1].var() > 0
    # the prior's centre: where z = 0 projects
    centre = prior_centre(start_model(*configs(latent_dim=4)), plane)
    np.testing.assert_allclose(centre, -codes.mean(0) @ plane.axes.numpy().T.astype(float), atol=1e-4)


def test_a_higher_dimensional_run_is_drawn_in_the_final_models_principal_plane(digits_train, digits_test):
    recorder, result = recorded_run(digits_train, digits_test, latent_dim=5, epochs=2)
    replay = recorder.finish(result.model)
    assert replay.plane == PLANE_PCA
    with torch.no_grad():
        final = result.model.encode(recorder.images).mean.double().numpy()
    mean = final.mean(0)
    _, _, vh = np.linalg.svd(final - mean, full_matrices=False)
    expected = (final - mean) @ vh[:2].T
    got = replay.frames[-1].codes.astype(float)
    for axis in range(2):  # each axis up to its sign
        sign = np.sign(got[:, axis] @ expected[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * expected[:, axis], atol=0.02)
    np.testing.assert_allclose(
        replay.prior_centre, (-mean) @ (vh[:2].T * np.sign(np.diag(got.T @ expected))), atol=1e-3
    )


def test_the_extent_holds_the_codes_and_the_priors_three_sigma_disc(vae_run):
    _, _, replay = vae_run
    x_min, x_max, y_min, y_max = replay.extent
    assert replay.prior_centre == (0.0, 0.0)
    cx, cy = replay.prior_centre
    assert x_min <= cx - PRIOR_SIGMAS and x_max >= cx + PRIOR_SIGMAS
    assert y_min <= cy - PRIOR_SIGMAS and y_max >= cy + PRIOR_SIGMAS
    codes = np.concatenate([frame.codes for frame in replay.frames]).astype(float)
    inside = (codes[:, 0] >= x_min) & (codes[:, 0] <= x_max) & (codes[:, 1] >= y_min) & (codes[:, 1] <= y_max)
    assert inside.mean() >= 0.99


def test_an_autoencoders_extent_follows_its_codes_and_it_has_no_prior(digits_train, digits_test):
    recorder, result = recorded_run(digits_train, digits_test, kind="ae", epochs=2, binarized=False)
    replay = recorder.finish(result.model)
    assert replay.prior_centre is None
    codes = [torch.from_numpy(frame.codes.astype(np.float32)) for frame in replay.frames]
    points = torch.cat(codes).numpy()
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    span = high - low
    expected = [low[0] - 0.05 * span[0], high[0] + 0.05 * span[0], low[1] - 0.05 * span[1], high[1] + 0.05 * span[1]]
    np.testing.assert_allclose(replay.extent, expected, rtol=0, atol=0.01 * max(span))


# --- the decoder's grid -----------------------------------------------------------------------------------------
def test_the_grid_png_shows_the_decoder_at_the_cell_centres(vae_run):
    _, result, replay = vae_run
    png = replay.frames[-1].grid_png
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (GRID_CELLS * 8, GRID_CELLS * 8)
    assert len(set(np.array(picture.convert("L")).ravel().tolist())) <= GRID_GREY_LEVELS
    x_min, x_max, y_min, y_max = replay.extent
    xs = [x_min + (c + 0.5) * (x_max - x_min) / GRID_CELLS for c in range(GRID_CELLS)]
    ys = [y_max - (r + 0.5) * (y_max - y_min) / GRID_CELLS for r in range(GRID_CELLS)]  # top row: largest y
    z = torch.tensor([[x, y] for y in ys for x in xs], dtype=torch.float32)
    with torch.no_grad():
        expected = result.model.decode(z).reshape(GRID_CELLS, GRID_CELLS, 8, 8).numpy()
    cells = grey_cells(png, 8, 8)
    assert np.abs(cells - expected).max() <= 1 / 15
    assert expected.std() > 0.1  # a grid of different images, not a flat one that any extent would match


def test_each_frames_grid_is_its_own_moments_decoder(vae_run):
    _, _, replay = vae_run
    first, last = (grey_cells(frame.grid_png, 8, 8) for frame in (replay.frames[0], replay.frames[-1]))
    assert np.abs(first - last).mean() > 0.05


# --- memory and the live view -----------------------------------------------------------------------------------
def test_the_snapshots_stay_within_the_memory_bound(digits_train, digits_test):
    model_config, train_config = configs(epochs=2)
    model = start_model(model_config, train_config)
    per_frame = snapshot_bytes(model, DIGITS_TEST_IMAGES)
    decoder = sum(v.numel() for k, v in model.state_dict().items() if k.startswith("decoder."))
    assert per_frame == 2 * decoder + 4 * DIGITS_TEST_IMAGES * 2
    budget = 7 * per_frame + 10
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test)
    small = ReplayRecorder(
        recorder.model,
        recorder.images,
        recorder.labels,
        recorder.image_indices,
        total_steps=24,
        steps_per_epoch=12,
        min_gap=1,
        memory_bytes=budget,
    )
    assert len(small.steps) == 7
    fit(model_config, train_config, small, model=small.model, train_data=digits_train, test_data=digits_test)
    held = sum(
        sum(t.numel() * t.element_size() for t in s.decoder.values()) + s.codes.numel() * 4 for s in small.snapshots
    )
    assert len(small.snapshots) == 7 and held <= budget
    assert 60 * snapshot_bytes(model, 1000) < REPLAY_MEMORY_BYTES  # a shipped-size run keeps all its frames


def test_the_live_view_keeps_its_plane_and_only_grows(digits_train, digits_test):
    model_config, train_config = configs(kind="ae", latent_dim=3, epochs=3, binarized=False)
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test, min_gap=1)
    extents, planes = [], []

    original = recorder.on_step

    def on_step(progress):
        original(progress)
        live = recorder.live()
        extents.append(live.extent)
        planes.append(recorder.live_plane)
        assert len(live.frames) == recorder.frame_count and live.plane == PLANE_PCA

    recorder.on_step = on_step  # type: ignore[method-assign]
    fit(model_config, train_config, recorder, model=recorder.model, train_data=digits_train, test_data=digits_test)
    for (before, plane_before), (after, plane_after) in itertools.pairwise(zip(extents, planes, strict=True)):
        if plane_after is not plane_before:
            continue  # a new plane starts a new extent
        assert after[0] <= before[0] and after[1] >= before[1] and after[2] <= before[2] and after[3] >= before[3]
    steps_per_epoch = recorder.steps_per_epoch
    # the first frame's plane until the first epoch ends, then that epoch's for good
    assert len({id(p) for p in planes[:steps_per_epoch]}) == 1
    assert len({id(p) for p in planes[steps_per_epoch:]}) == 1 and planes[-1] is not planes[0]


def from_scratch(recorder, count, extent):
    """The first `count` frames drawn anew in the live plane and `extent`: each snapshot's codes projected with
    numpy, its grid drawn by a fresh model that holds the snapshot's decoder."""
    plane = recorder.live_plane
    origin, axes = plane.origin.double().numpy(), plane.axes.double().numpy()
    frames = []
    for snapshot in recorder.snapshots[:count]:
        model = start_model(recorder.model.config, configs()[1]).eval()
        model.load_state_dict({key: value.float() for key, value in snapshot.decoder.items()}, strict=False)
        codes = (snapshot.codes.double().numpy() - origin) @ axes.T
        frames.append((snapshot.step, codes, decoder_grid_png(model, plane, extent)))
    return frames


@pytest.mark.parametrize(("kind", "latent_dim"), [("vae", 2), ("ae", 2), ("ae", 3)])
def test_the_live_view_after_each_frame_is_the_frames_so_far_drawn_from_scratch(
    digits_train, digits_test, kind, latent_dim
):
    """live() keeps the projected codes and the drawn grids between calls, as the streaming child calls it after
    each frame; each call must still equal every frame so far drawn anew in its plane and extent, with the extent
    holding all their codes. An autoencoder's extent grows after the first frames (a VAE's holds the prior's disc
    throughout this short run), so grids left drawn over an older extent would show."""
    model_config, train_config = configs(kind=kind, latent_dim=latent_dim, epochs=2, binarized=kind == "vae")
    recorder = ReplayRecorder.for_run(model_config, train_config, len(digits_train), digits_test, min_gap=1)
    checked, extents = [], []
    original = recorder.on_step

    def on_step(progress):
        before = recorder.frame_count
        original(progress)
        if recorder.frame_count == before:
            return
        live = recorder.live()
        expected = from_scratch(recorder, recorder.frame_count, live.extent)
        assert [frame.step for frame in live.frames] == [step for step, _, _ in expected]
        for frame, (_, codes, png) in zip(live.frames, expected, strict=True):
            np.testing.assert_allclose(frame.codes.astype(float), codes, rtol=2e-3, atol=2e-3)
            assert frame.grid_png == png, f"frame {frame.step}'s grid is not drawn over the extent {live.extent}"
        points = np.concatenate([codes for _, codes, _ in expected])
        low, high = np.percentile(points, [0.5, 99.5], axis=0)
        x_min, x_max, y_min, y_max = live.extent
        assert x_min <= low[0] and x_max >= high[0] and y_min <= low[1] and y_max >= high[1]
        checked.append(recorder.frame_count)
        extents.append(live.extent)

    recorder.on_step = on_step  # type: ignore[method-assign]
    fit(model_config, train_config, recorder, model=recorder.model, train_data=digits_train, test_data=digits_test)
    assert checked == list(range(2, len(recorder.steps) + 1))
    if kind == "ae":
        assert len(set(extents[2:])) > 1, "the extent grew after a few frames: the grids drawn before were redrawn"
