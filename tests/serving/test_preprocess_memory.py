"""Upload memory bounds: the worst accepted upload is reduced in 8-bit before any float array exists."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from vae_core.engine import limits
from vae_core.serving.preprocess import MAX_PIXELS, UPLOAD_TYPES, WORKING_SIDE, load_image, preprocess, target_format

# A 4900x4900 RGBA PNG (24 MP, the cap) is 96 MB as 8-bit pixels; float64 of it was 770 MB. Pillow's own buffers
# are outside tracemalloc's view, so this ceiling bounds the NumPy arrays the pipeline makes.
NUMPY_PEAK_CEILING_BYTES = 64 * 2**20


def test_pixel_cap_is_the_limits_bound():
    assert MAX_PIXELS == limits.MAX_UPLOAD_PIXELS
    assert {"png", "jpg", "jpeg"} <= set(UPLOAD_TYPES)


def test_worst_accepted_upload_stays_under_the_ceiling():
    side = int(MAX_PIXELS**0.5)
    image = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    image.paste((0, 0, 0, 255), (side // 3, side // 4, 2 * side // 3, 3 * side // 4))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    del image
    tracemalloc.start()
    try:
        result = preprocess(load_image(buffer.getvalue()), target_format((1, 28, 28)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < NUMPY_PEAK_CEILING_BYTES, f"peak {peak / 2**20:.0f} MB"
    assert result.image.shape == (28, 28) and result.image.max() == 1.0


@pytest.mark.parametrize("mode", ["I;16", "1"])
def test_worst_16_bit_and_1_bit_uploads_are_reduced_too(mode):
    # Image.reduce takes neither mode: unreduced, a 24 MP one cost 100-300 MB of float32 (benchmarks/worst_case.py);
    # reduced, its longest side is under 2 x (2 * WORKING_SIDE), the floor of the reduction factor
    side = int(MAX_PIXELS**0.5)
    pixels = np.full((side, side), 60000 if mode == "I;16" else 1, np.uint16 if mode == "I;16" else bool)
    pixels[side // 4 : 3 * side // 4, side // 3 : 2 * side // 3] = 3000 if mode == "I;16" else 0
    image = Image.fromarray(pixels)  # I;16 or 1 (Pillow's paste writes odd values into I;16)
    del pixels
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    del image
    tracemalloc.start()
    try:
        loaded = load_image(buffer.getvalue())
        result = preprocess(loaded, target_format((1, 28, 28)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(loaded.size) < 4 * WORKING_SIDE and loaded.mode == ("I;16" if mode == "I;16" else "L")
    assert peak < NUMPY_PEAK_CEILING_BYTES, f"peak {peak / 2**20:.0f} MB"
    assert result.image.shape == (28, 28) and result.image.max() > 0.9  # the block is ink (as unreduced: 0.957)


def test_reduced_16_bit_path_matches_the_full_decode():
    pixels = np.full((2400, 2400), 60000, np.uint16)
    pixels[600:1800, 1000:1400] = 3000
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    reduced = preprocess(load_image(buffer.getvalue()), target_format((1, 28, 28))).image
    full = Image.open(io.BytesIO(buffer.getvalue()))
    full.load()
    assert full.mode == "I;16"
    unreduced = preprocess(full, target_format((1, 28, 28))).image
    assert np.abs(reduced - unreduced).max() < 0.1


def test_reduced_path_matches_the_full_decode():
    # a 2400x2400 grey digit: reduced by 2 in Pillow first; the model input must match the unreduced pipeline
    rng = np.random.default_rng(0)
    pixels = np.full((2400, 2400), 230, np.uint8)
    pixels[600:1800, 1000:1400] = 20
    pixels = np.clip(pixels.astype(int) + rng.integers(-5, 6, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    reduced = preprocess(load_image(buffer.getvalue()), target_format((1, 28, 28))).image
    full = Image.open(io.BytesIO(buffer.getvalue()))
    full.load()
    unreduced = preprocess(full, target_format((1, 28, 28))).image
    assert np.abs(reduced - unreduced).max() < 0.1
