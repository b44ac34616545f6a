"""Turn an uploaded or drawn image into the input format of a model, step by step (pure PIL and NumPy).

The MNIST recipe (LeCun et al., the MNIST database page): the digits were size-normalised to fit a 20x20 box
with their aspect ratio kept (anti-aliased, hence grey levels), then centred in a 28x28 field by their centre of
mass. scikit-learn's 8x8 `digits` (UCI optdigits) were made differently: 32x32 binary bitmaps, the digit
filling the height, then the "on" pixels counted in 4x4 blocks (0..16). `target_format` picks the recipe from
the model's input shape, so a model trained on either gets an input that looks like its training data.

Decisions worth knowing (each is tested):
- Light background: the image is inverted when the median of its border is lighter than mid-grey, because
  MNIST is light ink on black. Then the background level maps to 0 and the strongest ink to 1; what stays below
  INK_FLOOR counts as paper (0), so paper texture and JPEG noise do not reach the model.
- Transparency: the transparent part is background. The image is composited onto white when its visible
  strokes are dark and onto black when they are light, so the opaque strokes are the ink whatever their colour
  (compositing onto white alone would erase white-on-transparent drawings).
- 16-bit greyscale is converted exactly (value / 65535); 32-bit integer and floating-point images are refused.
- Uploads are checked before they are decoded: bytes (limits.MAX_UPLOAD_BYTES), pixel count (MAX_PIXELS, which also
  guards against decompression bombs, together with Pillow's own check) and at least MIN_SIDE pixels a side.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vae_core.engine import limits

MAX_PIXELS = limits.MAX_UPLOAD_PIXELS  # checked from the header, before any pixel is decoded
MIN_SIDE = 8  # the digits data set itself is 8x8; a smaller image cannot hold a digit
WORKING_SIDE = 512  # large images are shrunk to this longest side first: the result is 28x28 anyway
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")  # Pillow's 16-bit greyscale (PNG), converted exactly
# Pillow format -> the file name endings st.file_uploader accepts for it: only plain raster decoders (no EPS,
# no PDF). The decoder's formats, the uploaders' types and the error text all come from this one table.
UPLOAD_FORMATS = {"PNG": ("png",), "JPEG": ("jpg", "jpeg"), "GIF": ("gif",), "BMP": ("bmp",), "WEBP": ("webp",)}
ALLOWED_FORMATS = tuple(UPLOAD_FORMATS)
UPLOAD_TYPES = tuple(ending for endings in UPLOAD_FORMATS.values() for ending in endings)
_NAMES = [endings[0].upper() for endings in UPLOAD_FORMATS.values()]
UPLOAD_TYPES_TEXT = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]  # "PNG, JPG, GIF, BMP or WEBP"
DECODE_WAIT_SECONDS = 5.0  # how long an upload waits for a free decoder before the page says the server is busy
_DECODES = threading.BoundedSemaphore(limits.MAX_CONCURRENT_DECODES)
INK_FLOOR = 0.15  # after normalising, levels below this are paper, not ink
MIN_CONTRAST = 0.1  # ink must differ from the background by this much (of the full range) to count
DATA_URL_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")


class ImageInputError(ValueError):
    """An image cannot be used; the message says why and what to do, in words for the page."""


@dataclass(frozen=True)
class TargetFormat:
    """How a model's input images were made, derived from its input shape."""

    height: int  # the model's input size
    width: int
    box: int  # the ink's longest side after fitting, at the working resolution
    upscale: int  # working resolution = upscale * (height, width); blocks of upscale^2 are averaged down
    binarize: bool  # threshold at the working resolution before averaging (digits count "on" pixels)
    centre: tuple[float, float]  # (row, col) where the centre of mass goes, at the working resolution
    name: str  # the recipe, for the page

    @property
    def working_shape(self) -> tuple[int, int]:
        return self.height * self.upscale, self.width * self.upscale


def target_format(input_shape: tuple[int, ...]) -> TargetFormat:
    """The preprocessing recipe for a model with input_shape (C, H, W).

    8x8 gets the digits recipe; any other size the MNIST recipe, its box scaled like 20 is to 28.
    """
    channels, height, width = (int(s) for s in input_shape)
    if channels != 1:
        raise ImageInputError(
            f"This model expects {channels}-channel images; drawn and uploaded digits can only "
            "be given to greyscale models."
        )
    if (height, width) == (8, 8):
        # Measured on the data set: the mean centre of mass is (3.48, 3.57), the middle of the 8x8 field.
        return TargetFormat(
            8,
            8,
            box=32,
            upscale=4,
            binarize=True,
            centre=(15.5, 15.5),
            name="digits: fill the 32x32 height, centre by mass, count ink in 4x4 blocks",
        )
    box = max(1, round(min(height, width) * 20 / 28))
    # Measured on MNIST's test split: the mean centre of mass is (13.99, 14.01) in pixel indices, i.e. (H/2, W/2).
    return TargetFormat(
        height,
        width,
        box=box,
        upscale=1,
        binarize=False,
        centre=(height / 2, width / 2),
        name=f"MNIST: fit in {box}x{box}, centre by mass in {height}x{width}",
    )


