"""The disentanglement lesson's models and their cached traversals.

The metrics come from the checkpoints' metadata (the zoo measured them: vae_core.zoo.specs.lesson_metadata), so
opening the page reads JSON and decodes nothing; the traversals decode a few hundred images, cached per model
and chosen sprite.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.state.loaders import load_model, registry
from vae_core.engine.registry import ModelEntry, ModelRef
from vae_core.engine.vocabulary import ROLE_DISENTANGLEMENT
from vae_core.lessons.disentanglement import DisentanglementReport, ModelPoint

METADATA_KEY = "disentanglement"  # where the zoo stores a model's DisentanglementReport


def lesson_entries() -> list[ModelEntry]:
    """The sprites models that carry their disentanglement numbers, by kind then β."""
    entries = [e for e in registry().entries if e.role == ROLE_DISENTANGLEMENT and METADATA_KEY in e.info.metadata]
    return sorted(entries, key=lambda e: (e.kind != "vae", e.beta, e.info.name))


def model_point(entry: ModelEntry) -> ModelPoint | None:
    """The entry's ModelPoint from its recorded metrics, or None when they are missing or malformed."""
    metrics = entry.info.metrics
    try:
        report = DisentanglementReport.from_dict(entry.info.metadata[METADATA_KEY])
    except (KeyError, TypeError, ValueError):
        return None
    if metrics is None or len(metrics.kl_per_dim) != entry.latent_dim:
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
