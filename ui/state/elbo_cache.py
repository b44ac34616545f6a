"""The ELBO page's numbers, cached per (model, image, seed, K) so widgets that do not change them are free.

Thin st.cache_data wrappers over vae_core.elbo_report (which holds the maths and is tested on its own). Every
function takes a vae_core.registry.ModelRef (the cache keys on its values; its checkpoint_id changes when the
file does) and the image as a NumPy array, which st.cache_data hashes by content.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.state.loaders import load_model
from vae_core import elbo_report
from vae_core.registry import ModelRef


@st.cache_data(max_entries=64, show_spinner=False)
def breakdown(ref: ModelRef, image: np.ndarray, *, seed: int) -> elbo_report.ElboBreakdown:
    """The VAE's terms at beta = 1; use .with_beta(b) to weigh them with another beta."""
    model = load_model(ref)
    return elbo_report.elbo_breakdown(model, elbo_report.as_batch(image, model), beta=1.0, seed=seed)


@st.cache_data(max_entries=64, show_spinner="Importance sampling…")
def iw_nll(ref: ModelRef, image: np.ndarray, *, k: int, seed: int) -> float:
    model = load_model(ref)
    return elbo_report.iw_nll(model, elbo_report.as_batch(image, model), k=k, seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def pictures(ref: ModelRef, image: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(decoded posterior mean (H, W), POSTERIOR_SAMPLES decoded draws from q(z|x) (n, H, W))."""
    model = load_model(ref)
    x = elbo_report.as_batch(image, model)
    return (elbo_report.mean_reconstruction(model, x),
            elbo_report.posterior_samples(model, x, n=elbo_report.POSTERIOR_SAMPLES, seed=seed))


@st.cache_data(max_entries=64, show_spinner=False)
def ae_breakdown(ref: ModelRef, image: np.ndarray) -> elbo_report.AeBreakdown:
    model = load_model(ref)
    return elbo_report.ae_breakdown(model, elbo_report.as_batch(image, model))
