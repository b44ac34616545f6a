"""What the app's download buttons hand out, without Streamlit: test-set codes as CSV, and the files' names.

A lecturer exports an image grid, a figure or the codes for the notes; the file name says where it came from
(data set, model, page, what), so a folder of downloads stays readable. numpy only: the sidebar imports this
module through ui.widgets.export and must not load torch.
"""

from __future__ import annotations

import io
import re
import unicodedata

import numpy as np

CSV_INDEX_COLUMN = "index"  # the image's position in the test split
CSV_LABEL_COLUMN = "label"  # its true class, as the data set numbers it
FLOAT_FORMAT = "%.9g"  # 9 significant digits: every float32 reads back exactly (IEEE 754's round-trip bound)
MAX_PART_CHARS = 40  # per part of a file name: a long model name must not push the page off the end

# Greek letters the app's names use, spelled out: a file name of plain ASCII survives every file system and
# mail client, and "beta4" says more than the "4" that dropping the letter would leave.
_GREEK = {"β": "beta", "σ": "sigma", "τ": "tau", "μ": "mu", "ε": "eps", "ρ": "rho", "λ": "lambda", "κ": "kappa"}


def code_column(d: int) -> str:
    """The CSV header of latent dimension d (0-based): 'z1' for d = 0.

    The ASCII spelling of vae_core.engine.vocabulary.dim_name ('z₁'), since spreadsheets and pandas users type it.
    """
    return f"z{d + 1}"


def codes_header(latent_dim: int) -> list[str]:
    """The codes CSV's columns: index, label, z1 … zD."""
    return [CSV_INDEX_COLUMN, CSV_LABEL_COLUMN, *(code_column(d) for d in range(latent_dim))]


def codes_csv(codes: np.ndarray, labels: np.ndarray) -> bytes:
    """Codes (N, D) with their labels (N,) as UTF-8 CSV bytes: a header `index,label,z1,…,zD`, one row per image.

    Row i is test image i, so the index column joins the file back to the data set. Floats keep 9 significant
    digits, enough for float32 codes to read back bit for bit.
    """
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    assert codes.ndim == 2, f"codes must be (N, D), got shape {codes.shape}"
    assert labels.shape == (len(codes),), f"labels must be ({len(codes)},), got shape {labels.shape}"
    buffer = io.StringIO()
    buffer.write(",".join(codes_header(codes.shape[1])) + "\n")
    # One row template, one np.savetxt call: as fast as pandas' to_csv or a join of '%' strings here, about
    # 0.1 s for 10 000 2-D codes and 0.35 s for 32-D ones on the 2-core machine (hence written only on click).
    row = "%d,%d," + ",".join([FLOAT_FORMAT] * codes.shape[1]) if codes.shape[1] else "%d,%d"
    table = np.column_stack([np.arange(len(codes)), labels.astype(np.int64), codes.astype(np.float64)])
    np.savetxt(buffer, table, fmt=row, delimiter=",")
    return buffer.getvalue().encode("utf-8")


def file_part(text: str) -> str:
    """One part of a file name: lower-case ASCII letters, digits, dots and dashes ('β-VAE z=2' -> 'beta-vae-z-2')."""
    spelled = "".join(_GREEK.get(ch, ch) for ch in text.lower())
    ascii_only = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    part = re.sub(r"[^a-z0-9.]+", "-", ascii_only).strip("-.")
    return part[:MAX_PART_CHARS].strip("-.")


def export_stem(dataset: str, model: str | None, page: str, what: str) -> str:
    """A download's file name without its extension: data set, model, page, what, joined by '_'.

    `model` is None for what belongs to no single model. Parts that slug to nothing are left out, so the name
    never holds an empty part or starts with '_'.
    """
    parts = [file_part(p) for p in (dataset, model or "", page, what)]
    return "_".join(p for p in parts if p) or "export"


def export_file_name(dataset: str, model: str | None, page: str, what: str, extension: str) -> str:
    """export_stem(...) + '.' + extension ('png', 'csv', 'svg')."""
    return f"{export_stem(dataset, model, page, what)}.{file_part(extension)}"
