"""Cached loaders: the one place pages get data sets, the checkpoint registry and models from.

Models are cached with st.cache_resource and shared by every browser session, so they are returned in eval
mode with gradients switched off: never call .train() on them or optimise them (the Train page builds fresh
models with vae_core.engine.training.fit). Data sets are shared the same way and are read-only.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeVar

import streamlit as st

from vae_core.engine.checkpoint_info import CheckpointError
from vae_core.engine.data import DatasetUnavailable, ImageDataset, load_dataset
from vae_core.engine.registry import ModelRef, Registry, folder_signature, registry_folders, scan_registry

if TYPE_CHECKING:
    from vae_core.engine.models import VAE, ConditionalVAE, LatentModel

ModelClass = TypeVar("ModelClass", bound="LatentModel")

# torch (through vae_core.engine.checkpoints) is imported when the first model is loaded, not with this module: the
# sidebar and the home page use the registry alone and so draw before torch has loaded.


# --- data sets ----------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the data set…", max_entries=6)
def load_split(name: str, split: str = "test") -> ImageDataset:
    """A whole split in memory, shared across sessions (read-only). Raises DatasetUnavailable."""
    return load_dataset(name, split)


def dataset_or_none(name: str, split: str = "test") -> ImageDataset | None:
    """load_split, or None after showing why the data set cannot be loaded."""
    try:
        return load_split(name, split)
    except (DatasetUnavailable, ValueError) as err:
        st.error(f"Cannot load the {name} {split} split: {err}")
        return None


# --- the checkpoint registry --------------------------------------------------------------------------
def registry() -> Registry:
    """Both checkpoint folders, rescanned whenever a checkpoint file appears, changes or goes."""
    folders = registry_folders()
    return _scan(folders, folder_signature(folders))


@st.cache_resource(show_spinner=False, max_entries=4)
def _scan(folders: tuple[tuple[str, str], ...], signature: tuple) -> Registry:
    # signature is only part of the cache key: a changed folder gives a new key and so a fresh scan.
    return scan_registry(folders)


def refresh_registry() -> None:
    """Forget every scan, so the next registry() reads the folders again (after saving a model)."""
    _scan.clear()


# --- models -------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the model…", max_entries=24)
def load_model(ref: ModelRef) -> LatentModel:
    """The model ref names, in eval mode, frozen, on ref.device. Raises CheckpointError if the file cannot load.

    Keyed on the ref's values: checkpoint_id (path, mtime, size) changes when the file does; path is what is read.
    """
    from vae_core.engine.checkpoints import load_checkpoint

    model, _ = load_checkpoint(ref.path, ref.device)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)  # shared across sessions: nobody may train it in place
    return model


def load_vae(ref: ModelRef) -> VAE:
    """load_model for maths that needs a plain VAE (anomaly scores, the CVAE's comparison). Raises TypeError for
    another kind of model: the pages offer only VAEs there."""
    from vae_core.engine.models import VAE

    return _narrowed(load_model(ref), VAE, ref)


def load_conditional_vae(ref: ModelRef) -> ConditionalVAE:
    """load_model for the conditional VAE's lesson. Raises TypeError for another kind of model."""
    from vae_core.engine.models import ConditionalVAE

    return _narrowed(load_model(ref), ConditionalVAE, ref)


def _narrowed(model: LatentModel, model_class: type[ModelClass], ref: ModelRef) -> ModelClass:
    if not isinstance(model, model_class):
        raise TypeError(f"{ref.path} holds a {type(model).__name__}, not the {model_class.__name__} asked for")
    return model


@st.cache_resource(show_spinner=False)
def _failed_loads() -> tuple[dict[str, str], threading.Lock]:
    return {}, threading.Lock()


def record_failed_load(ref: ModelRef, message: str) -> None:
    """Remember that a checkpoint's weights would not load, so the picker skips it from now on."""
    failures, lock = _failed_loads()
    with lock:
        failures[ref.checkpoint_id] = message


def failed_loads() -> dict[str, str]:
    """checkpoint_id -> why its weights would not load (a copy)."""
    failures, lock = _failed_loads()
    with lock:
        return dict(failures)


def model_or_none(ref: ModelRef) -> LatentModel | None:
    """load_model, or None after showing why the checkpoint cannot be used (it is then left out of the picker)."""
    try:
        return load_model(ref)
    except CheckpointError as err:
        record_failed_load(ref, str(err))
        st.error(f"This model cannot be loaded and is skipped from now on: {err}")
        return None