@dataclass(frozen=True)
class PreprocessStep:
    title: str  # e.g. "Fit in 20x20"
    image: np.ndarray  # 2-D float32 in [0, 1], what the step produced
    note: str  # one sentence on what happened to this image


@dataclass(frozen=True)
class PreprocessResult:
    steps: tuple[PreprocessStep, ...]
    image: np.ndarray  # (H, W) float32 in [0, 1]: the model's input
    inverted: bool  # a light background was inverted
    target: TargetFormat


# --- loading and validating -------------------------------------------------------------------------------
def load_image(data: bytes, *, max_bytes: int = limits.MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an uploaded file into a loaded PIL image, or raise ImageInputError saying what is wrong."""
    if not data:
        raise ImageInputError("The file is empty. Choose a PNG or JPG picture of a digit.")
    if len(data) > max_bytes:
        raise ImageInputError(
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}. "
            "Crop the picture around the digit or save it smaller."
        )
    if not _DECODES.acquire(timeout=DECODE_WAIT_SECONDS):
        raise ImageInputError("The server is busy decoding other uploads; try again in a few seconds.")
    try:
        return _decode(data, max_pixels)
    finally:
        _DECODES.release()


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    """Open from the header, check the size, then decode reduced by a whole factor: under 4 * WORKING_SIDE a side."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat the warning as the error it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = image.size  # from the header: nothing is decoded yet
            if width * height > max_pixels:
                raise ImageInputError(_too_many_pixels(width, height, max_pixels))
            if min(width, height) < MIN_SIDE:
                raise ImageInputError(
                    f"The image is only {width}×{height} pixels; a digit needs at least {MIN_SIDE}×{MIN_SIDE}."
                )
            if image.format == "JPEG":
                image.draft(image.mode, (2 * WORKING_SIDE, 2 * WORKING_SIDE))  # decode big photos reduced
            image.load()
            factor = max(image.size) // (2 * WORKING_SIDE)
            if factor >= 2 and image.mode in ("1", "L", "LA", "RGB", "RGBA", "P", "PA", *SIXTEEN_BIT_MODES):
                # reduce in 8 (or 16) bits before any float array exists (a box filter; Lanczos still does the
                # rest): a 24 MP image unreduced costs 100-300 MB of float32 in to_greyscale
                ImageOps.exif_transpose(image, in_place=True)  # the reduced copy would lose the EXIF rotation
                if image.mode in ("P", "PA"):
                    image = image.convert("RGBA")
                elif image.mode == "1":
                    image = image.convert("L")  # one byte a pixel; Image.reduce takes no 1-bit images
                if image.mode in SIXTEEN_BIT_MODES:
                    # Image.reduce takes no 16-bit images either; a box resize is the same average, in 16 bits
                    image = image.resize((image.width // factor, image.height // factor), Image.Resampling.BOX)
                else:
                    image = image.reduce(factor)
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(
            "The image declares far more pixels than a digit needs (it looks like a "
            "decompression bomb), so it was not opened."
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"This file is not an image the app can read. Upload a {UPLOAD_TYPES_TEXT} picture."
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        # truncated or corrupt files surface as OSError ("image file is truncated") or a decoder's error
        raise ImageInputError(
            f"The image could not be decoded; the file may be damaged or cut short ({err})."
        ) from None
    return image


def decode_data_url(url: str, *, max_bytes: int = limits.MAX_UPLOAD_BYTES) -> bytes:
    """The bytes of a PNG or JPEG data URL (what the drawing canvas sends)."""
    prefix = next((p for p in DATA_URL_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        raise ImageInputError("The drawing arrived in a form the app does not read (expected a PNG data URL).")
    payload = url[len(prefix) :]
    if len(payload) > 4 * max_bytes // 3 + 4:
        raise ImageInputError(f"The drawing is larger than {_megabytes(max_bytes)}.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageInputError(
            "The drawing arrived damaged (invalid base64); clear the canvas and draw again."
        ) from None


# --- the pipeline -----------------------------------------------------------------------------------------
def preprocess(image: Image.Image, target: TargetFormat) -> PreprocessResult:
    """Run every step on a loaded image; each intermediate image is kept for the page to show."""
    grey, grey_note = to_greyscale(image)
    ink, inverted, background = ink_on_black(grey)
    steps = [
        PreprocessStep("Greyscale", grey, grey_note),
        PreprocessStep(
            "Ink on black",
            ink,
            (
                "The background was light, so the image was inverted (MNIST is light ink on black); "
                if inverted
                else "The background was already dark, so nothing was inverted; "
            )
            + f"the background level {background:.2f} became 0 and the strongest ink 1.",
        ),
    ]
    cropped = crop_to_ink(ink)
    steps.append(
        PreprocessStep(
            "Crop to the ink", cropped, f"The bounding box of the ink: {cropped.shape[1]}×{cropped.shape[0]} pixels."
        )
    )
    fitted = fit_in_box(cropped, target.box)
    steps.append(
        PreprocessStep(
            f"Fit in {target.box}×{target.box}",
            fitted,
            f"Scaled to {fitted.shape[1]}×{fitted.shape[0]}, aspect ratio kept, anti-aliased.",
        )
    )
    work_h, work_w = target.working_shape
    centred = centre_by_mass(fitted, work_h, work_w, target.centre)
    steps.append(
        PreprocessStep(
            f"Centre by mass in {work_h}×{work_w}",
            centred,
            "Shifted so the centre of mass of the ink sits at the centre of the field.",
        )
    )
    final = centred
    if target.upscale > 1:
        final = block_average(centred >= 0.5 if target.binarize else centred, target.upscale)
        steps.append(
            PreprocessStep(
                f"Downsample to {target.height}×{target.width}",
                final,
                f"Each pixel is the share of 'on' pixels in a {target.upscale}×{target.upscale} block "
                f"(0, 1/16, ..., 1), as in the digits data set.",
            )
        )
    return PreprocessResult(tuple(steps), final.astype(np.float32), inverted, target)


def preprocess_bytes(data: bytes, input_shape: tuple[int, ...]) -> PreprocessResult:
    """load_image, then preprocess for a model with input_shape. Raises ImageInputError."""
    target = target_format(input_shape)
    return preprocess(load_image(data), target)


def to_greyscale(image: Image.Image) -> tuple[np.ndarray, str]:
    """Luminance in [0, 1] (ITU-R 601, as Pillow's "L"), transparency composited, shrunk to WORKING_SIDE."""
    image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    mode = image.mode
    notes = []
    if mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / np.float32(65535.0)
        notes.append("16-bit greyscale, scaled exactly from 0..65535.")
    elif mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise ImageInputError(
                "32-bit integer images are not supported; save the picture as an 8- or 16-bit PNG or as a JPG."
            )
        grey = (values / 65535.0).astype(np.float32)
        notes.append("16-bit greyscale, scaled exactly from 0..65535.")
    elif mode == "F":
        raise ImageInputError(
            "Floating-point images are not supported; save the picture as an 8- or 16-bit PNG or as a JPG."
        )
    else:
        has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
        rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / np.float32(255.0)
        luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        grey = luminance
        if has_alpha:
            alpha = rgba[..., 3]
            if alpha.min() < 1.0:
                grey, note = _composite(luminance, alpha)
                notes.append(note)
    grey = shrink(np.clip(grey, 0.0, 1.0).astype(np.float32), WORKING_SIDE)
    if grey.shape != (image.height, image.width):
        notes.append(f"Shrunk from {image.width}×{image.height} to {grey.shape[1]}×{grey.shape[0]} first.")
    return grey, " ".join(["Colour turned into brightness (luminance).", *notes])


def ink_on_black(grey: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """(ink image with background 0 and strongest ink 1, whether it was inverted, background level).

    The background is the median of the border; when it is lighter than mid-grey the image is inverted.
    """
    band = max(1, round(0.02 * min(grey.shape)))
    border = np.concatenate(
        [grey[:band].ravel(), grey[-band:].ravel(), grey[:, :band].ravel(), grey[:, -band:].ravel()]
    )
    background = float(np.median(border))
    inverted = background > 0.5
    if inverted:
        grey, background = 1.0 - grey, 1.0 - background
    peak = float(grey.max())
    if peak - background < MIN_CONTRAST:
        raise ImageInputError(
            "No digit found: the image is (almost) one flat colour. Draw or photograph a dark "
            "digit on light paper, or a light digit on a dark background."
        )
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    ink[ink < INK_FLOOR] = 0.0
    return ink.astype(np.float32), inverted, 1.0 - background if inverted else background


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every ink pixel."""
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    if rows.size == 0:
        raise ImageInputError("No ink found in the image.")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_in_box(image: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longest side is box pixels, keeping the aspect ratio (Lanczos, clipped to [0, 1])."""
    height, width = image.shape
    scale = box / max(height, width)
    size = (max(1, min(box, round(width * scale))), max(1, min(box, round(height * scale))))
    return resize(image, size)


def centre_by_mass(image: np.ndarray, height: int, width: int, centre: tuple[float, float]) -> np.ndarray:
    """Paste image into a height x width field so its centre of mass lands on centre (row, col).

    The shift is rounded to whole pixels (as MNIST's was) and limited so that no ink leaves the field.
    """
    h, w = image.shape
    if h > height or w > width:
        raise ValueError(f"a {w}x{h} image does not fit a {width}x{height} field")
    cy, cx = centre_of_mass(image)
    top = int(np.clip(round(centre[0] - cy), 0, height - h))
    left = int(np.clip(round(centre[1] - cx), 0, width - w))
    field = np.zeros((height, width), dtype=np.float32)
    field[top : top + h, left : left + w] = image
    return field


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean pixel position."""
    total = float(image.sum())
    if total <= 0:
        raise ImageInputError("No ink found in the image.")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def block_average(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping factor x factor blocks (for a 0/1 image: the share of "on" pixels)."""
    h, w = image.shape
    assert h % factor == 0 and w % factor == 0, f"{h}x{w} is not a multiple of {factor}"
    return image.astype(np.float32).reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image to size = (width, height) with Lanczos, clipped back into [0, 1]."""
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def shrink(image: np.ndarray, longest_side: int) -> np.ndarray:
    """Shrink so the longest side is at most longest_side (no change when it already is)."""
    height, width = image.shape
    if max(height, width) <= longest_side:
        return image
    scale = longest_side / max(height, width)
    return resize(image, (max(1, round(width * scale)), max(1, round(height * scale))))


# --- helpers ----------------------------------------------------------------------------------------------
def _composite(luminance: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, str]:
    """Composite onto the backdrop that contrasts with the visible strokes (see the module docstring)."""
    visible = alpha > 0.5
    if not visible.any():
        raise ImageInputError("The image is fully transparent: there is nothing to read.")
    dark_strokes = float(np.average(luminance[visible], weights=alpha[visible])) < 0.5
    backdrop = 1.0 if dark_strokes else 0.0
    grey = alpha * luminance + (1.0 - alpha) * backdrop
    where = "white (the strokes are dark)" if dark_strokes else "black (the strokes are light)"
    return grey, f"Transparent parts were treated as background: composited onto {where}."


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    return (
        f"The image is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); the limit is "
        f"{max_pixels / 1e6:.0f} megapixels. Crop or shrink it around the digit."
    )


# --- remembering inputs across reruns -----------------------------------------------------------------------
@dataclass
class _Slot:
    source_id: str  # which upload or drawing this is
    raw: bytes  # the file's bytes, kept so a model with another input shape can re-run the pipeline
    result: PreprocessResult


class InputMemory:
    """The last good input of each source (upload, drawing), kept in session state by the page.

    A bad file never replaces a good one: its error is returned (and remembered, so a file left in the
    uploader is not decoded again on every rerun) while the previous input stays available.
    """

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._errors: dict[tuple[str, str], str] = {}

    def offer(self, source: str, source_id: str, read: Callable[[], bytes], input_shape: tuple[int, ...]) -> str | None:
        """Take a new input for source unless it is the one already held; returns an error message or None."""
        slot = self._slots.get(source)
        if slot is not None and slot.source_id == source_id:
            return None
        if (source, source_id) in self._errors:
            return self._errors[(source, source_id)]
        try:
            raw = read()
            result = preprocess_bytes(raw, input_shape)
        except ImageInputError as err:
            self._errors[(source, source_id)] = str(err)
            return str(err)
        self._slots[source] = _Slot(source_id, raw, result)
        return None

    def result(self, source: str, input_shape: tuple[int, ...]) -> PreprocessResult | None:
        """The held input of source prepared for input_shape (re-run when the model's shape changed)."""
        slot = self._slots.get(source)
        if slot is None:
            return None
        target = target_format(input_shape)
        if slot.result.target != target:
            slot.result = preprocess(load_image(slot.raw), target)
        return slot.result

    def raw(self, source: str) -> bytes | None:
        slot = self._slots.get(source)
        return None if slot is None else slot.raw

    def forget(self, source: str) -> None:
        self._slots.pop(source, None)


def to_data_url(png: bytes) -> str:
    """A PNG's bytes as a data URL (to hand a kept drawing back to the canvas)."""
    return DATA_URL_PREFIXES[0] + base64.b64encode(png).decode("ascii")
