"""The sprites against their factor grid: the count, every image unique and binary, each factor changing the
image, the factors stored with each image, and a fixed partition into train and test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_core.engine import sprites
from vae_core.engine.data import INPUT_SHAPES, SIDEBAR_DATASETS, is_available, load_dataset


@pytest.fixture(scope="module")
def grid_and_images():
    grid = sprites.factor_grid()
    return grid, sprites.render(grid)


def test_the_grid_holds_every_factor_combination_once(grid_and_images):
    grid, images = grid_and_images
    assert sprites.SPRITE_COUNT == math.prod(len(f.values) for f in sprites.FACTORS) == len(grid) == 12_960
    assert len({tuple(row) for row in grid.tolist()}) == len(grid)
    assert images.shape == (len(grid), sprites.SPRITE_SIDE, sprites.SPRITE_SIDE)


def test_every_image_is_binary_unique_and_inside_the_frame(grid_and_images):
    _, images = grid_and_images
    assert set(np.unique(images).tolist()) == {0, 1}
    assert len(np.unique(images.reshape(len(images), -1), axis=0)) == len(images)
    edges = np.concatenate(
        [images[:, [0, -1], :].reshape(len(images), -1), images[:, :, [0, -1]].reshape(len(images), -1)], 1
    )
    assert edges.sum() == 0  # no shape is cut by the border
    assert images.reshape(len(images), -1).sum(1).min() >= 10  # the smallest shape is still a shape


@pytest.mark.parametrize("factor", range(len(sprites.FACTORS)))
def test_each_factor_changes_every_image(grid_and_images, factor):
    grid, images = grid_and_images
    index = {tuple(row): i for i, row in enumerate(grid.tolist())}
    for i, row in enumerate(grid.tolist()):
        if row[factor] + 1 < sprites.GRID_SHAPE[factor]:
            moved = list(row)
            moved[factor] += 1
            assert not np.array_equal(images[i], images[index[tuple(moved)]]), (row, factor)


def test_position_and_scale_move_the_shape_as_they_say(grid_and_images):
    grid, images = grid_and_images
    rows = grid.tolist()
    for shape in range(3):
        small, large = (images[rows.index([shape, s, 0, 5, 5])] for s in (0, len(sprites.SCALES) - 1))
        assert large.sum() > 2 * small.sum()
        left, right = (images[rows.index([shape, 2, 0, x, 5])] for x in (0, len(sprites.POSITIONS) - 1))
        columns = np.arange(sprites.SPRITE_SIDE)
        assert (right.sum(0) * columns).sum() / right.sum() - (
            left.sum(0) * columns
        ).sum() / left.sum() == pytest.approx(sprites.POSITIONS[-1] - sprites.POSITIONS[0], abs=1.0)


def test_the_engine_loads_a_fixed_partition_with_the_factors_of_each_image(grid_and_images):
    grid, images = grid_and_images
    train, test = load_dataset("sprites", "train"), load_dataset("sprites", "test")
    assert (len(train), len(test)) == (10_368, 2_592)
    assert is_available("sprites") and "sprites" not in SIDEBAR_DATASETS
    both = torch.cat([train.factors, test.factors]).numpy()
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, grid.tolist()))  # disjoint and complete
    for data in (train, test):
        assert data.input_shape == INPUT_SHAPES["sprites"] and data.images.dtype == torch.float32
        assert torch.equal(data.labels, data.factors[:, 0]) and data.class_names == sprites.SHAPES
        rows = [int(np.ravel_multi_index(tuple(f), sprites.GRID_SHAPE)) for f in data.factors[:50].tolist()]
        assert np.array_equal(data.images[:50, 0].numpy(), images[rows])  # each image drawn from its own factors
    assert np.array_equal(sprites.split_indices("test"), sprites.split_indices("test"))
    assert np.array_equal(
        np.sort(np.concatenate([sprites.split_indices("train"), sprites.split_indices("test")])), np.arange(len(grid))
    )
