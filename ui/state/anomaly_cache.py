"""The anomaly page's numbers, computed once per (model, set, settings) and cached: thin st.cache_data wrappers
over vae_core.lessons.anomaly, which holds the maths and is tested on its own.

A study scores every set with K importance samples per image; each set is its own entry of the on-disk cache
(vae_core.serving.disk_cache: keyed by the checkpoints' contents, shared by every server process and kept across
restarts), so `study` can move a progress bar within and between sets and a set shared by two studies is scored
once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import streamlit as st

from ui.state.loaders import load_model, load_vae
from ui.state.memo import server_memo
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.registry import ModelRef
from vae_core.lessons import anomaly
from vae_core.serving import anomaly_scores
from vae_core.serving.anomaly_scores import SCORES_CACHE_KIND
from vae_core.serving.disk_cache import cache_path, cached


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


@st.cache_resource(show_spinner=False)
def _computing() -> tuple[dict[str, threading.Lock], threading.Lock]:
    """One lock per set being scored in this server, so that identical requests share one computation."""
    return {}, threading.Lock()


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
    progress: Callable[[int, int], None] | None = None,
) -> anomaly.ScoredSet:
    """One set of a study of `dataset` (anomaly.set_keys), scored under the VAE and the AE.

    Read from the disk cache (keyed by both checkpoints' contents and every setting), else scored now, one batch
    at a time: progress(done, total) after each batch is a Streamlit call, where a newer rerun or a closed tab
    stops the work. A session asking for a set another session is scoring waits for it (progress(0, 0) while it
    waits) instead of scoring it twice.
    """
    disk_key = scores_key(
        vae, ae, protocol, dataset, key, subset=subset, iw_samples=iw_samples, seed=seed, contents=_contents(vae, ae)
    )

    def compute() -> anomaly.ScoredSet:
        image_set = anomaly.build_set(dataset, key, subset=subset, seed=seed)
        return anomaly.score_set(
            load_vae(vae),
            image_set,
            DataProtocol(protocol),
            reference(dataset),
            ae=load_model(ae) if ae is not None else None,
            iw_samples=iw_samples,
            seed=seed,
            progress=progress,
        )

    locks, guard = _computing()
    name = cache_path(SCORES_CACHE_KIND, disk_key).name
    with guard:
        lock = locks.setdefault(name, threading.Lock())
    while not lock.acquire(timeout=0.25):
        if progress is not None:
            progress(0, 0)
    try:
        return cached(SCORES_CACHE_KIND, disk_key, anomaly.ScoredSet, compute)
    finally:
        lock.release()


def _contents(vae: ModelRef, ae: ModelRef | None) -> tuple[str, str | None]:
    """The SHA-256 of both checkpoints' contents, as their headers record them."""
    return anomaly_scores.checkpoint_contents(vae.path, ae.path if ae is not None else None)


def scores_key(
    vae: ModelRef,
    ae: ModelRef | None,
    protocol: str,
    dataset: str,
    key: str,
    *,
    subset: int | None,
    iw_samples: int,
    seed: int,
    contents: tuple[str, str | None] | None = None,
) -> dict[str, object]:
    """anomaly_scores.scores_key for these models: the one key the page and the cache's warm-up share."""
    return anomaly_scores.scores_key(
        vae.path,
        ae.path if ae is not None else None,
        protocol,
        dataset,
        key,
        subset=subset,
        iw_samples=iw_samples,
        seed=seed,
        contents=contents,
    )


# Studies assembled in this server, by their sets' disk keys: a rerun (a new threshold, K back to a value seen
# before, another test image) gets the same object back, without reading the sets again or recomputing the AUCs.
STUDIES_MEMO = "anomaly-studies"
MAX_STUDIES_KEPT = 12  # each is a few MB at most (8 sets x 2000 images)


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
    """Every set of the study, each from the cache or scored now; progress(fraction, set key) after each batch."""
    keys = anomaly.set_keys(dataset, include_synthetic=include_synthetic)
    contents = _contents(vae, ae)
    memo_key = tuple(
        cache_path(
            SCORES_CACHE_KIND,
            scores_key(
                vae, ae, protocol, dataset, key, subset=subset, iw_samples=iw_samples, seed=seed, contents=contents
            ),
        ).name
        for key in keys
    )
    memo = server_memo(STUDIES_MEMO, MAX_STUDIES_KEPT)
    if (kept := memo.get(memo_key)) is not None:
        return kept
    scored = []
    for i, key in enumerate(keys):

        def report(done: int, total: int, i: int = i, key: str = key) -> None:
            if progress is not None:
                progress((i + (done / total if total else 0.0)) / len(keys), key)

        scored.append(
            scored_set(
                vae, ae, protocol, dataset, key, subset=subset, iw_samples=iw_samples, seed=seed, progress=report
            )
        )
    return memo.put(
        memo_key,
        anomaly.AnomalyStudy(
            dataset, DataProtocol(protocol), iw_samples, subset, seed, scored, anomaly.detection_results(scored)
        ),
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
