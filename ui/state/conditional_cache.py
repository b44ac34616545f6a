"""The conditional VAE page's numbers and pictures, cached per model (thin st.cache_data wrappers over
vae_core.lessons.conditional, which holds the maths and is tested on its own)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.figures.grid import decoded_grid_figure
from ui.figures.latent import latent_scatter
from ui.state.loaders import load_conditional_vae, load_model, load_split, load_vae
from vae_core.engine.data import measured_inputs
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.registry import ModelRef
from vae_core.lessons import conditional
from vae_core.lessons.latent_paths import gaussian_quantile_axis, grid_codes
from vae_core.serving.images import grid_png


@st.cache_data(max_entries=32, show_spinner=False)
def same_z_png(ref: ModelRef, *, n_styles: int, seed: int, cell_px: int = 48) -> bytes:
    """n_styles codes z ~ N(0, I), one per row, each decoded with every class (one per column), as one PNG."""
    model = load_conditional_vae(ref)
    images = conditional.decode_every_class(model, conditional.prior_codes(n_styles, model.config.latent_dim, seed))
    return grid_png(images.reshape(-1, 1, *images.shape[2:]), n_cols=images.shape[1], cell_px=cell_px)


@st.cache_data(max_entries=32, show_spinner=False)
def class_grids_png(ref: ModelRef, *, side: int, cell_px: int = 28) -> list[bytes]:
    """For each class, the decoder over the same side x side Gaussian-quantile grid of the 2-D latent."""
    model = load_conditional_vae(ref)
    axis = gaussian_quantile_axis(side)
    images = conditional.decode_every_class(model, grid_codes(axis, axis))  # (side², classes, H, W)
    return [grid_png(images[:, c][:, None], n_cols=side, cell_px=cell_px) for c in range(images.shape[1])]


@st.cache_data(max_entries=8, show_spinner=False)
def class_grid_figures(ref: ModelRef, *, side: int, class_names: tuple[str, ...], height_px: int) -> list[dict]:
    """The class grids of class_grids_png as figure dicts (for ui.figures.latent.trusted_figure): building ten
    figures through plotly's objects cost about 60% of every whole rerun of the page (py-spy, benchmarks/
    app_latency.py's cvae_pick_nth), and they change only with the model."""
    axis = gaussian_quantile_axis(side)
    return [
        decoded_grid_figure(png, axis, axis, None, height_px=height_px, title=f"class {name}").to_dict()
        for png, name in zip(class_grids_png(ref, side=side), class_names, strict=True)
    ]


@st.cache_data(max_entries=8, show_spinner=False)
def codes_figure(
    ref: ModelRef,
    dataset: str,
    protocol: str,
    class_names: tuple[str, ...],
    *,
    title: str,
    axis_range: tuple[tuple[float, float], tuple[float, float]],
    height: int,
) -> dict:
    """The scatter of codes(ref, dataset, protocol) by class, as a figure dict (10 000 points: built once)."""
    points, labels = codes(ref, dataset, protocol)
    return latent_scatter(
        points, labels, class_names, title=title, prior_centre=(0.0, 0.0), axis_range=axis_range, height=height
    ).to_dict()


@st.cache_data(max_entries=32, show_spinner=False)
def transfer_png(ref: ModelRef, image: np.ndarray, label: int, *, cell_px: int = 112, n_cols: int = 5) -> bytes:
    """The image encoded with its own label and decoded with every label, n_cols a row (five: each digit keeps
    its readable size in the page's column; ten in one row shrank to ~40 px)."""
    out = conditional.style_transfer(load_conditional_vae(ref), image, label)
    return grid_png(out[:, None], n_cols=n_cols, cell_px=cell_px)


@st.cache_data(max_entries=64, show_spinner=False)
def class_posterior(ref: ModelRef, image: np.ndarray) -> np.ndarray:
    """p(y | x) of one image (H, W), as measured, by the conditional VAE itself (conditional.class_posterior)."""
    return conditional.class_posterior(load_conditional_vae(ref), image)


@st.cache_data(max_entries=16, show_spinner="Encoding the test set…")
def codes(ref: ModelRef, dataset: str, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """(posterior means (N, D), labels (N,)) of the test split as the model is measured under its protocol (the
    one fixed binarisation for a binarised model, as in the KL section); a conditional model gets the labels."""
    data = load_split(dataset, "test")
    images = measured_inputs(data.images, DataProtocol(protocol))
    return conditional.posterior_means(load_model(ref), images, data.labels), data.labels.numpy()


@st.cache_data(max_entries=16, show_spinner="Measuring the KL per dimension on the test set…")
def kl_comparison(cvae: ModelRef, vae: ModelRef, dataset: str, protocol: str) -> conditional.KlComparison:
    """Test-set KL per dimension of both models, on the images as the CVAE is measured (same draws' seed)."""
    data = load_split(dataset, "test")
    images = measured_inputs(data.images, DataProtocol(protocol))
    return conditional.compare_kl(load_conditional_vae(cvae), load_vae(vae), images, data.labels)


@st.cache_data(max_entries=16, show_spinner=False)
def predictability(ref: ModelRef, dataset: str, protocol: str) -> float:
    """k-NN accuracy of the class from the test codes (conditional.label_predictability)."""
    means, labels = codes(ref, dataset, protocol)
    return conditional.label_predictability(means, labels)
