"""The ELBO page's widgets: which VAE and AE to use, and which image to measure (draw, return plain values).

Session-state keys carry the page prefix `elbo_`. The image helpers keep the last good upload and drawing in
an InputMemory (vae_core.preprocess), so a bad file shows a message and never replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.shell.sidebar import Selection
from ui.state.loaders import dataset_or_none
from ui.widgets.canvas import drawing_canvas
from vae_core.images import thumbnail
from vae_core.preprocess import ImageInputError, InputMemory, PreprocessResult, decode_data_url, to_data_url
from vae_core.registry import ModelEntry, counterpart
from vae_core.vocabulary import ROLE_DEFAULT

SOURCES = {"test": "A test image", "upload": "Upload a picture", "draw": "Draw"}
MEMORY_KEY = "elbo_inputs"


def pick_models(selection: Selection) -> tuple[ModelEntry | None, ModelEntry | None]:
    """(VAE, AE for contrast) pickers side by side; either is None when the data set has no such model.

    The VAE opens on the data set's high-quality default model (role "default"), else the sidebar's model if
    it is a VAE, else the first VAE; the AE on the VAE's counterpart (same latent size) when there is one.
    """
    by_key = {e.key: e for e in selection.entries}
    vaes = [e for e in selection.entries if e.is_variational]
    aes = [e for e in selection.entries if not e.is_variational]
    left, right = st.columns(2)
    vae = None
    if vaes:
        if st.session_state.get("elbo_vae") not in {e.key for e in vaes}:
            preferred = [e for e in vaes if e.role == ROLE_DEFAULT and e.dataset == selection.dataset]
            sidebar_vae = [selection.entry] if selection.entry is not None and selection.entry.is_variational else []
            st.session_state["elbo_vae"] = (preferred + sidebar_vae + vaes)[0].key
        vae = by_key[left.selectbox("VAE", [e.key for e in vaes], key="elbo_vae",
                                    format_func=lambda k: by_key[k].label)]
    ae = None
    if aes:
        if st.session_state.get("elbo_ae") not in {e.key for e in aes}:
            st.session_state["elbo_ae"] = ((counterpart(list(selection.entries), vae) if vae else None) or aes[0]).key
        ae = by_key[right.selectbox("Autoencoder for contrast", [e.key for e in aes], key="elbo_ae",
                                    format_func=lambda k: by_key[k].label)]
    return vae, ae


@dataclass(frozen=True)
class ChosenImage:
    image: np.ndarray  # (H, W) float32 in [0, 1], in the model's input format
    prepared: PreprocessResult | None  # the preprocessing steps (None for a test image)
    description: str


def choose_image(dataset: str, input_shape: tuple[int, int, int]) -> ChosenImage | None:
    """The input picker: a test image, an upload or a drawing. None (after saying what to do) until there is one."""
    memory = st.session_state.setdefault(MEMORY_KEY, InputMemory())
    source = st.radio("Input", list(SOURCES), key="elbo_source", format_func=SOURCES.get, horizontal=True)
    chosen = _test_image(dataset) if source == "test" else _outside_image(source, memory, input_shape)
    if chosen is None:
        st.info("Pick a test image, upload a picture of a digit, or draw one to see its ELBO.")
    return chosen


def show_preparation(prepared: PreprocessResult) -> None:
    """Each preprocessing step as a small image with one sentence, left to right."""
    with st.expander(f"How the image was prepared ({prepared.target.name})", expanded=True):
        for number, (column, step) in enumerate(zip(st.columns(len(prepared.steps)), prepared.steps), start=1):
            column.image(thumbnail(step.image), caption=f"{number}. {step.title}")
            column.caption(step.note)


def _test_image(dataset: str) -> ChosenImage | None:
    test = dataset_or_none(dataset, "test")
    if test is None:
        return None
    if not 0 <= st.session_state.get("elbo_test_index", 0) < len(test):
        st.session_state["elbo_test_index"] = 0  # another data set with fewer test images was picked
    column, _ = st.columns([1, 3])
    index = int(column.number_input(f"Test image (0 – {len(test) - 1})", 0, len(test) - 1, 0, key="elbo_test_index"))
    label = test.class_names[int(test.labels[index])]
    st.caption(f"Test image {index}, a {label}: already in the model's format, so no preprocessing.")
    return ChosenImage(test.images[index, 0].numpy(), None, f"test image {index} ({label})")


def _outside_image(source: str, memory: InputMemory, input_shape: tuple[int, int, int]) -> ChosenImage | None:
    """An upload or a drawing through the preprocessing pipeline; errors are shown, the last good one kept."""
    problem = None
    if source == "upload":
        upload = st.file_uploader("A picture of one digit (PNG or JPG)", type=["png", "jpg", "jpeg"],
                                  key="elbo_upload")
        if upload is not None:
            problem = memory.offer("upload", f"{upload.file_id}:{upload.size}", upload.getvalue, input_shape)
    else:
        kept = memory.raw("draw")
        drawn = drawing_canvas("elbo_canvas", initial=to_data_url(kept) if kept else None)
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
    return ChosenImage(prepared.image, prepared, "your upload" if source == "upload" else "your drawing")
