"""Tensors to PNGs: values, tiling order and nearest-neighbour upscaling, read back with Pillow."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core.serving.images import (
    CELL_LINE,
    MIN_CELL_PX,
    READABLE_PX,
    digit_png,
    enlarge,
    grid_png,
    pair_png,
    png_bytes,
    strip_png,
    tile,
    tile_pngs,
    to_uint8,
    upscale,
)


def read_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_to_uint8_clips_rounds_and_drops_the_channel():
    images = torch.tensor([[[[0.0, 0.5], [1.0, 2.0]]], [[[-1.0, 0.2], [0.999, 0.001]]]])
    out = to_uint8(images)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 128], [255, 255]])
    np.testing.assert_array_equal(out[1], [[0, 51], [255, 0]])


def test_tile_fills_row_by_row_with_white_separators():
    cells = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30)])
    out = tile(cells, n_cols=2, pad=1)
    assert out.shape == (2 * 2 + 1, 2 * 3 + 1)
    assert (out[:2, :3] == 10).all() and (out[:2, 4:] == 20).all() and (out[3:, :3] == 30).all()
    assert (out[2, :] == CELL_LINE).all() and (out[:, 3] == CELL_LINE).all()
    assert (out[3:, 4:] == CELL_LINE).all()  # the unused cell stays blank


def test_upscale_repeats_every_pixel():
    image = np.array([[1, 2], [3, 4]], np.uint8)
    np.testing.assert_array_equal(upscale(image, 2), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert upscale(image, 1) is image


def test_png_round_trip_and_invert():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    np.testing.assert_array_equal(read_png(png_bytes(image)), image)
    np.testing.assert_array_equal(read_png(png_bytes(image, scale=3))[::3, ::3], image)
    np.testing.assert_array_equal(read_png(png_bytes(image, invert=True)), 255 - image)


def test_digit_png_scales_to_about_the_asked_size_but_never_below_the_readable_size():
    image = torch.rand(1, 8, 8)
    pixels = read_png(digit_png(image, size_px=200))
    assert pixels.shape == (200, 200)  # 200 // 8 = 25 times
    np.testing.assert_array_equal(pixels[::25, ::25], to_uint8(image)[0])
    # issue 20 item 8: asked for 70 px (or the CVAE's 56) an 8×8 digit came out 64 (48) px: now 112, 14 times
    pixels = read_png(digit_png(image, size_px=70))
    assert pixels.shape == (READABLE_PX, READABLE_PX)
    np.testing.assert_array_equal(pixels[::14, ::14], to_uint8(image)[0])
    assert read_png(digit_png(torch.rand(28, 28), size_px=56)).shape == (112, 112)
    assert enlarge(np.zeros((8, 8)), 56).shape == (112, 112)


def test_grid_cells_are_parted_by_lines_seen_on_ink_and_on_background():
    """Issue 20 item 8: the CVAE class grids had no cell lines (pad=0) at 2 px per pixel; white lines vanish where
    an 8×8 digit's white strokes touch its cell's edge. Every grid has mid-grey lines and ≥ MIN_CELL_PX cells."""
    ink = torch.ones(4, 1, 8, 8)
    pixels = read_png(grid_png(ink, n_cols=2, cell_px=16, pad=0))
    cell = MIN_CELL_PX
    assert pixels.shape == (2 * cell + 1, 2 * cell + 1)
    assert (pixels[cell, :] == CELL_LINE).all() and (pixels[:, cell] == CELL_LINE).all()
    assert 0 < CELL_LINE < 255


def test_pair_png_shows_grey_and_binarised_side_by_side():
    grey = np.full((8, 8), 0.4)
    binary = (np.arange(64).reshape(8, 8) % 2).astype(np.float32)
    pixels = read_png(pair_png(grey, binary))
    assert pixels.shape == (READABLE_PX, 2 * READABLE_PX + 1)
    assert (pixels[:, :READABLE_PX] == 102).all() and (pixels[:, READABLE_PX] == CELL_LINE).all()
    np.testing.assert_array_equal(pixels[::14, READABLE_PX + 1 :: 14], to_uint8(binary))


def test_grid_png_places_each_image_in_its_cell():
    images = torch.stack([torch.full((1, 4, 4), v) for v in (0.0, 0.5, 1.0, 0.25)])
    pixels = read_png(grid_png(images, n_cols=2, cell_px=32))
    assert pixels.shape == (2 * 32 + 1, 2 * 32 + 1)
    assert pixels[0, 0] == 0 and pixels[0, 33] == 128 and pixels[33, 0] == 255 and pixels[33, 33] == 64


def test_strip_png_puts_the_cells_of_a_row_side_by_side_at_digit_png_scale():
    # three 8x8 digits, as (1, H, W) tensors and a plain (H, W) array, shown at 84 px: 84 // 8 = 10 per pixel
    digits = [torch.full((1, 8, 8), 0.0), np.full((8, 8), 1.0), torch.full((1, 8, 8), 0.2)]
    strip = read_png(strip_png(digits, cell_px=160))  # 160 // 8 = 20 per pixel
    assert strip.shape == (160, 3 * 161 - 1)
    np.testing.assert_array_equal(strip[:, :160], read_png(digit_png(digits[0], 160)))
    assert (strip[:, 160] == CELL_LINE).all() and (strip[:, 321] == CELL_LINE).all()  # the lines between cells
    assert (strip[:, 161:321] == 255).all() and (strip[:, 322:] == 51).all()
    two_rows = read_png(strip_png(digits[:2] * 2, cell_px=160, n_cols=2))
    assert two_rows.shape == (2 * 161 - 1, 2 * 161 - 1)


def test_strip_png_refuses_images_of_different_shapes():
    with pytest.raises(AssertionError, match="one shape"):
        strip_png([np.zeros((8, 8)), np.zeros((28, 28))])


def test_tile_pngs_joins_the_shown_pngs_pixel_for_pixel():
    dark, light = digit_png(np.zeros((8, 8)), 160), digit_png(np.full((8, 8), 0.6), 160)
    joined = read_png(tile_pngs([dark, light, dark]))
    assert joined.shape == (160, 3 * 161 - 1)
    np.testing.assert_array_equal(joined[:, 161:321], read_png(light))
    assert (joined[:, 160] == CELL_LINE).all() and (joined[:, :160] == 0).all()
    with pytest.raises(AssertionError, match="one size"):
        tile_pngs([dark, digit_png(np.zeros((28, 28)), 28)])
