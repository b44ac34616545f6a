"""Small widgets and captions shared by pages; each returns plain values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.widgets import bound
from vae_core.engine import limits
from vae_core.engine.data import ImageDataset
from vae_core.engine.literal_text import literal
from vae_core.engine.registry import ModelEntry
from vae_core.engine.vocabulary import dim_name
from vae_core.serving.images import READABLE_PX, digit_png
from vae_core.serving.preprocess import UPLOAD_TYPES, ImageInputError, InputMemory

PROJECTION_LABELS = {"pca": "PCA (linear, fast)", "tsne": "t-SNE (non-linear, slow the first time)"}


def model_caption(entry: ModelEntry) -> str:
    """One line about a model: what it is and its test-set numbers (from its own evaluation)."""
    report = entry.info.metrics
    text = literal(entry.label)
    if report is None:
        return text
    text += f" · test {report.format_headline()}" + (f", KL {report.kl:.1f}" if report.is_variational else "")
    if report.informative_dims is not None:
        text += f" · {report.informative_dims}/{entry.latent_dim} informative dimensions"
    return text


def projection_choice(container, latent_dim: int, key: str) -> str:
    """'pca' or 'tsne' for latents above 2-D; 2-D latents are shown as they are ('pca' is then unused)."""
    if latent_dim <= 2:
        container.caption(f"2-D latent: the axes are {dim_name(0)} and {dim_name(1)} themselves.")
        return "pca"
    return bound.radio(
        "Latent size > 2: view through",
        list(PROJECTION_LABELS),
        key=key,
        container=container,
        horizontal=True,
        format_func=PROJECTION_LABELS.get,
        help="PCA keeps distances along its two directions (and the prior stays a circle); "
        "t-SNE keeps neighbourhoods but bends distances, so no prior circles there.",
    )


def show_as_measured(
    container,
    grey: np.ndarray,
    measured: np.ndarray,
    *,
    binarised: bool,
    caption: str,
    seed: int | None = None,
    side_by_side: bool = True,
    size_px: int = READABLE_PX,
) -> None:
    """The image a model is fed, at least READABLE_PX and nearest-neighbour upscaled (vae_core.serving.images);
    for a binarised model the grey original beside (or above, in a narrow column) the binarised copy."""
    # an explicit width: left to the layout, two equal PNGs in equal columns came out at different sizes
    if not binarised:
        container.image(digit_png(measured, size_px), caption=caption, width=size_px)
        return
    seed_text = f", seed {seed}" if seed is not None else ""
    left, right = container.columns(2) if side_by_side else (container, container)
    left.image(digit_png(grey, size_px), caption=f"{caption}: grey levels", width=size_px)
    right.image(digit_png(measured, size_px), caption=f"binarised{seed_text}: what the model is fed", width=size_px)


@dataclass(frozen=True)
class PickedDigit:
    """An image chosen on a page, ready for the model."""

    image: np.ndarray  # (H, W) float32 in [0, 1]
    description: str  # e.g. "test image #12 (3)" or "your upload"
    index: int | None = None  # its index in the test split; None for an upload


def nth_of_class(labels: np.ndarray, label: int, nth: int) -> int:
    """Index in the split of the nth image (0-based) whose label is `label`. Raises IndexError past the end."""
    indices = np.flatnonzero(np.asarray(labels) == label)
    if not 0 <= nth < len(indices):
        raise IndexError(f"there are {len(indices)} images of class {label}; asked for number {nth}")
    return int(indices[nth])


def digit_picker(data: ImageDataset, key_prefix: str, default_class: int, title: str) -> PickedDigit | None:
    """A test image chosen by class and number, or an upload (prepared like the training data).

    Returns None while an upload is awaited; a bad file shows an error and keeps the last good upload.
    """
    st.markdown(f"**{title}**")
    source = bound.radio(
        f"{title}: source",
        ["test", "upload"],
        key=f"{key_prefix}_source",
        horizontal=True,
        format_func={"test": "Test set", "upload": "Upload"}.get,
        label_visibility="collapsed",
    )
    if source == "test":
        labels = data.labels.numpy()
        classes = list(range(len(data.class_names)))
        left, right = st.columns(2)
        label = bound.selectbox(
            "Class",
            classes,
            key=f"{key_prefix}_class",
            index=default_class % len(classes),
            format_func=lambda c: data.class_names[c],
            container=left,
        )
        count = int((labels == label).sum())
        nth = bound.number_input(
            f"Which one (0–{count - 1})",
            key=f"{key_prefix}_nth",
            min_value=0,
            max_value=max(count - 1, 0),
            value=0,
            container=right,
        )
        index = nth_of_class(labels, label, min(nth, count - 1))
        return PickedDigit(data.images[index, 0].numpy(), f"test image #{index} ({data.class_names[label]})", index)

    memory = st.session_state.setdefault(f"{key_prefix}_uploads", InputMemory())
    upload = st.file_uploader(
        f"{title}: a picture of one digit",
        type=list(UPLOAD_TYPES),
        key=f"{key_prefix}_file",
        max_upload_size=limits.MAX_UPLOAD_MB,
    )
    if upload is not None:
        error = memory.offer("upload", upload.file_id, upload.getvalue, data.input_shape)
        if error:
            st.error(error)
    try:
        result = memory.result("upload", data.input_shape)
    except ImageInputError as err:  # the kept file no longer decodes for this shape
        st.error(str(err))
        result = None
    if result is None:
        st.info("Upload a picture of a single digit (dark on light or light on dark).")
        return None
    return PickedDigit(result.image, "your upload" + (" (inverted)" if result.inverted else ""))
