"""The ELBO page's model pickers (draw, return plain values); the image chooser is ui.widgets.image_chooser.

Session-state keys carry the page prefix `elbo_`.
"""

from __future__ import annotations

import streamlit as st

from ui.shell.sidebar import Selection
from vae_core.engine.registry import ModelEntry, counterpart
from vae_core.engine.vocabulary import ROLE_DEFAULT
from vae_core.lessons.elbo_report import like_for_like_ae

SIDEBAR_SEEN_KEY = "elbo_sidebar_model"  # the sidebar model the pickers last started from


def initial_models(selection: Selection) -> tuple[ModelEntry | None, ModelEntry | None]:
    """(VAE, AE) the pickers start from: the sidebar's model on its side, its like-for-like counterpart on the
    other; without a sidebar model of either kind, the data set's default VAE."""
    entries = list(selection.entries)
    vaes = [e for e in entries if e.is_variational]
    aes = [e for e in entries if not e.is_variational]
    sidebar = selection.entry
    vae: ModelEntry | None
    if sidebar is not None and sidebar.is_variational:
        vae = sidebar
    elif sidebar is not None and (twin := counterpart(entries, sidebar)) is not None:
        vae = twin
    else:
        defaults = [e for e in vaes if e.role == ROLE_DEFAULT and e.dataset == selection.dataset]
        vae = (defaults + vaes)[0] if vaes else None
    ae: ModelEntry | None
    if sidebar is not None and not sidebar.is_variational:
        ae = sidebar
    else:
        ae = (like_for_like_ae(entries, vae) if vae is not None else None) or (aes[0] if aes else None)
    return vae, ae


def pick_models(selection: Selection) -> tuple[ModelEntry | None, ModelEntry | None]:
    """(VAE, AE for contrast) pickers side by side; either is None when the data set has no such model.

    Both start from the sidebar's model (initial_models) and start again from it whenever it changes; picking
    another VAE moves the AE picker to that VAE's like-for-like AE.
    """
    by_key = {e.key: e for e in selection.entries}
    vaes = [e.key for e in selection.entries if e.is_variational]
    aes = [e.key for e in selection.entries if not e.is_variational]
    sidebar_key = selection.entry.key if selection.entry is not None else None
    start_vae, start_ae = initial_models(selection)
    if st.session_state.get(SIDEBAR_SEEN_KEY) != sidebar_key:
        st.session_state[SIDEBAR_SEEN_KEY] = sidebar_key
        st.session_state.pop("elbo_vae", None)
        st.session_state.pop("elbo_ae", None)
    left, right = st.columns(2)
    vae = ae = None
    if vaes:
        if st.session_state.get("elbo_vae") not in vaes:
            assert start_vae is not None, "initial_models starts from a VAE when there is one"
            st.session_state["elbo_vae"] = start_vae.key
        # another VAE: the AE picker starts again from that VAE's like-for-like AE
        vae = by_key[
            left.selectbox(
                "VAE",
                vaes,
                key="elbo_vae",
                format_func=lambda k: by_key[k].label,
                on_change=lambda: st.session_state.pop("elbo_ae", None),
            )
        ]
    if aes:
        if st.session_state.get("elbo_ae") not in aes:
            twin = like_for_like_ae(list(selection.entries), vae) if vae is not None else None
            start = start_ae if vae == start_vae or twin is None else twin
            assert start is not None, "initial_models starts from an autoencoder when there is one"
            st.session_state["elbo_ae"] = start.key
        ae = by_key[
            right.selectbox("Autoencoder for contrast", aes, key="elbo_ae", format_func=lambda k: by_key[k].label)
        ]
    return vae, ae
