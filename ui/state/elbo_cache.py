"""The ELBO page's numbers, cached per (checkpoint, image, seed, K) so widgets that do not change them are free.

Thin st.cache_data wrappers over vae_core.elbo_report (which holds the maths and is tested on its own). Every function takes
plain values: checkpoint_id is the cache key (it changes when the file does), path is what is loaded, and the
image is a NumPy array, which st.cache_data hashes by content.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae_core import elbo_report as elbo
from ui.state.loaders import model_by_id


@st.cache_data(max_entries=64, show_spinner=False)
def breakdown(checkpoint_id: str, path: str, device: str, image: np.ndarray, seed: int) -> elbo.ElboBreakdown:
    """The VAE's terms at beta = 1; use .with_beta(b) to weigh them with another beta."""
    model = model_by_id(checkpoint_id, path, device)
    return elbo.elbo_breakdown(model, elbo.as_batch(image, model), beta=1.0, seed=seed)


@st.cache_data(max_entries=64, show_spinner="Importance sampling…")
def iw_nll(checkpoint_id: str, path: str, device: str, image: np.ndarray, k: int, seed: int) -> float:
    model = model_by_id(checkpoint_id, path, device)
    return elbo.iw_nll(model, elbo.as_batch(image, model), k=k, seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def pictures(checkpoint_id: str, path: str, device: str, image: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(decoded posterior mean (H, W), POSTERIOR_SAMPLES decoded draws from q(z|x) (n, H, W))."""
    model = model_by_id(checkpoint_id, path, device)
    x = elbo.as_batch(image, model)
    return elbo.mean_reconstruction(model, x), elbo.posterior_samples(model, x, n=elbo.POSTERIOR_SAMPLES, seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def ae_breakdown(checkpoint_id: str, path: str, device: str, image: np.ndarray) -> elbo.AeBreakdown:
    model = model_by_id(checkpoint_id, path, device)
    return elbo.ae_breakdown(model, elbo.as_batch(image, model))
