"""Training replays as browser payloads (vae_core.serving.replay_payload): a checkpoint's, cached per file, and a
training job's live one, made once per new snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from vae_core.engine.checkpoint_info import CheckpointError
from vae_core.engine.checkpoints import load_replay
from vae_core.engine.registry import ModelEntry, ModelRef
from vae_core.engine.replay import TrainingReplay
from vae_core.serving.replay_payload import UnsendableReplay, replay_payload

__all__ = ["ReplayLoad", "carries_replay", "checkpoint_replay", "live_replay_payload"]


@dataclass(frozen=True)
class ReplayLoad:
    """A checkpoint's replay as the browser gets it, or why it cannot be shown."""

    payload: dict[str, Any] | None  # None: the file carries no replay, or one that cannot be shown
    problem: str | None = None  # why the replay the file carries cannot be shown


def carries_replay(entry: ModelEntry) -> bool:
    """Whether the checkpoint says it carries a training replay (read from its header: no frame is loaded)."""
    return entry.info.replay_frames > 0


@st.cache_resource(max_entries=16, show_spinner="Loading the training replay…")
def checkpoint_replay(ref: ModelRef) -> ReplayLoad:
    """The replay a checkpoint carries, checked and packed for the browser (shared, read-only)."""
    try:
        replay = load_replay(ref.path)
        return ReplayLoad(None if replay is None else replay_payload(replay))
    except (CheckpointError, UnsendableReplay) as err:
        return ReplayLoad(None, f"Its training replay cannot be shown: {err}")


def live_replay_payload(key: str, replay: TrainingReplay) -> dict[str, Any]:
    """A running job's replay as a payload; packed again only when the job's snapshot is a new one (each poll
    of an unchanged job gets the same object)."""
    memo_key = f"{key}_payload"
    memo = st.session_state.get(memo_key)
    if memo is None or memo[0] is not replay:
        memo = st.session_state[memo_key] = (replay, replay_payload(replay))
    return memo[1]
