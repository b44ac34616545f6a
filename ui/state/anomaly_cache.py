"""The anomaly page's numbers, computed once per (model, settings) and cached (thin st.cache_data wrappers over
vae_core.anomaly, which holds the maths and is tested on its own).

A study scores thousands of images with K importance samples each, so it reports progress through `_progress`
(a callable; the leading underscore keeps it out of the cache key). On a cache hit it is never called.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
from ui.state.loaders import load_model
from vae_core.registry import ModelRef

from vae_core import anomaly
from vae_core.protocol import DataProtocol


@st.cache_data(max_entries=8, show_spinner=False)
def study(vae: ModelRef, ae: ModelRef | None, protocol: str, dataset: str, *, subset: int | None,
          iw_samples: int, seed: int, include_synthetic: bool = True,
          _progress: Callable[[float], None] | None = None) -> anomaly.AnomalyStudy:
    """Every set of `dataset` scored under the VAE (and the AE's reconstruction error), with AUCs."""
    return anomaly.run_study(load_model(vae), DataProtocol(protocol), dataset,
                             ae=load_model(ae) if ae is not None else None, subset=subset, iw_samples=iw_samples,
                             seed=seed, include_synthetic=include_synthetic, progress=_progress)


@st.cache_resource(show_spinner=False, max_entries=4)
def reference(dataset: str) -> anomaly.IndependentBernoulli:
    """The independent-pixel Bernoulli fitted to the data set's training split (shared, read-only)."""
    from vae_core.data import load_dataset

    return anomaly.IndependentBernoulli.fit(load_dataset(dataset, "train").images)


@st.cache_data(max_entries=32, show_spinner="Scoring your image…")
def image_scores(vae: ModelRef, ae: ModelRef | None, protocol: str, dataset: str, image: np.ndarray, *,
                 iw_samples: int, seed: int) -> anomaly.ImageScores:
    """The same scores for one image (H, W) in [0, 1], measured as the model is (binarised for binarised models)."""
    import torch

    from vae_core.protocol import measured_inputs

    model = load_model(vae)
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, *model.config.input_shape)
    x = measured_inputs(x, DataProtocol(protocol))
    return anomaly.score_images(model, x, reference(dataset), ae=load_model(ae) if ae is not None else None,
                                iw_samples=iw_samples, seed=seed)
