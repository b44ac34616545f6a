"""Exports: the codes CSV reads back to the model's own encodings, grid PNGs open at the grid's size, names are safe."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core.engine.models import build_model
from vae_core.serving import images
from vae_core.serving.export import code_column, codes_csv, codes_header, export_file_name, export_stem, file_part


def parse(data: bytes) -> tuple[list[str], list[list[str]]]:
    """The CSV through the standard library's reader (not the code under test): header, rows."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return rows[0], rows[1:]


def test_codes_csv_holds_the_models_posterior_means_bit_for_bit(tiny_config, digits_test):
    torch.manual_seed(0)
    model = build_model(tiny_config(kind="vae", latent_dim=3)).eval()
    x = digits_test.images[:50]
    with torch.no_grad():
        means = model.embed(x).numpy().astype(np.float32)
        # The independent encode: the encoder's posterior mean, one image at a time.
        expected = np.stack([model.encode(x[i : i + 1]).mean[0].numpy() for i in range(len(x))])
    labels = digits_test.labels[:50].numpy()

    header, rows = parse(codes_csv(means, labels))

    assert header == ["index", "label", "z1", "z2", "z3"]
    assert len(rows) == 50
    assert [int(r[0]) for r in rows] == list(range(50))
    assert [int(r[1]) for r in rows] == labels.tolist()
    read = np.array([[float(v) for v in r[2:]] for r in rows], dtype=np.float32)
    np.testing.assert_array_equal(read, means)  # float32 survives the text exactly
    np.testing.assert_allclose(read, expected, rtol=0, atol=1e-6)


def test_codes_csv_keeps_extreme_float32_values_exactly():
    codes = np.array([[np.float32(1e-38), np.float32(-3.4e38)], [np.float32(0.1), np.nextafter(np.float32(1), 2)]])
    _, rows = parse(codes_csv(codes.astype(np.float32), np.array([7, 0])))
    np.testing.assert_array_equal(np.array([[float(v) for v in r[2:]] for r in rows], dtype=np.float32), codes)
    assert [r[1] for r in rows] == ["7", "0"]


def test_codes_csv_refuses_labels_that_do_not_match_the_codes():
    with pytest.raises(AssertionError, match="labels"):
        codes_csv(np.zeros((3, 2), np.float32), np.zeros(4, np.int64))
    with pytest.raises(AssertionError, match="codes"):
        codes_csv(np.zeros(3, np.float32), np.zeros(3, np.int64))


def test_codes_header_names_every_dimension_from_one():
    assert codes_header(12)[-1] == "z12" == code_column(11)
    assert len(codes_header(12)) == 14


@pytest.mark.parametrize("n, n_cols, cell_px, side", [(9, 3, 28, 8), (10, 4, 56, 28), (1, 1, 28, 28)])
def test_grid_png_opens_at_the_grids_size(n, n_cols, cell_px, side):
    decoded = np.random.default_rng(0).random((n, 1, side, side), dtype=np.float32)
    png = images.grid_png(decoded, n_cols, cell_px)

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    cell = side * max(1, cell_px // side)
    rows = -(-n // n_cols)
    assert image.size == (n_cols * (cell + 1) - 1, rows * (cell + 1) - 1)  # 1-px white lines between cells


def test_file_names_are_plain_ascii_parts_in_a_fixed_order():
    assert export_file_name("fashion_mnist", "β-VAE z=2 (β=4)", "Decoder grid", "grid", "png") == (
        "fashion-mnist_beta-vae-z-2-beta-4_decoder-grid_grid.png"
    )
    assert export_stem("mnist", None, "Latent space", "scatter AE") == "mnist_latent-space_scatter-ae"
    assert export_stem("", None, "", "") == "export"


def test_file_parts_drop_what_a_file_system_or_shell_would_trip_on():
    part = file_part("../../etc/passwd; rm -rf *")
    assert "/" not in part and " " not in part and not part.startswith(".")
    assert len(file_part("x" * 500)) <= 40
    assert file_part("digits-vae-z2.v1") == "digits-vae-z2.v1"
