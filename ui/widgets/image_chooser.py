"""The image chooser shared by the pages that measure one image: a test image, an upload or a drawing.

`choose_image(dataset, input_shape, protocol, key_prefix)` draws the picker and returns a ChosenImage (plain
values) or None. For a model trained on binarised images (DataProtocol.BINARIZED) it also shows the binarised
copy the model is measured on and a seed for it, and says so in one sentence; `chosen.measured` is that copy,
`chosen.grey` the grey-level image. Session-state keys start with key_prefix; the last good upload and drawing
are kept in an InputMemory (vae_core.serving.preprocess), so a bad file shows a message and never replaces them.
The source, the test image's index and the binarisation seed are bound to the URL under their keys
(ui.shell.url_state lists them per page); an upload or a drawing is not text and stays out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.state.loaders import dataset_or_none
from ui.widgets import bound
from ui.widgets.canvas import drawing_canvas
from vae_core.engine import limits
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, DataProtocol
from vae_core.serving.images import READABLE_PX, enlarge, thumbnail
from vae_core.serving.preprocess import (
    UPLOAD_TYPES,
    UPLOAD_TYPES_TEXT,
    ImageInputError,
    InputMemory,
    PreprocessResult,
    decode_data_url,
    to_data_url,
)

SOURCES = {"test": "A test image", "upload": "Upload a picture", "draw": "Draw"}
PREVIEW_PX = READABLE_PX


@dataclass(frozen=True)
class ChosenImage:
    grey: np.ndarray  # (H, W) float32 in [0, 1]: the test image, or the prepared upload / drawing
    prepared: PreprocessResult | None  # the preprocessing steps (None for a test image)
    description: str  # "test image 3 (7)", "your upload", "your drawing"
    protocol: DataProtocol  # the protocol of the model it is measured by
    binarization_seed: int  # the seed of the binarised copy (used only when the protocol binarises)

    @property
    def measured(self) -> np.ndarray:
        """The image as the model is measured on it (the binarised copy for a binarised model), (H, W)."""
        return self.measured_for(self.protocol)

    def measured_for(self, protocol: DataProtocol) -> np.ndarray:
        """The image as a model with another protocol is measured on it (same seed)."""
        return measured_image(self.grey, protocol, self.binarization_seed)


def measured_image(grey: np.ndarray, protocol: DataProtocol, seed: int) -> np.ndarray:
    """One grey image as a model of this protocol sees it: binarised with its own generator seeded with seed
    (each pixel 1 with probability equal to its grey level), or unchanged. (H, W) float32."""
    if not protocol.binarizes_inputs:
        return np.ascontiguousarray(grey, dtype=np.float32)
    import torch

    from vae_core.engine.data import measured_inputs

    batch = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))[None, None]
    return measured_inputs(batch, protocol, seed=int(seed))[0, 0].numpy()


def choose_image(
    dataset: str,
    input_shape: tuple[int, int, int],
    protocol: DataProtocol,
    key_prefix: str,
    *,
    sources: tuple[str, ...] = tuple(SOURCES),
    purpose: str = "its ELBO",
) -> ChosenImage | None:
    """The input picker. None (after saying what to do) until there is an image.

    sources: the choices offered, a subset of SOURCES in its order (a page with its own test-image picker leaves
    "test" out, so it is not asked twice); purpose: what the image is for, in the hint shown until there is one.
    """
    assert sources and set(sources) <= set(SOURCES), f"sources must be among {list(SOURCES)}, got {sources}"
    memory = st.session_state.setdefault(f"{key_prefix}_inputs", InputMemory())
    source = bound.radio("Input", list(sources), key=f"{key_prefix}_source", format_func=SOURCES.get, horizontal=True)
    if source == "test":
        found = _test_image(dataset, key_prefix, protocol)
    else:
        found = _outside_image(source, memory, input_shape, key_prefix)
    if found is None:
        choices = {"test": "pick a test image", "upload": "upload a picture of a digit", "draw": "draw one"}
        named = [choices[s] for s in sources]
        st.info(
            (", ".join(named[:-1]) + ", or " + named[-1] if len(named) > 1 else named[0]).capitalize()
            + f" to see {purpose}."
        )
        return None
    grey, prepared, description = found
    seed = _binarization(grey, protocol, key_prefix)
    return ChosenImage(np.ascontiguousarray(grey, dtype=np.float32), prepared, description, protocol, seed)


def show_preparation(prepared: PreprocessResult) -> None:
    """Each preprocessing step as a small image with one sentence, left to right."""
    with st.expander(f"How the image was prepared ({prepared.target.name})", expanded=True):
        columns = st.columns(len(prepared.steps))
        for number, (column, step) in enumerate(zip(columns, prepared.steps, strict=True), start=1):
            column.image(thumbnail(step.image), caption=f"{number}. {step.title}")
            column.caption(step.note)


def _binarization(grey: np.ndarray, protocol: DataProtocol, key_prefix: str) -> int:
    """For a binarised model: the grey image, its binarised copy, the seed, one sentence. Returns the seed."""
    if not protocol.binarizes_inputs:
        return EVAL_BINARIZATION_SEED
    key = f"{key_prefix}_binarize_seed"
    # two image columns wide enough for PREVIEW_PX (a quarter of the page each: at a sixth they shrank to ~75 px)
    columns = st.columns([1, 1, 2])
    seed = bound.number_input(
        "Binarisation seed",
        key=key,
        min_value=0,
        max_value=2**31 - 1,
        value=EVAL_BINARIZATION_SEED,
        container=columns[2],
        help="Another seed gives another binarised copy of the same grey image.",
    )
    columns[0].image(enlarge(grey, PREVIEW_PX), caption="Grey levels")
    columns[1].image(enlarge(measured_image(grey, protocol, seed), PREVIEW_PX), caption=f"Binarised, seed {seed}")
    columns[2].caption(
        "This model was trained on binarised images, so it is measured on a binarised copy of this one: each "
        f"pixel is white with probability equal to its grey level (seed {seed})."
    )
    return seed


def _test_image(dataset: str, key_prefix: str, protocol: DataProtocol):
    test = dataset_or_none(dataset, "test")
    if test is None:
        return None
    key = f"{key_prefix}_test_index"
    if not 0 <= st.session_state.get(key, 0) < len(test):
        st.session_state[key] = 0  # another data set with fewer test images was picked
    column, _ = st.columns([1, 3])
    index = bound.number_input(
        f"Test image (0 – {len(test) - 1})", key=key, min_value=0, max_value=len(test) - 1, value=0, container=column
    )
    label = test.class_names[int(test.labels[index])]
    how = (
        "binarised below, as the model was trained"
        if protocol.binarizes_inputs
        else "in grey levels, as the model was trained"
    )
    st.caption(f"Test image {index}, a {label}: no preprocessing needed; measured {how}.")
    return test.images[index, 0].numpy(), None, f"test image {index} ({label})"


def _outside_image(source: str, memory: InputMemory, input_shape: tuple[int, int, int], key_prefix: str):
    """An upload or a drawing through the preprocessing pipeline; errors are shown, the last good one kept."""
    problem = None
    if source == "upload":
        upload = st.file_uploader(
            f"A picture of one digit ({UPLOAD_TYPES_TEXT})",
            type=list(UPLOAD_TYPES),
            key=f"{key_prefix}_upload",
            max_upload_size=limits.MAX_UPLOAD_MB,
        )
        if upload is not None:
            problem = memory.offer("upload", f"{upload.file_id}:{upload.size}", upload.getvalue, input_shape)
    else:
        kept = memory.raw("draw")
        drawn = drawing_canvas(f"{key_prefix}_canvas", initial=to_data_url(kept) if kept else None)
        if drawn.cleared:
            memory.forget("draw")
        elif drawn.image is not None:
            url = drawn.image
            problem = memory.offer("draw", str(hash(url)), lambda: decode_data_url(url), input_shape)
    try:
        prepared = memory.result(source, input_shape)
    except ImageInputError as err:  # the kept image cannot be prepared for this model's input shape
        prepared, problem = None, str(err)
    if problem:
        st.error(problem + (" The previous image is still used below." if prepared is not None else ""))
    if prepared is None:
        return None
    show_preparation(prepared)
    return prepared.image, prepared, "your upload" if source == "upload" else "your drawing"
