"""Tensors to PNGs: values, tiling order and nearest-neighbour upscaling, read back with Pillow."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core.serving.images import digit_png, grid_png, png_bytes, strip_png, tile, tile_pngs, to_uint8, upscale


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
    assert (out[2, :] == 255).all() and (out[:, 3] == 255).all()
    assert (out[3:, 4:] == 255).all()  # the unused cell stays blank


def test_upscale_repeats_every_pixel():
    image = np.array([[1, 2], [3, 4]], np.uint8)
    np.testing.assert_array_equal(upscale(image, 2), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert upscale(image, 1) is image


def test_png_round_trip_and_invert():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    np.testing.assert_array_equal(read_png(png_bytes(image)), image)
    np.testing.assert_array_equal(read_png(png_bytes(image, scale=3))[::3, ::3], image)
    np.testing.assert_array_equal(read_png(png_bytes(image, invert=True)), 255 - image)


def test_digit_png_scales_to_about_the_asked_size():
    image = torch.rand(1, 8, 8)
    pixels = read_png(digit_png(image, size_px=70))
    assert pixels.shape == (64, 64)  # 70 // 8 = 8 times
    np.testing.assert_array_equal(pixels[::8, ::8], to_uint8(image)[0])


def test_grid_png_places_each_image_in_its_cell():
    images = torch.stack([torch.full((1, 4, 4), v) for v in (0.0, 0.5, 1.0, 0.25)])
    pixels = read_png(grid_png(images, n_cols=2, cell_px=8))
    assert pixels.shape == (2 * 8 + 1, 2 * 8 + 1)
    assert pixels[0, 0] == 0 and pixels[0, 9] == 128 and pixels[9, 0] == 255 and pixels[9, 9] == 64


def test_strip_png_puts_the_cells_of_a_row_side_by_side_at_digit_png_scale():
    # three 8x8 digits, as (1, H, W) tensors and a plain (H, W) array, shown at 84 px: 84 // 8 = 10 per pixel
    digits = [torch.full((1, 8, 8), 0.0), np.full((8, 8), 1.0), torch.full((1, 8, 8), 0.2)]
    strip = read_png(strip_png(digits, cell_px=84))
    assert strip.shape == (80, 3 * 81 - 1)
    np.testing.assert_array_equal(strip[:, :80], read_png(digit_png(digits[0], 84)))
    assert (strip[:, 80] == 255).all() and (strip[:, 161] == 255).all()  # the white lines between cells
    assert (strip[:, 81:161] == 255).all() and (strip[:, 162:] == 51).all()
    two_rows = read_png(strip_png(digits[:2] * 2, cell_px=84, n_cols=2))
    assert two_rows.shape == (2 * 81 - 1, 2 * 81 - 1)


def test_strip_png_refuses_images_of_different_shapes():
    with pytest.raises(AssertionError, match="one shape"):
        strip_png([np.zeros((8, 8)), np.zeros((28, 28))])


def test_tile_pngs_joins_the_shown_pngs_pixel_for_pixel():
    dark, light = digit_png(np.zeros((8, 8)), 84), digit_png(np.full((8, 8), 0.6), 84)
    joined = read_png(tile_pngs([dark, light, dark]))
    assert joined.shape == (80, 3 * 81 - 1)
    np.testing.assert_array_equal(joined[:, 81:161], read_png(light))
    assert (joined[:, 80] == 255).all() and (joined[:, :80] == 0).all()
    with pytest.raises(AssertionError, match="one size"):
        tile_pngs([dark, digit_png(np.zeros((28, 28)), 28)])
