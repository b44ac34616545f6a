"""Images for the page: tensors in [0, 1] to PNG bytes, one image or a tiled grid (no Streamlit here).

Digits are tiny (8×8 or 28×28), so they are upscaled with nearest-neighbour: every pixel stays a crisp square,
which is what the model actually sees, and the PNG stays small and fast to make. Every page draws its digits
through here, so one rule holds everywhere: a digit a student must read is at least READABLE_PX on screen
(an integer factor, never smaller: an 8×8 digit asked for at 56 px came out 48 px and unreadable), cells of a
grid are parted by CELL_LINE lines, and pair_png puts the grey original beside the binarised copy a binarised
model is fed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

DEFAULT_SIZE_PX = 140  # on-screen size of one digit
MIN_CELL_PX = 24  # a grid's cells at least this wide: 3 screen pixels per 8×8 pixel (CVAE grids were drawn at 2)
READABLE_PX = 112  # the least on-screen side of a digit a student must read (8×8: 14 px per pixel)
# Lines between a grid's cells: mid grey, visible against the black background and against white ink alike
# (white lines vanished where a digit's strokes touch its cell's edge, as 8×8 digits do).
CELL_LINE = 128


def readable_factor(side: int, min_px: int = READABLE_PX) -> int:
    """The least integer upscaling factor that makes `side` pixels at least min_px on screen."""
    return max(1, -(-min_px // side))


def scale_for(side: int, size_px: int) -> int:
    """The integer factor for an image `side` pixels wide asked for at about size_px: size_px // side, but
    never below readable_factor(side) (asking for less than READABLE_PX gets READABLE_PX)."""
    return max(readable_factor(side), size_px // side)


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 1, H, W), (N, H, W) or (H, W) floats in [0, 1] -> uint8 array with the channel dropped."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim == 4:
        assert array.shape[1] == 1, f"expected one channel, got shape {array.shape}"
        array = array[:, 0]
    return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def tile(images: np.ndarray, n_cols: int, pad: int = 1, pad_value: int = CELL_LINE) -> np.ndarray:
    """(N, H, W) uint8 -> one (rows*(H+pad)-pad, cols*(W+pad)-pad) image, filled row by row.

    Unused cells at the end stay pad_value (CELL_LINE lines separate the cells).
    """
    n, h, w = images.shape
    n_rows = max(1, -(-n // n_cols))
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[i]
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a 2-D uint8 image by an integer factor."""
    return np.kron(image, np.ones((factor, factor), dtype=np.uint8)) if factor > 1 else image


def enlarge(image: np.ndarray, side_px: int = DEFAULT_SIZE_PX) -> np.ndarray:
    """A (H, W) image in [0, 1] as uint8, upscaled by an integer factor so its longest side is about side_px
    (at least READABLE_PX)."""
    pixels = to_uint8(image)
    return upscale(pixels, scale_for(max(pixels.shape), side_px))


def thumbnail(image: np.ndarray, side_px: int = 160) -> np.ndarray:
    """A (H, W) image in [0, 1] as uint8 with its longest side at most side_px (a photo is shrunk smoothly)."""
    pixels = to_uint8(image)
    height, width = pixels.shape
    if max(height, width) < side_px:
        return enlarge(image, side_px)
    scale = side_px / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def png_bytes(image: np.ndarray, scale: int = 1, invert: bool = False) -> bytes:
    """A 2-D uint8 image as PNG bytes, upscaled by `scale`. invert: dark digits on white paper."""
    pixels = upscale(255 - image if invert else image, scale)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def digit_png(image: torch.Tensor | np.ndarray, size_px: int = DEFAULT_SIZE_PX) -> bytes:
    """One image ((1, H, W), (H, W) or (1, 1, H, W) in [0, 1]) as a PNG about size_px wide."""
    array = to_uint8(image)
    while array.ndim > 2:
        array = array[0]
    return png_bytes(array, scale=scale_for(array.shape[1], size_px))


def grid_scale(side: int, cell_px: int) -> int:
    """The integer factor grid_png draws an image `side` pixels wide at, asked for about cell_px: cell_px // side,
    and at least MIN_CELL_PX on screen (ui/widgets/js/decoded_rows.js draws the browser's rows with it)."""
    return max(readable_factor(side, MIN_CELL_PX), cell_px // side)


def grid_png(images: torch.Tensor | np.ndarray, n_cols: int, cell_px: int = 56, pad: int = 1) -> bytes:
    """Images (N, 1, H, W) in [0, 1] tiled n_cols wide as one PNG, each cell about cell_px wide (at least
    MIN_CELL_PX) and parted by CELL_LINE lines pad pixels wide (at least 1)."""
    array = to_uint8(images)
    pad = max(pad, 1)
    scale = grid_scale(array.shape[-1], cell_px)
    # Upscale each cell before tiling so the separating lines stay one pixel thin.
    cells = np.stack([upscale(a, scale) for a in array]) if scale > 1 else array
    return png_bytes(tile(cells, n_cols, pad=pad))


def strip_png(images: Sequence[torch.Tensor | np.ndarray], cell_px: int = 56, n_cols: int | None = None) -> bytes:
    """Images of one shape ((1, H, W) or (H, W) each, in [0, 1]) as one PNG, n_cols wide (default: one row).

    A page that shows a row as several st.image calls (one caption each) offers this as the row's download:
    the same cells at the same scale as digit_png(image, cell_px), separated by 1-px CELL_LINE lines as in
    grid_png.
    """
    assert len(images) > 0, "a strip needs at least one image"
    cells = [to_uint8(image) for image in images]
    cells = [cell.reshape(cell.shape[-2:]) for cell in cells]  # (1, H, W) -> (H, W)
    shapes = {cell.shape for cell in cells}
    assert len(shapes) == 1, f"a strip's images must share one shape, got {sorted(shapes)}"
    scale = scale_for(cells[0].shape[-1], cell_px)
    return png_bytes(tile(np.stack([upscale(cell, scale) for cell in cells]), n_cols or len(cells)))


def tile_pngs(pngs: Sequence[bytes], n_cols: int | None = None) -> bytes:
    """PNGs of one size (the page's own, already upscaled) tiled n_cols wide (default: one row) as one PNG.

    For a row the page shows as several PNGs from a cache: the download is those very pixels, with the 1-px
    CELL_LINE lines grid_png puts between cells.
    """
    assert len(pngs) > 0, "nothing to tile"
    cells = [np.asarray(Image.open(io.BytesIO(png)).convert("L")) for png in pngs]
    shapes = {cell.shape for cell in cells}
    assert len(shapes) == 1, f"the PNGs must share one size, got {sorted(shapes)}"
    return png_bytes(tile(np.stack(cells), n_cols or len(cells)))


def pair_png(grey: torch.Tensor | np.ndarray, measured: torch.Tensor | np.ndarray, size_px: int = READABLE_PX) -> bytes:
    """The grey original and the copy the model is fed (binarised for a binarised model), side by side at
    digit_png's scale for size_px, parted by a CELL_LINE line: one picture for a download of both."""
    return strip_png([grey, measured], cell_px=size_px)
