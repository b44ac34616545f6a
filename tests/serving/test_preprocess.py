"""vae_core.serving.preprocess: the MNIST / digits pipeline step by step, the invert rule, and every kind of bad
upload."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae_core.engine.data import is_available, load_dataset
from vae_core.serving import preprocess as pp
from vae_core.serving.preprocess import ImageInputError, InputMemory

MNIST_SHAPE = (1, 28, 28)
DIGITS_SHAPE = (1, 8, 8)


# --- helpers ----------------------------------------------------------------------------------------------
def draw_digit(
    size: tuple[int, int] = (300, 200),
    box: tuple[int, int, int, int] = (60, 30, 140, 170),
    ink: int | tuple = 0,
    paper: int | tuple = 255,
    mode: str = "L",
    width: int = 14,
) -> Image.Image:
    """A '9'-like shape (a ring and a tail) inside box = (left, top, right, bottom), off-centre on purpose."""
    image = Image.new(mode, size, paper)
    pen = ImageDraw.Draw(image)
    left, top, right, bottom = box
    middle = top + (bottom - top) * 0.45
    pen.ellipse((left, top, right, middle), outline=ink, width=width)
    pen.line((right - width // 2, (top + middle) / 2, right - width, bottom), fill=ink, width=width)
    return image


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 1-bit pixels, with a tiny IDAT: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bbox(image: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def mass_centre(image: np.ndarray) -> tuple[float, float]:
    """Centre of mass computed independently of the module (np.average over coordinates)."""
    rows = np.arange(image.shape[0])
    cols = np.arange(image.shape[1])
    return float(np.average(rows, weights=image.sum(axis=1))), float(np.average(cols, weights=image.sum(axis=0)))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# --- the MNIST recipe -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size,box", [((300, 200), (60, 30, 140, 170)), ((640, 480), (400, 250, 600, 470)), ((60, 90), (5, 5, 30, 80))]
)
def test_result_is_size_normalised_and_centred_by_mass(size, box):
    result = pp.preprocess_bytes(png_bytes(draw_digit(size, box, width=max(3, (box[3] - box[1]) // 10))), MNIST_SHAPE)
    final = result.image
    assert final.shape == (28, 28) and final.dtype == np.float32
    assert final.min() >= 0.0 and final.max() <= 1.0 and final.max() > 0.9
    fitted = next(s.image for s in result.steps if s.title.startswith("Fit in"))
    assert max(fitted.shape) == 20, "the ink's longest side is scaled to the 20-pixel box"
    top, bottom, left, right = bbox(final)
    assert max(bottom - top + 1, right - left + 1) <= 20
    cy, cx = mass_centre(final)
    # MNIST's centre of mass sits at (14, 14) in pixel indices; whole-pixel shifts leave at most half a pixel.
    assert abs(cy - 14.0) <= 0.5 + 1e-6 and abs(cx - 14.0) <= 0.5 + 1e-6
    assert final[0].max() == 0 and final[:, 0].max() == 0, "the background is exactly 0, as in MNIST"


def test_steps_are_the_lesson_in_order():
    result = pp.preprocess_bytes(png_bytes(draw_digit()), MNIST_SHAPE)
    assert [s.title for s in result.steps] == [
        "Greyscale",
        "Ink on black",
        "Crop to the ink",
        "Fit in 20×20",
        "Centre by mass in 28×28",
    ]
    assert all(s.image.ndim == 2 and s.note for s in result.steps)
    assert result.steps[-1].image is not None and np.array_equal(result.steps[-1].image, result.image)


def test_position_and_size_do_not_matter():
    small = pp.preprocess_bytes(png_bytes(draw_digit((300, 200), (20, 20, 80, 125), width=9)), MNIST_SHAPE).image
    large = pp.preprocess_bytes(png_bytes(draw_digit((900, 900), (300, 200, 620, 760), width=48)), MNIST_SHAPE).image
    assert correlation(small, large) > 0.9


@pytest.mark.slow  # torchvision checks the files' md5 on load: ~10 s
@pytest.mark.skipif(not is_available("mnist"), reason="MNIST files are not in ./data")
def test_mnist_digits_drawn_big_come_back_close_to_themselves():
    """Independent check against the data set: black-on-white 10x enlargements of MNIST test digits."""
    images = load_dataset("mnist", "test").images[:40, 0].numpy()
    scores = []
    for original in images:
        enlarged = Image.fromarray(((1 - original) * 255).astype(np.uint8)).resize((280, 280), Image.Resampling.BICUBIC)
        scores.append(correlation(pp.preprocess_bytes(png_bytes(enlarged), MNIST_SHAPE).image, original))
    assert np.median(scores) > 0.9


# --- the invert rule --------------------------------------------------------------------------------------
def test_light_background_is_inverted_and_dark_is_not():
    on_paper = pp.preprocess_bytes(png_bytes(draw_digit(ink=0, paper=255)), MNIST_SHAPE)
    on_black = pp.preprocess_bytes(png_bytes(draw_digit(ink=255, paper=0)), MNIST_SHAPE)
    assert on_paper.inverted and not on_black.inverted
    np.testing.assert_allclose(on_paper.image, on_black.image, atol=1e-5)


def test_invert_rule_uses_the_border_and_stretches_contrast():
    # light grey paper (0.6) with dark grey ink (0.35): inverted, paper becomes 0 and the ink 1
    grey_on_grey = pp.preprocess_bytes(png_bytes(draw_digit(ink=89, paper=153)), MNIST_SHAPE)
    assert grey_on_grey.inverted
    ink_step = grey_on_grey.steps[1].image
    assert ink_step[0, 0] == 0.0 and ink_step.max() == pytest.approx(1.0)
    # a dim digit on a dark background (0.3 -> 0.9): not inverted
    assert not pp.preprocess_bytes(png_bytes(draw_digit(ink=230, paper=77)), MNIST_SHAPE).inverted


def test_colour_photo_uses_luminance():
    colour = draw_digit(ink=(20, 40, 160), paper=(250, 240, 200), mode="RGB")
    plain = draw_digit(ink=0, paper=255)
    assert (
        correlation(
            pp.preprocess_bytes(png_bytes(colour), MNIST_SHAPE).image,
            pp.preprocess_bytes(png_bytes(plain), MNIST_SHAPE).image,
        )
        > 0.98
    )


def test_jpeg_is_read():
    result = pp.preprocess_bytes(
        png_bytes(draw_digit(mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255)), "JPEG"), MNIST_SHAPE
    )
    assert result.inverted and result.image.max() > 0.9


# --- the digits recipe (8x8) ------------------------------------------------------------------------------
def test_digits_target_is_8x8_counts_of_16():
    result = pp.preprocess_bytes(png_bytes(draw_digit()), DIGITS_SHAPE)
    final = result.image
    assert final.shape == (8, 8)
    np.testing.assert_allclose(final * 16, np.round(final * 16), atol=1e-5)  # 0, 1/16, ..., 1 like the data set
    top, bottom, _, _ = bbox(final)
    assert (top, bottom) == (0, 7), "like the digits data set, the ink fills the whole height"
    assert result.steps[-1].title == "Downsample to 8×8"


def test_digits_round_trip_against_the_data_set():
    data = load_dataset("digits", "test").images[:40, 0].numpy()
    scores = []
    for original in data:
        enlarged = Image.fromarray(((1 - original) * 255).astype(np.uint8)).resize((160, 160), Image.Resampling.NEAREST)
        scores.append(correlation(pp.preprocess_bytes(png_bytes(enlarged), DIGITS_SHAPE).image, original))
    assert np.median(scores) > 0.85


def test_target_shape_comes_from_the_model():
    assert (pp.target_format((1, 28, 28)).box, pp.target_format((1, 28, 28)).upscale) == (20, 1)
    assert pp.target_format((1, 8, 8)).working_shape == (32, 32)
    assert pp.preprocess_bytes(png_bytes(draw_digit()), (1, 14, 14)).image.shape == (14, 14)
    with pytest.raises(ImageInputError, match="greyscale"):
        pp.target_format((3, 32, 32))


# --- transparency and bit depth ---------------------------------------------------------------------------
def transparent_digit(ink: tuple[int, int, int]) -> Image.Image:
    alpha = draw_digit(ink=255, paper=0)  # the strokes are opaque, the rest transparent
    image = Image.new("RGBA", alpha.size, (*ink, 0))
    image.putalpha(alpha)
    return image


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255), (200, 30, 30)])
def test_alpha_strokes_are_the_ink_whatever_their_colour(ink):
    reference = pp.preprocess_bytes(png_bytes(draw_digit()), MNIST_SHAPE).image
    result = pp.preprocess_bytes(png_bytes(transparent_digit(ink)), MNIST_SHAPE)
    assert correlation(result.image, reference) > 0.98
    assert "Transparent" in result.steps[0].note


def test_fully_transparent_image_is_refused():
    with pytest.raises(ImageInputError, match="fully transparent"):
        pp.preprocess_bytes(png_bytes(Image.new("RGBA", (50, 50), (0, 0, 0, 0))), MNIST_SHAPE)


def test_16_bit_greyscale_is_converted_exactly():
    eight = np.asarray(draw_digit(ink=40, paper=230), dtype=np.uint16)
    sixteen = Image.fromarray(eight * 257)  # 8-bit levels spread over 0..65535 exactly
    assert sixteen.mode.startswith("I;16")
    loaded = pp.load_image(png_bytes(sixteen))
    grey, note = pp.to_greyscale(loaded)
    assert "16-bit" in note
    np.testing.assert_allclose(grey[0, 0], 230 / 255, atol=1e-6)
    np.testing.assert_allclose(
        pp.preprocess(loaded, pp.target_format(MNIST_SHAPE)).image,
        pp.preprocess_bytes(png_bytes(draw_digit(ink=40, paper=230)), MNIST_SHAPE).image,
        atol=1e-5,
    )


def test_32_bit_and_float_images_are_refused_clearly():
    with pytest.raises(ImageInputError, match="32-bit integer"):
        pp.to_greyscale(Image.fromarray(np.full((20, 20), 1 << 20, dtype=np.int32)))
    with pytest.raises(ImageInputError, match="Floating-point"):
        pp.to_greyscale(Image.fromarray(np.zeros((20, 20), dtype=np.float32)))


# --- bad uploads ------------------------------------------------------------------------------------------
FRIENDLY = ("Traceback", "Error(", "errno")


def refused(data: bytes, **limits) -> str:
    with pytest.raises(ImageInputError) as caught:
        pp.preprocess(pp.load_image(data, **limits), pp.target_format(MNIST_SHAPE))
    message = str(caught.value)
    assert message and not any(word in message for word in FRIENDLY)
    return message


def test_not_an_image():
    assert "not an image" in refused(b"%PDF-1.4 this is not a picture")
    assert "not an image" in refused(png_bytes(draw_digit(), "TIFF"))  # a real image in a format not accepted


def test_empty_file():
    assert "empty" in refused(b"")


def test_file_too_many_bytes():
    assert "limit is" in refused(png_bytes(draw_digit()), max_bytes=100)


def test_too_many_pixels_is_refused_before_decoding():
    assert "megapixels" in refused(png_header_only(7000, 7000))  # 49 MP: over the app's 40 MP


def test_decompression_bomb():
    # 900 MP: Pillow itself refuses it while reading the header; the message is still ours
    assert "decompression bomb" in refused(png_header_only(30_000, 30_000))


def test_pillow_bomb_warning_becomes_a_clear_refusal(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 200x150 = 30 000 px: Pillow errors above 2x
    assert "decompression bomb" in refused(png_bytes(draw_digit((200, 150), (20, 20, 80, 120))), max_pixels=10**9)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)  # 30 000 px lies between 1x and 2x: only a warning
    assert "decompression bomb" in refused(png_bytes(draw_digit((200, 150), (20, 20, 80, 120))), max_pixels=10**9)


@pytest.mark.parametrize("size", [(1, 1), (5, 40)])
def test_tiny_image_is_refused(size):
    assert f"{size[0]}×{size[1]}" in refused(png_bytes(Image.new("L", size, 0)))


def test_truncated_file():
    data = png_bytes(draw_digit())
    assert "damaged" in refused(data[: len(data) // 2])


def test_blank_image_has_no_digit():
    assert "No digit found" in refused(png_bytes(Image.new("L", (100, 100), 255)))


# --- data URLs and the input memory -----------------------------------------------------------------------
def test_data_url_round_trip_and_rejections():
    data = png_bytes(draw_digit())
    assert pp.decode_data_url(pp.to_data_url(data)) == data
    with pytest.raises(ImageInputError):
        pp.decode_data_url("data:text/html;base64," + base64.b64encode(b"<b>").decode())
    with pytest.raises(ImageInputError, match="damaged"):
        pp.decode_data_url("data:image/png;base64,@@not base64@@")


def test_input_memory_keeps_the_last_good_input():
    memory = InputMemory()
    reads = []

    def reader(data: bytes):
        def read() -> bytes:
            reads.append(data)
            return data

        return read

    good = png_bytes(draw_digit())
    assert memory.offer("upload", "a", reader(good), MNIST_SHAPE) is None
    kept = memory.result("upload", MNIST_SHAPE)
    assert kept is not None and kept.image.shape == (28, 28)
    message = memory.offer("upload", "b", reader(b"not an image"), MNIST_SHAPE)
    assert message and "not an image" in message
    assert memory.result("upload", MNIST_SHAPE) is kept, "a bad file never replaces a good one"
    assert memory.offer("upload", "b", reader(b"not an image"), MNIST_SHAPE) == message
    assert memory.offer("upload", "a", reader(good), MNIST_SHAPE) is None
    assert len(reads) == 2, "an input already seen (good or bad) is not read again"
    assert memory.result("upload", DIGITS_SHAPE).image.shape == (8, 8), "a new model shape re-runs the pipeline"
    assert memory.result("draw", MNIST_SHAPE) is None
    memory.forget("upload")
    assert memory.result("upload", MNIST_SHAPE) is None


def test_phone_photo_rotation_in_exif_is_applied():
    upright = draw_digit((300, 200), mode="RGB", ink=(0, 0, 0), paper=(255, 255, 255))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how the sensor saved it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif)
    grey, _ = pp.to_greyscale(pp.load_image(buffer.getvalue()))
    assert grey.shape == (200, 300), "the image is turned upright before anything else"
    reference = pp.preprocess_bytes(png_bytes(upright), MNIST_SHAPE).image
    assert correlation(pp.preprocess_bytes(buffer.getvalue(), MNIST_SHAPE).image, reference) > 0.95


@pytest.mark.parametrize("kind", ["LA png", "palette gif"])
def test_other_transparent_formats(kind):
    reference = pp.preprocess_bytes(png_bytes(draw_digit()), MNIST_SHAPE).image
    alpha = draw_digit(ink=255, paper=0)
    if kind == "LA png":
        image = Image.merge("LA", (Image.new("L", alpha.size, 0), alpha))  # black strokes, alpha as shape
        data = png_bytes(image)
    else:
        image = Image.new("P", alpha.size, 0)
        image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # index 0 white (transparent), 1 black
        image.paste(1, mask=alpha.point(lambda v: 255 if v > 127 else 0))
        buffer = io.BytesIO()
        image.save(buffer, "GIF", transparency=0)
        data = buffer.getvalue()
    result = pp.preprocess_bytes(data, MNIST_SHAPE)
    assert "Transparent" in result.steps[0].note
    assert correlation(result.image, reference) > 0.95
