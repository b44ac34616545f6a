"""Cached models and numbers of the autoencoder lesson: each trained or loaded once per parameter set.

Toy models (seconds each) and, offline, the digits models are trained the first time a page run asks for
them, with a progress bar; every later run, in any session, gets the same object back. A lock keeps two
sessions from training at once on the shared cores. The numbers over the test set are st.cache_data'd by
their parameters, after the models they need are in the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import astuple

import numpy as np
import streamlit as st
import torch

from vae_core.engine.data import FitImages, fitting_images, has_split, load_dataset
from vae_core.engine.registry import shipped_folder
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.lesson_models import (
    GAUSSIAN_LEVELS,
    MASK_LEVELS,
    PCA_TRAIN_IMAGES,
    TEST_IMAGES,
    ToySettings,
    image_model,
)
from vae_core.lessons.autoencoders.toy_data import ToyManifold, make_toy_manifold
from vae_core.lessons.autoencoders.toy_models import ToyFit, ToyTrainSpec, train_toy_autoencoder

MAX_STORED = 48  # models kept (toy models are ~20 kB each; sliders over noise and size make new ones)


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


def toy_fit(settings: ToySettings, spec: ToyTrainSpec, label: str) -> ToyFit:
    """The toy model `spec` trained on the toy data `settings` (a progress bar while it trains)."""

    def train() -> ToyFit:
        bar = st.progress(0.0, text=f"Training the {label} ({spec.steps} steps)…")

        def report(step: int, total: int, loss: float) -> None:
            bar.progress(step / total, text=f"Training the {label}: step {step}/{total}, loss {loss:.4f}")

        fit = train_toy_autoencoder(toy_manifold(settings).points, spec, progress=report)
        bar.empty()
        return fit

    return _remember(("toy", astuple(settings), astuple(spec)), train)


def lesson_model(dataset: str, exhibit: str, label: str):
    """The lesson's image model for an exhibit: loaded from the zoo (MNIST) or trained now (digits)."""
    folder = str(shipped_folder())

    def make():
        if dataset != "digits":
            return image_model(dataset, exhibit, folder)
        bar = st.progress(0.0, text=f"Training the {label} on digits…")

        def report(done: float) -> None:
            bar.progress(min(done, 1.0), text=f"Training the {label} on digits: {done:.0%}")

        model = image_model(dataset, exhibit, folder, progress=report)
        bar.empty()
        return model

    return _remember(("image", dataset, exhibit, folder), make)


def test_images(dataset: str) -> torch.Tensor:
    """The first TEST_IMAGES test images, the ones every curve and histogram of the lesson uses."""
    return _remember(("test", dataset), lambda: load_dataset(dataset, "test").images[:TEST_IMAGES])


def pca_model(dataset: str, k: int):
    """scikit-learn's PCA with k components, fitted on pca_images(dataset)."""
    # Keyed on whether the training split is here, so a fetch (a button) refits on it rather than mixing the two.
    return _remember(("pca", dataset, k, has_split(dataset, "train")), lambda: L.fit_pca(pca_images(dataset).images, k))


def pca_images(dataset: str) -> FitImages:
    """The first PCA_TRAIN_IMAGES training images, or, before MNIST's training split is fetched, test images that
    are not among the TEST_IMAGES the lesson measures."""
    return _remember(
        ("pca-images", dataset, has_split(dataset, "train")),
        lambda: fitting_images(dataset, PCA_TRAIN_IMAGES, held_out=TEST_IMAGES),
    )


# --- numbers over the test images (the models must already be in the store) -------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def denoising_curve(dataset: str, kind: str) -> L.DenoisingCurve:
    levels = GAUSSIAN_LEVELS if kind == "gaussian" else MASK_LEVELS
    models = {"plain AE": lesson_model(dataset, "ae", "plain AE"), "DAE": lesson_model(dataset, "dae", "DAE")}
    return L.denoising_curve(models, test_images(dataset), kind, levels)


@st.cache_data(show_spinner=False, max_entries=16)
def jacobian_norms(dataset: str, exhibit: str) -> np.ndarray:
    model = lesson_model(dataset, exhibit, exhibit)
    return L.jacobian_norms_sq(model.embed, test_images(dataset)).numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def contraction(dataset: str, exhibit: str, epsilon: float) -> L.ContractionSummary:
    model = lesson_model(dataset, exhibit, exhibit)
    return L.contraction_summary(model.embed, test_images(dataset), epsilon)


@st.cache_data(show_spinner=False, max_entries=16)
def rho_hat(dataset: str, exhibit: str) -> np.ndarray:
    return L.mean_activations(lesson_model(dataset, exhibit, exhibit), test_images(dataset)).numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def mean_fraction_on(dataset: str, exhibit: str, threshold: float) -> float:
    model = lesson_model(dataset, exhibit, exhibit)
    return L.fraction_on(L.hidden_activations(model, test_images(dataset)), threshold).mean().item()
