"""The training replay's sections on the Train and β pages: which replay to show, its caption, and one line where
there is none. The component itself is ui/widgets/training_replay.py."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import streamlit as st

from ui.state.loaders import load_split, registry
from ui.state.replays import carries_replay, checkpoint_replay, live_replay_payload
from ui.widgets.training_replay import PLAY_FPS, training_replay
from vae_core.engine.data import DatasetUnavailable
from vae_core.engine.literal_text import literal
from vae_core.engine.registry import ModelEntry
from vae_core.engine.replay import GRID_GREY_LEVELS, PLANE_LATENT, TrainingReplay
from vae_core.engine.vocabulary import SOURCE_SHIPPED
from vae_core.serving.replay_payload import UnsendableReplay

__all__ = ["job_replay", "model_replay", "replay_caption", "show_replay", "sweep_replay"]


def replay_caption(payload: dict[str, Any], *, live: bool) -> str:
    """What the replay shows, in words true of this payload (points, plane, circles, grid)."""
    has_prior = payload["prior_centre"] is not None
    what = "its posterior mean" if has_prior else "its code"
    if payload["plane"] == PLANE_LATENT:
        plane = "on the plane of the two latent coordinates z₁, z₂"
    else:
        axes = "its first finished epoch's (the first frame's before one has finished)" if live else "the final model's"
        plane = (
            f"projected on {axes} first two principal axes of the codes, PC 1 and PC 2 (the decoder's grid keeps the "
            "other directions at the codes' mean)"
        )
    cells = payload["grid_cells"]
    return (
        f"Each dot is one of {payload['n']:,} fixed test images: {what} at that moment of training, coloured by "
        f"class, {plane}. Every frame keeps the same axes, so what moves on screen is the codes."
        + (" Dashed circle: 1σ of the prior N(0, I); dotted: 2σ." if has_prior else "")
        + f" Beside it, the decoder's images at the {cells}×{cells} points of a grid over the same axes, stored in "
        f"{GRID_GREY_LEVELS} grey levels. Play shows the run at {PLAY_FPS:g} frames a second."
        + (" New frames join while the run trains, and the axes widen when the codes outgrow them." if live else "")
    )


def show_replay(key: str, payload: dict[str, Any], *, dataset: str, live: bool = False) -> None:
    """The replay component and its caption, coloured by dataset's classes."""
    training_replay(key, payload, class_names=_class_names(dataset, payload), live=live)
    st.caption(replay_caption(payload, live=live))


def job_replay(key: str, replay: TrainingReplay | None, *, dataset: str, live: bool) -> None:
    """A training job's replay: the frames so far while it trains, the saved model's once saved."""
    if replay is None:
        return
    try:
        payload = live_replay_payload(key, replay)
    except UnsendableReplay as err:
        st.warning(f"The run's replay cannot be shown: {literal(err)}")
        return
    st.subheader("Watch it learn")
    show_replay(key, payload, dataset=dataset, live=live)


def model_replay(key: str, entry: ModelEntry | None) -> None:
    """The picked model's own replay ("Watch <model> learn"), or one line naming the shipped models that carry one."""
    if entry is None or not carries_replay(entry):
        st.caption(no_replay_line(entry))
        return
    st.subheader(f"Watch {literal(entry.info.name)} learn")
    _checkpoint_replay(key, entry)


def sweep_replay(key: str, members: Sequence[ModelEntry]) -> None:
    """A picker over the sweep's models that carry a replay, and the picked one's replay; one line when none does."""
    carrying = {e.key: e for e in sorted(members, key=lambda e: e.beta) if carries_replay(e)}
    if not carrying:
        shipped = any(e.source == SOURCE_SHIPPED for e in members)
        st.caption(
            "None of this sweep's models carries a training replay"
            + (
                ": the shipped sweep leaves them out, to keep the shipped models within their 30 MB budget"
                if shipped
                else ""
            )
            + '. A point trained with "Train one more β point" records its replay, and it can be replayed here.'
        )
        return
    picked = st.selectbox(
        "Model",
        list(carrying),
        key=f"{key}_model",
        format_func=lambda k: (
            f"β = {carrying[k].beta:g} · {carrying[k].info.name}"
            + (" (trained here)" if carrying[k].source != SOURCE_SHIPPED else "")
        ),
    )
    _checkpoint_replay(key, carrying[picked])


def _checkpoint_replay(key: str, entry: ModelEntry) -> None:
    loaded = checkpoint_replay(entry.ref("cpu"))  # a replay is data, not a model to run: one cache entry per file
    if loaded.payload is None:
        st.warning(f"{literal(entry.info.name)}: " + literal(loaded.problem or "it carries no training replay."))
        return
    show_replay(key, loaded.payload, dataset=entry.dataset)


def no_replay_line(entry: ModelEntry | None) -> str:
    """For a model without a replay: which shipped models carry one (a training run here records one)."""
    carrying = [
        literal(name)
        for name in sorted(e.info.name for e in registry().entries if e.source == SOURCE_SHIPPED and carries_replay(e))
    ]
    subject = (
        "The picked model carries no training replay"
        if entry is None
        else f"{literal(entry.info.name)} carries no training replay"
    )
    shipped = (
        f"the shipped models that carry one: {', '.join(carrying)}" if carrying else "no shipped model carries one"
    )
    return f"{subject} ({shipped}); a model trained on this page records its own."


def _class_names(dataset: str, payload: dict[str, Any]) -> list[str]:
    """The data set's class names; the label numbers where its test split cannot be loaded."""
    try:
        return list(load_split(dataset, "test").class_names)
    except (DatasetUnavailable, ValueError):
        return [str(label) for label in range(max(base64.b64decode(payload["labels"])) + 1)]
