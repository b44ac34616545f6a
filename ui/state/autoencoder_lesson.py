"""Cached models and numbers of the autoencoder lesson: each loaded once per parameter set, never trained.

Toy models come from the shipped toy bundle (toy_zoo.py), image models from the zoo; every later run, in any
session, gets the same object back. The numbers over the test set are st.cache_data'd by their parameters,
after the models they need are in the store.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from vae_core.engine import limits
from vae_core.engine.checkpoint_info import SUFFIX
from vae_core.engine.data import FitImages, fitting_images, has_split, load_dataset
from vae_core.engine.registry import DEFAULT_CHECKPOINT_DIR, shipped_folder
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders import parts, toy_zoo
from vae_core.lessons.autoencoders.lesson_models import (
    GAUSSIAN_LEVELS,
    MASK_LEVELS,
    PCA_TRAIN_IMAGES,
    TEST_IMAGES,
    ZOO_MODELS,
    ToySettings,
    image_model,
)
from vae_core.lessons.autoencoders.toy_data import ToyManifold, make_toy_manifold
from vae_core.lessons.autoencoders.toy_models import ToyFit, ToyTrainSpec
from vae_core.serving.disk_cache import cached, checkpoint_content, content_digest

PCA_CACHE_KIND = "pca-basis/1"  # bump when fit_principal_basis changes what it returns
REPOSITORY_CHECKPOINTS = Path(__file__).resolve().parents[2] / DEFAULT_CHECKPOINT_DIR
MAX_STORED = 48  # image models, data and PCA fits kept (the toy bundle is one entry of about 1 MB)


@st.cache_resource(show_spinner=False)
def _store() -> tuple[OrderedDict, threading.RLock]:
    return OrderedDict(), threading.RLock()  # re-entrant: a model being made may ask for its data


def _remember(key, make):
    """store[key], made by make() the first time (under the lock); least recently used entries leave first."""
    store, lock = _store()
    if key in store:
        store.move_to_end(key)
        return store[key]
    with lock:
        if key not in store:
            store[key] = make()
            while len(store) > MAX_STORED:
                store.popitem(last=False)
    return store[key]


def toy_manifold(settings: ToySettings) -> ToyManifold:
    return _remember(
        ("manifold", astuple(settings)),
        lambda: make_toy_manifold(settings.manifold, settings.n_points, settings.noise, settings.seed),
    )


def lesson_file(relative: str | Path) -> Path:
    """A shipped file of the lesson: in the shipped folder ($VAE_CHECKPOINT_DIR), else in the repository's own
    checkpoints/ (a deployment's own model folder need not carry the lesson's exhibits)."""
    shipped = shipped_folder() / relative
    return shipped if shipped.exists() else REPOSITORY_CHECKPOINTS / relative


def toy_bundle() -> toy_zoo.ToyBundle:
    """Every shipped toy model, read once per server."""
    path = lesson_file(toy_zoo.TOY_BUNDLE_FILE)
    return _remember(("toys", str(path)), lambda: toy_zoo.load_toy_bundle(path))


def toy_fit(settings: ToySettings, spec: ToyTrainSpec) -> ToyFit:
    """The shipped toy model `spec` trained on the toy data `settings`; ToyBundleError if none ships."""
    return toy_bundle().fit(settings, spec)


def lesson_model(dataset: str, exhibit: str):
    """The lesson's image model for an exhibit, loaded from the zoo."""
    name = ZOO_MODELS.get(dataset, {}).get(exhibit)  # image_model refuses a data set or exhibit it has not
    folder = str(lesson_file(f"{name}{SUFFIX}").parent if name else shipped_folder())
    return _remember(("image", dataset, exhibit, folder), lambda: image_model(dataset, exhibit, folder))


def test_images(dataset: str) -> torch.Tensor:
    """The first TEST_IMAGES test images, the ones every curve and histogram of the lesson uses."""
    return _remember(("test", dataset), lambda: load_dataset(dataset, "test").images[:TEST_IMAGES])


def pca_model(dataset: str, k: int) -> L.PrincipalBasis:
    """PCA with k components of pca_images(dataset): the first k of one fitted basis."""
    return principal_basis(dataset).first(k)


def pca_images(dataset: str) -> FitImages:
    """The first PCA_TRAIN_IMAGES training images, or, before MNIST's training split is fetched, test images that
    are not among the TEST_IMAGES the lesson measures."""
    # Keyed on whether the training split is here, so a fetch (a button) refits on it rather than mixing the two.
    return _remember(
        ("pca-images", dataset, has_split(dataset, "train")),
        lambda: fitting_images(dataset, PCA_TRAIN_IMAGES, held_out=TEST_IMAGES),
    )


