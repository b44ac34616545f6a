"""The inference page's numbers, cached: per (model, image) for the posterior, per slider values for the toys.

Thin st.cache_data wrappers over vae_core.lessons.posterior and vae_core.lessons.divergences. Every function takes a
vae_core.engine.registry.ModelRef (the cache keys on its values) and images as NumPy arrays, which st.cache_data
hashes by content. The grids are small, so the models run on the CPU whatever the sidebar says.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st
import torch

from ui.state.loaders import load_model, load_split
from ui.state.memo import server_memo
from vae_core.engine.data import ImageDataset, measured_inputs
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, DataProtocol
from vae_core.engine.registry import ModelRef
from vae_core.lessons import divergences, posterior
from vae_core.serving.disk_cache import cache_path, cached, checkpoint_content, content_digest
from vae_core.serving.disk_cache import read as disk_read

IW_K = 5000  # importance samples for the IW estimate shown beside log p(x)
IW_SEEDS = (0, 1, 2, 3)  # the shown estimate is the first seed's; the others measure its spread
INFERENCE_CACHE_KIND = "image-inference/1"  # bump when infer_image changes what it returns
RANKED_IMAGES = 200  # test images ranked for the "largest gap" picker (all of them when fewer)
# the quick ranking's leading images then measured exactly (about 0.3 s each on one core): the list shows the
# largest exact gaps among them, as the quick estimate can miss posterior mass far from q
EXACT_CANDIDATES = 15


def on_cpu(ref: ModelRef) -> ModelRef:
    return dataclasses.replace(ref, device="cpu")


@st.cache_resource(show_spinner="Binarising the test set…", max_entries=4)
def measured_test_images(dataset: str, protocol: DataProtocol) -> torch.Tensor:
    """The test split as the model is measured on it: binarised once with seed EVAL_BINARIZATION_SEED for a
    binarised model (the model card's protocol), the grey levels otherwise. Shared and read-only."""
    return measured_inputs(load_split(dataset, "test").images, protocol)


def measured_test_image(test: ImageDataset, protocol: DataProtocol, index: int) -> np.ndarray:
    """One test image (H, W) as the model is measured on it."""
    images = measured_test_images(test.name, protocol) if protocol.binarizes_inputs else test.images
    return np.ascontiguousarray(images[index, 0].numpy(), dtype=np.float32)


INFERENCES_MEMO = "image-inference"  # image_inference's results in memory, by their disk cache file's name
MAX_INFERENCES_KEPT = 32  # each a grid of a few hundred kB
RANKINGS_MEMO = "exact-gap-ranking"
MAX_RANKINGS_KEPT = 8


def image_inference(
    ref: ModelRef, image: np.ndarray, *, fit_q_star: bool, progress: posterior.Progress | None = None
) -> posterior.ImageInference:
    """Grid posterior, ELBO, both gaps, IW_K and q* for one image (H, W), already in the model's input format.

    Kept in memory and on disk (vae_core.serving.disk_cache), keyed by the checkpoint's content and the image's
    bytes, so a lecture's images are computed once per data directory, whichever server process asks. Switching q*
    off or on reuses the other result: without q* it is the same numbers less q*; with q*, only q* is fitted.
    Computed now otherwise, progress(fraction, what) before each step (a Streamlit call: a newer rerun stops the
    work there). Not an st.cache_data: a cached function may not draw into the page's progress bar.
    """
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).unsqueeze(0)  # (1, H, W): one channel
    if (known := _stored(ref, x, fit_q_star)) is not None:
        return known
    other = _stored(ref, x, not fit_q_star)
    if other is not None and not fit_q_star:
        result = dataclasses.replace(other, amortisation=None)
    elif other is not None:
        if progress is not None:
            progress(0.0, "fitting q*")
        result = posterior.with_q_star(load_model(on_cpu(ref)), other)
    else:
        result = posterior.infer_image(
            load_model(on_cpu(ref)), x, k=IW_K, iw_seeds=IW_SEEDS, fit_q_star=fit_q_star, progress=progress
        )
    key = inference_key(ref, x, fit_q_star=fit_q_star)
    stored = cached(INFERENCE_CACHE_KIND, key, posterior.ImageInference, lambda: result)
    return server_memo(INFERENCES_MEMO, MAX_INFERENCES_KEPT).put(cache_path(INFERENCE_CACHE_KIND, key).name, stored)


