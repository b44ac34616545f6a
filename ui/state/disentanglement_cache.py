"""The disentanglement lesson's models and their cached traversals.

The metrics come from the checkpoints' metadata (the zoo measured them: vae_core.zoo.specs.lesson_metadata), so
opening the page reads JSON and decodes nothing; the traversals decode a few hundred images, cached per model
and chosen sprite.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.state import derived
from ui.state.loaders import load_model, registry
from vae_core.engine.data import INPUT_SHAPES
from vae_core.engine.protocol import protocol_of
from vae_core.engine.registry import ModelEntry, ModelRef
from vae_core.engine.vocabulary import ROLE_DISENTANGLEMENT, SOURCE_SHIPPED
from vae_core.lessons.disentanglement import LESSON_KINDS, DisentanglementReport, ModelPoint
from vae_core.lessons.sweeps import metrics_complete

METADATA_KEY = "disentanglement"  # where the zoo stores a model's DisentanglementReport
SPRITES = "sprites"


def lesson_entries() -> list[ModelEntry]:
    """The sprites models of the lesson: the zoo's and those trained on the page, by kind then β."""
    entries = [
        e
        for e in registry().entries
        if e.role == ROLE_DISENTANGLEMENT and e.input_shape == INPUT_SHAPES[SPRITES] and e.kind in LESSON_KINDS
    ]
    return sorted(entries, key=lambda e: (e.kind != "vae", e.beta, e.info.name))


@st.cache_data(max_entries=32, show_spinner="Measuring the new model's disentanglement…")
def measured_report(ref: ModelRef) -> dict:
    """A model's DisentanglementReport as a dict, measured now (about a second): for models trained on the page,
    which carry no recorded numbers; the zoo's carry theirs (never measured at page open)."""
    from vae_core.lessons.disentanglement import model_report

    return model_report(load_model(ref)).to_dict()


def model_point(entry: ModelEntry, device: str = "cpu") -> ModelPoint | None:
    """The entry's ModelPoint: recorded numbers for the zoo's models (None when missing or malformed); a model
    trained on the page is evaluated and measured once, cached."""
    metrics = entry.info.metrics
    recorded = entry.info.metadata.get(METADATA_KEY)
    if entry.source == SOURCE_SHIPPED and (recorded is None or not metrics_complete(metrics, entry.latent_dim)):
        return None
    if metrics is None or not metrics_complete(metrics, entry.latent_dim):
        protocol = protocol_of(entry.info.train_config, entry.info.model_config)
        metrics = derived.test_metrics(entry.ref(device), SPRITES, protocol=protocol)
    if recorded is None:
        recorded = measured_report(entry.ref(device))
    try:
        report = DisentanglementReport.from_dict(recorded)
    except (KeyError, TypeError, ValueError):
        return None
    return ModelPoint(
        name=entry.info.name,
        kind=entry.kind,
        beta=entry.beta,
        recon=metrics.recon,
        kl=metrics.kl,
        kl_per_dim=tuple(metrics.kl_per_dim),
        report=report,
    )


@st.cache_data(max_entries=256, show_spinner="Decoding the traversals…")
def traversals(ref: ModelRef, factor_indices: tuple[int, ...], dims: tuple[int, ...], steps: int) -> np.ndarray:
    """(len(dims), steps, H, W) decoded images: the chosen sprite's code with each dimension swept ±3σ."""
    import torch

    from vae_core.engine import sprites
    from vae_core.lessons.disentanglement import traversal_images

    image = torch.from_numpy(sprites.render(np.asarray([factor_indices]))).to(torch.float32)
    return traversal_images(load_model(ref), image, list(dims), steps)


@st.cache_data(max_entries=64, show_spinner=False)
def sprite_image(factor_indices: tuple[int, ...]) -> np.ndarray:
    """The sprite drawn from these factor indices, (H, W) in {0, 1}."""
    from vae_core.engine import sprites

    return sprites.render(np.asarray([factor_indices]))[0].astype(np.float32)
