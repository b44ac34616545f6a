"""The inference page's numbers, cached: per (checkpoint, image) for the posterior, per slider values for the toys.

Thin st.cache_data wrappers over vae_core.posterior and vae_core.divergences. Every function takes plain
values: checkpoint_id is the cache key (it changes when the file does), path is what is loaded, images are
NumPy arrays, which st.cache_data hashes by content.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from vae_core import divergences, posterior

from .loaders import load_split, model_by_id

IW_K = 5000  # importance samples for the IW estimate shown beside log p(x)
IW_SEEDS = (0, 1, 2, 3)  # the shown estimate is the first seed's; the others measure its spread
BINARIZE_SEED = 0  # the fixed binarisation of an image for models trained with dynamic binarisation
Q_STAR_SEED = 0
RANKED_IMAGES = 200  # test images ranked for the "largest gap" picker (all of them when fewer)


@st.cache_data(max_entries=32, show_spinner=False)
def image_inference(checkpoint_id: str, path: str, image: np.ndarray, binarize: bool,
                    fit_q_star: bool) -> posterior.ImageInference:
    """Grid posterior, ELBO, both gaps, IW_K and q* for one image (H, W) in [0, 1]."""
    model = model_by_id(checkpoint_id, path, "cpu")  # small grids: the CPU is the right place
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).unsqueeze(0)  # (1, H, W): one channel
    return posterior.infer_image(model, x,
                                 binarize_seed=BINARIZE_SEED if binarize else None, k=IW_K, iw_seeds=IW_SEEDS,
                                 fit_q_star=fit_q_star, seed=Q_STAR_SEED)


@st.cache_data(max_entries=8, show_spinner=False)
def gap_ranking(checkpoint_id: str, path: str, dataset: str, binarize: bool) -> posterior.GapRanking:
    """The first RANKED_IMAGES test images ranked by a quick estimate of KL(q ‖ p(z|x)), largest first."""
    model = model_by_id(checkpoint_id, path, "cpu")
    images = load_split(dataset, "test").images[:RANKED_IMAGES]
    if binarize:
        images = torch.bernoulli(images, generator=torch.Generator().manual_seed(BINARIZE_SEED))
    with torch.no_grad():
        means, logvars = model.encode(images)
    return posterior.rank_by_gap(posterior.Decoder.from_model(model), images, means, logvars)


@st.cache_data(max_entries=64, show_spinner=False)
def mean_field(rho: float) -> divergences.MeanFieldComparison:
    return divergences.mean_field_fits(rho)


@st.cache_data(max_entries=16, show_spinner=False)
def variance_curve(n: int = 199) -> tuple[np.ndarray, np.ndarray]:
    rhos = np.linspace(-0.99, 0.99, n)
    return rhos, divergences.variance_underestimate(rhos)


@st.cache_data(max_entries=64, show_spinner=False)
def mixture_fits(separation: float, weight_a: float, dim: int
                 ) -> tuple[divergences.GaussianFit, divergences.GaussianFit, divergences.GaussianFit]:
    """(reverse fit from mode A, reverse fit from mode B, forward fit) for one mixture."""
    target = divergences.TwoGaussianMixture(separation, weight_a, dim=dim)
    grid = divergences.quadrature_grid(target)
    return (divergences.fit_reverse(target, "A", grid), divergences.fit_reverse(target, "B", grid),
            divergences.fit_forward(target, grid))