def _stored(ref: ModelRef, x: torch.Tensor, fit_q_star: bool) -> posterior.ImageInference | None:
    """image_inference's result from memory or disk, never computed; None when neither holds it."""
    key = inference_key(ref, x, fit_q_star=fit_q_star)
    name = cache_path(INFERENCE_CACHE_KIND, key).name
    memo = server_memo(INFERENCES_MEMO, MAX_INFERENCES_KEPT)
    if (kept := memo.get(name)) is not None:
        return kept
    on_disk = disk_read(INFERENCE_CACHE_KIND, key, posterior.ImageInference)
    return memo.put(name, on_disk) if on_disk is not None else None


def inference_key(ref: ModelRef, x: torch.Tensor, *, fit_q_star: bool) -> dict[str, object]:
    """The disk cache's key of one image's inference: the checkpoint's content (never its name or time), the
    image's bytes and the settings."""
    return {
        "model": checkpoint_content(ref.path),
        "image": content_digest(x),
        "fit_q_star": fit_q_star,
        "iw_k": IW_K,
        "iw_seeds": IW_SEEDS,
    }


def _ranked_inputs(ref: ModelRef, dataset: str, protocol: DataProtocol):
    """(model, the first RANKED_IMAGES test images as measured, their q(z|x) means and log-variances)."""
    model = load_model(on_cpu(ref))
    images = (
        measured_test_images(dataset, protocol) if protocol.binarizes_inputs else load_split(dataset, "test").images
    )[:RANKED_IMAGES]
    with torch.no_grad():
        means, logvars = model.encode(images)
    assert logvars is not None, "only VAEs have a q(z|x) to rank"
    return model, images, means, logvars


@st.cache_data(max_entries=8, show_spinner=False)
def gap_ranking(ref: ModelRef, dataset: str, protocol: DataProtocol) -> posterior.GapRanking:
    """The first RANKED_IMAGES test images, as measured, ranked by a quick estimate of KL(q ‖ p(z|x))."""
    model, images, means, logvars = _ranked_inputs(ref, dataset, protocol)
    return posterior.rank_by_gap(posterior.Decoder.from_model(model), images, means, logvars)


def exact_gap_ranking(
    ref: ModelRef, dataset: str, protocol: DataProtocol, progress: posterior.Progress | None = None
) -> posterior.ExactRanking:
    """gap_ranking's first EXACT_CANDIDATES images measured exactly and ordered by their exact gap, kept in
    memory; progress(fraction, what) before each image while it is computed."""
    memo = server_memo(RANKINGS_MEMO, MAX_RANKINGS_KEPT)
    if (kept := memo.get((ref, dataset, protocol))) is not None:
        return kept
    if progress is not None:
        progress(
            0.0, f"screening {min(RANKED_IMAGES, len(load_split(dataset, 'test')))} test images by a quick estimate"
        )
    model, images, means, logvars = _ranked_inputs(ref, dataset, protocol)
    quick = gap_ranking(ref, dataset, protocol)
    return memo.put(
        (ref, dataset, protocol),
        posterior.rerank_exactly(
            posterior.Decoder.from_model(model), images, means, logvars, quick, EXACT_CANDIDATES, progress
        ),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def mean_field(rho: float) -> divergences.MeanFieldComparison:
    return divergences.mean_field_fits(rho)


@st.cache_data(max_entries=4, show_spinner=False)
def variance_curve(n: int = 199) -> tuple[np.ndarray, np.ndarray]:
    """(ρ, Var_q / Var_p of the reverse-KL mean-field fit) over ρ in [−0.99, 0.99]."""
    rhos = np.linspace(-0.99, 0.99, n)
    return rhos, divergences.variance_underestimate(rhos)


@st.cache_data(max_entries=64, show_spinner=False)
def mixture_fits(
    separation: float, weight_a: float, dim: int
) -> tuple[divergences.GaussianFit, divergences.GaussianFit, divergences.GaussianFit]:
    """(reverse fit from mode A, reverse fit from mode B, forward fit) for one mixture."""
    target = divergences.TwoGaussianMixture(separation, weight_a, dim=dim)
    grid = divergences.quadrature_grid(target)
    return (
        divergences.fit_reverse(target, "A", grid),
        divergences.fit_reverse(target, "B", grid),
        divergences.fit_forward(target, grid),
    )


__all__ = [
    "EVAL_BINARIZATION_SEED",
    "EXACT_CANDIDATES",
    "IW_K",
    "IW_SEEDS",
    "RANKED_IMAGES",
    "exact_gap_ranking",
    "gap_ranking",
    "image_inference",
    "mean_field",
    "measured_test_image",
    "mixture_fits",
    "variance_curve",
]