def principal_basis(dataset: str) -> L.PrincipalBasis:
    """The top MAX_PCA_COMPONENTS directions of pca_images(dataset), fitted once and kept on disk (keyed by the
    images' content, so a fetched training split makes a new basis)."""

    def fit() -> L.PrincipalBasis:
        images = pca_images(dataset).images
        key = {"dataset": dataset, "images": content_digest(images), "components": limits.MAX_PCA_COMPONENTS}

        def compute() -> L.PrincipalBasis:
            # benchmarks/worst_case.py (pca-basis): 1.6 s for MNIST at load 17, once per data directory
            with st.spinner(f"Fitting PCA to {len(images)} images, once (about a second; kept on disk)…"):
                return L.fit_principal_basis(images, limits.MAX_PCA_COMPONENTS)

        return cached(PCA_CACHE_KIND, key, L.PrincipalBasis, compute)

    return _remember(("pca", dataset, has_split(dataset, "train")), fit)


# --- numbers over the test images (the models must already be in the store) -------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def denoising_curve(dataset: str, kind: str) -> L.DenoisingCurve:
    levels = GAUSSIAN_LEVELS if kind == "gaussian" else MASK_LEVELS
    models = {"plain AE": lesson_model(dataset, "ae"), "DAE": lesson_model(dataset, "dae")}
    return L.denoising_curve(models, test_images(dataset), kind, levels)


# The contractive part's numbers over the test images cost about a second per model on a 2-core machine (one backward
# pass per code dimension, eight perturbed encodings): kept on disk, keyed by the checkpoint's and the images' contents.
JACOBIAN_CACHE_KIND = "ae-jacobian-norms/1"  # bump when L.jacobian_norms_sq changes what it returns
CONTRACTION_CACHE_KIND = "ae-contraction/1"  # bump when L.contraction_summary changes what it returns


@dataclass(frozen=True)
class JacobianNorms:
    """||J_f(x)||_F^2 per test image, as the disk cache stores it."""

    values: np.ndarray


def _numbers_key(dataset: str, exhibit: str) -> dict[str, object]:
    """What an image model's numbers over test_images(dataset) depend on: the checkpoint's and the images' contents."""
    name = ZOO_MODELS.get(dataset, {}).get(exhibit)
    return {
        "model": checkpoint_content(lesson_file(f"{name}{SUFFIX}")),
        "images": _remember(("test-digest", dataset), lambda: content_digest(test_images(dataset))),
    }


@st.cache_data(show_spinner=False, max_entries=16)
def jacobian_norms(dataset: str, exhibit: str) -> np.ndarray:
    model = lesson_model(dataset, exhibit)

    def compute() -> JacobianNorms:
        return JacobianNorms(L.jacobian_norms_sq(model.embed, test_images(dataset)).numpy())

    return cached(JACOBIAN_CACHE_KIND, _numbers_key(dataset, exhibit), JacobianNorms, compute).values


@st.cache_data(show_spinner=False, max_entries=64)
def contraction(dataset: str, exhibit: str, epsilon: float) -> L.ContractionSummary:
    model = lesson_model(dataset, exhibit)
    key = {**_numbers_key(dataset, exhibit), "epsilon": float(epsilon)}
    return cached(
        CONTRACTION_CACHE_KIND,
        key,
        L.ContractionSummary,
        lambda: L.contraction_summary(model.embed, test_images(dataset), epsilon),
    )


CURVE_SLOPES_CACHE_KIND = "ae-curve-slopes/1"  # bump when parts.curve_slopes changes what it returns


@dataclass(frozen=True)
class CurveSlopes:
    """parts.curve_slopes of toy models by their labels, as the disk cache stores them."""

    slopes: dict[str, L.AlongAcross]


def curve_slopes(settings: ToySettings, specs: dict[str, ToyTrainSpec]) -> dict[str, L.AlongAcross]:
    """parts.curve_slopes of the shipped toy models `specs` (label -> spec) on the toy data `settings`: a
    forward-mode Jacobian over every point of the curve, per model (about a second on a 2-core machine at load 6, on
    first open), kept on disk keyed by the toy bundle's checksum and kept in memory."""
    key = {
        "toys": toy_bundle().checksum,
        "settings": astuple(settings),
        "specs": {label: astuple(spec) for label, spec in specs.items()},
    }

    def compute() -> CurveSlopes:
        models = {label: toy_fit(settings, spec).model for label, spec in specs.items()}
        return CurveSlopes(parts.curve_slopes(models, toy_manifold(settings)))

    memo_key = ("curve-slopes", json.dumps(key, sort_keys=True))
    return _remember(memo_key, lambda: cached(CURVE_SLOPES_CACHE_KIND, key, CurveSlopes, compute)).slopes


@st.cache_data(show_spinner=False, max_entries=16)
def rho_hat(dataset: str, exhibit: str) -> np.ndarray:
    return L.mean_activations(lesson_model(dataset, exhibit), test_images(dataset)).numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def mean_fraction_on(dataset: str, exhibit: str, threshold: float) -> float:
    model = lesson_model(dataset, exhibit)
    return L.fraction_on(L.hidden_activations(model, test_images(dataset)), threshold).mean().item()
