"""The ELBO page's numbers, cached per (model, image, seed, K) so widgets that do not change them are free.

Thin st.cache_data wrappers over vae_core.lessons.elbo_report (which holds the maths and is tested on its own). Every
function takes a vae_core.engine.registry.ModelRef (the cache keys on its values; its checkpoint_id changes when the
file does) and the image as a NumPy array, which st.cache_data hashes by content. The image is the one the
model is measured on (the binarised copy for a binarised model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st
import torch

from ui.state.loaders import load_model
from vae_core.engine.data import binary_entropy_floor
from vae_core.engine.registry import ModelRef
from vae_core.lessons import elbo_report


@st.cache_data(max_entries=64, show_spinner=False)
def breakdown(ref: ModelRef, image: np.ndarray, *, seed: int) -> elbo_report.ElboBreakdown:
    """The VAE's terms at beta = 1; use .with_beta(b) to weigh them with another beta."""
    model = load_model(ref)
    return elbo_report.elbo_breakdown(model, elbo_report.as_batch(image, model), beta=1.0, seed=seed)


@st.cache_data(max_entries=128, show_spinner=False)
def iw_draws(ref: ModelRef, image: np.ndarray, *, k: int, seed: int) -> np.ndarray:
    """One seed's k log importance weights (nested: the first K give that seed's K-sample estimate)."""
    model = load_model(ref)
    return elbo_report.iw_draws(model, elbo_report.as_batch(image, model), k=k, seed=seed)


DONE_KEY = "elbo_iw_done"  # (ref, image bytes, k, seed) computed in this session: no progress bar for those


def iw_curve(ref: ModelRef, image: np.ndarray, *, ks: Sequence[int], seeds: Sequence[int]) -> elbo_report.IwCurve:
    """-IW_K against K over several seeds, one cached seed at a time, with a progress bar while it computes."""
    k = max(ks)
    done_before = st.session_state.setdefault(DONE_KEY, set())
    keys = [(ref, image.tobytes(), k, seed) for seed in seeds]
    bar = None if all(key in done_before for key in keys) else st.progress(0.0, text="Importance sampling…")
    rows = []
    for done, seed in enumerate(seeds, start=1):
        rows.append(iw_draws(ref, image, k=k, seed=seed))
        if bar is not None:
            bar.progress(done / len(seeds), text=f"Importance sampling, K = {k}: seed {done} of {len(seeds)}")
    if bar is not None:
        bar.empty()
    done_before.update(keys)
    return elbo_report.iw_curve_from_rows(ks, seeds, rows)


@st.cache_data(max_entries=64, show_spinner="Binarising again…")
def binarized_spread(ref: ModelRef, grey: np.ndarray, *, seeds: tuple[int, ...], draw_seed: int) -> tuple[float, float]:
    """(mean, sd) of -ELBO over binarisations of the grey image with these seeds."""
    model = load_model(ref)
    return elbo_report.binarized_neg_elbo_spread(
        model, elbo_report.as_batch(grey, model), seeds=seeds, draw_seed=draw_seed
    )


@st.cache_data(max_entries=64, show_spinner=False)
def pictures(ref: ModelRef, image: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(decoded posterior mean (H, W), POSTERIOR_SAMPLES decoded draws from q(z|x) (n, H, W))."""
    model = load_model(ref)
    x = elbo_report.as_batch(image, model)
    return (
        elbo_report.mean_reconstruction(model, x),
        elbo_report.posterior_samples(model, x, n=elbo_report.POSTERIOR_SAMPLES, seed=seed),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def ae_breakdown(ref: ModelRef, image: np.ndarray) -> elbo_report.AeBreakdown:
    model = load_model(ref)
    return elbo_report.ae_breakdown(model, elbo_report.as_batch(image, model))


def entropy_floor(grey: np.ndarray) -> float:
    """The lowest Bernoulli cross-entropy any model can reach on one grey-level image (H, W), in nats
    (vae_core.engine.data.binary_entropy_floor): what the page's caveat on grey levels quotes."""
    return binary_entropy_floor(torch.from_numpy(grey)[None, None])
