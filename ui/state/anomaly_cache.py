"""The anomaly page's numbers, computed once per (model, set, settings) and cached: thin st.cache_data wrappers
over vae_core.lessons.anomaly, which holds the maths and is tested on its own.

A study scores every set with K importance samples per image; each set is its own cache entry, so `study` can
move a progress bar between sets (a bar cannot be driven from inside a cached function) and a set shared by two
studies is scored once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from ui.state.loaders import load_model, load_vae
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.registry import ModelRef
from vae_core.lessons import anomaly


def reference(dataset: str) -> anomaly.IndependentBernoulli:
    """The independent-pixel Bernoulli fitted to reference_images(dataset) (shared, read-only)."""
    from vae_core.engine.data import has_split

    return _reference(dataset, has_split(dataset, "train"))


def reference_source(dataset: str) -> str:
    """The images the reference is fitted to, in words (the training split, or test images before it is fetched)."""
    return anomaly.reference_images(dataset).source


@st.cache_resource(show_spinner=False, max_entries=4)
def _reference(dataset: str, has_training_split: bool) -> anomaly.IndependentBernoulli:
    # has_training_split is part of the key only: once the training split is fetched, the reference is refitted.
    return anomaly.IndependentBernoulli.fit(anomaly.reference_images(dataset).images)


@st.cache_data(max_entries=64, show_spinner=False)
def scored_set(
    vae: ModelRef,
    ae: ModelRef | None,
    protocol: str,
    dataset: str,
    key: str,
    *,
    subset: int | None,
    iw_samples: int,
    seed: int,
) -> anomaly.ScoredSet:
    """One set of a study of `dataset` (anomaly.set_keys), scored under the VAE and the AE."""
    image_set = anomaly.build_set(dataset, key, subset=subset, seed=seed)
    return anomaly.score_set(
        load_vae(vae),
        image_set,
        DataProtocol(protocol),
        reference(dataset),
        ae=load_model(ae) if ae is not None else None,
        iw_samples=iw_samples,
        seed=seed,
    )


def study(
    vae: ModelRef,
    ae: ModelRef | None,
    protocol: str,
    dataset: str,
    *,
    subset: int | None,
    iw_samples: int,
    seed: int,
    include_synthetic: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> anomaly.AnomalyStudy:
    """Every set of the study, each from the cache or scored now; progress(fraction, set key) before each."""
    keys = anomaly.set_keys(dataset, include_synthetic=include_synthetic)
    scored = []
    for i, key in enumerate(keys):
        if progress is not None:
            progress(i / len(keys), key)
        scored.append(scored_set(vae, ae, protocol, dataset, key, subset=subset, iw_samples=iw_samples, seed=seed))
    return anomaly.AnomalyStudy(
        dataset, DataProtocol(protocol), iw_samples, subset, seed, scored, anomaly.detection_results(scored)
    )


@st.cache_data(max_entries=32, show_spinner="Scoring your image…")
def image_scores(
    vae: ModelRef, ae: ModelRef | None, protocol: str, dataset: str, image: np.ndarray, *, iw_samples: int, seed: int
) -> anomaly.ImageScores:
    """The same scores for one image (H, W) in [0, 1], measured as the model is (binarised for binarised models)."""
    import torch

    from vae_core.engine.data import measured_inputs

    model = load_vae(vae)
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, *model.config.input_shape)
    x = measured_inputs(x, DataProtocol(protocol))
    return anomaly.score_images(
        model, x, reference(dataset), ae=load_model(ae) if ae is not None else None, iw_samples=iw_samples, seed=seed
    )
