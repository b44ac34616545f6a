"""Where a page needs a data set's training split (Train, the β page's extra point): say when it is not here and
offer to download it, with a progress bar. MNIST's and Fashion-MNIST's test splits ship with the app; their
training splits are fetched into the data directory by vae_core.engine.data_files (md5-checked, renamed into
place only when complete, so a failed download leaves nothing behind)."""

from __future__ import annotations

import streamlit as st

from vae_core.engine.data import data_dir, has_split
from vae_core.engine.data_files import FetchFailed, fetch_split, source
from vae_core.engine.literal_text import literal


def offer_text(dataset: str) -> str:
    """The line shown where the training split is needed and missing."""
    src = source(dataset)
    return f"{src.title}'s training images are not here: download, {src.download_mb('train')} MB."


def training_split_ready(dataset: str, key: str) -> bool:
    """True when the data set's training split is on this machine. Otherwise draw the offer and its button (key:
    the page's prefix), download on a click (then rerun the app, which now finds the files) and return False."""
    if has_split(dataset, "train"):
        return True
    src = source(dataset)
    st.info(
        offer_text(dataset) + " Its test images ship with the app, so every other page works without them; "
        f"or run `python -m vae_core data fetch {dataset}` on the server."
    )
    label = f"Download {src.title}'s training images"
    if not st.button(label, key=f"{key}_fetch_{dataset}", icon=":material/download:"):
        return False
    bar = st.progress(0.0, text=f"Downloading {src.title}'s training images…")

    def report(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0), text=f"Downloading {src.title}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    try:
        fetch_split(dataset, "train", data_dir(), progress=report)
    except FetchFailed as err:
        bar.empty()
        st.error(literal(str(err)))
        return False
    bar.empty()
    st.rerun(scope="app")
    return True  # not reached: st.rerun ends this run
