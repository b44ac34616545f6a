"""The replay of a training run, played in the browser: a component v2 over vae_core.serving.replay_payload.

A canvas scatter of the fixed test images' codes at one moment of training, coloured by class, on the replay's
fixed axes (with the prior's 1σ and 2σ circles for a VAE), the decoder's grid at that moment beside it, a time
slider over the frames and Play/Pause. The whole run travels once per browser session (by fingerprint, as the
decoders of ui/widgets/latent_pad.py do); moving the slider or playing sends nothing to the server.
Drawn by ui/widgets/js/training_replay.js.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

from ui.figures.latent import CLASS_COLOURS, PRIOR_COLOUR
from ui.figures.projector import PROJECTOR_FONT_PX
from ui.shell.projector import projector_on
from ui.widgets.latent_pad import _blobs_to_send, _forget_sent
from vae_core.engine.replay import PLANE_LATENT, PLANE_PCA
from vae_core.engine.vocabulary import dim_name

__all__ = ["PLAY_FPS", "replay_axis_titles", "replay_data", "training_replay"]

REPLAY_NAME = "vae_latent_explorer.training_replay"
JS_DIR = Path(__file__).with_name("js")
PLAY_FPS = 10  # frames a second while playing; 0 plays one frame per animation frame (the benchmark's rate)
PLANE_PX = 340  # the scatter, CSS pixels (its width; the height follows the extent's aspect, at most this)
GRID_PX = 220  # the decoder's grid beside it
FONT_PX = 14  # the component's text; projector mode takes PROJECTOR_FONT_PX
PROJECTOR_PLANE_PX = 400  # projector mode: larger, and still the whole component on a 1280x720 screen
PCA_AXIS_TITLES = ("PC 1", "PC 2")  # the final model's first two principal axes of the codes

HTML = """
<div class="vle-tr">
  <div class="vle-tr-body">
    <div class="vle-tr-plane">
      <canvas class="vle-tr-bg"></canvas>
      <canvas class="vle-tr-fg" aria-label="The fixed test images' codes at this moment of training"></canvas>
    </div>
    <div class="vle-tr-side">
      <canvas class="vle-tr-grid" aria-label="The decoder's grid at this moment of training"></canvas>
      <div class="vle-tr-grid-caption"></div>
    </div>
  </div>
  <div class="vle-tr-controls">
    <button type="button" class="vle-tr-play">Play</button>
    <input type="range" class="vle-tr-frame" min="0" max="0" value="0" aria-label="Frame">
    <span class="vle-tr-label"></span>
  </div>
  <div class="vle-tr-legend"></div>
  <div class="vle-tr-status"></div>
</div>
"""

CSS = """
.vle-tr { font-family: var(--st-font); color: var(--st-text-color); display: flex; flex-direction: column;
  gap: .45rem; }
.vle-tr-body { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.vle-tr-plane { position: relative; line-height: 0; }
.vle-tr-bg { background: var(--st-background-color); }  /* the paper: training_replay.js reads it */
.vle-tr-fg { position: absolute; left: 0; top: 0; }
.vle-tr-side { display: flex; flex-direction: column; gap: .3rem; }
.vle-tr-grid { image-rendering: pixelated; background: #000; border-radius: 4px; }
.vle-tr-grid-caption { opacity: .7; }
.vle-tr-controls { display: flex; align-items: center; gap: .8rem; flex-wrap: wrap; }
.vle-tr-play { font: inherit; min-width: 5.5em; padding: .3rem .8rem; border: 1px solid var(--st-border-color);
  border-radius: var(--st-button-radius); background: var(--st-secondary-background-color);
  color: var(--st-text-color); cursor: pointer; }
.vle-tr-frame { flex: 1; min-width: 10rem; max-width: 32rem; accent-color: var(--st-primary-color); }
.vle-tr-label { font-variant-numeric: tabular-nums; }
.vle-tr-legend { display: flex; flex-wrap: wrap; gap: .15rem .8rem; opacity: .85; }
.vle-tr-legend span { display: inline-flex; align-items: center; gap: .3rem; }
.vle-tr-legend i { display: inline-block; width: .7em; height: .7em; border-radius: 50%; }
.vle-tr-status { color: var(--st-primary-color); }
"""


def replay_axis_titles(plane: str) -> tuple[str, str]:
    """The scatter's axis names: the latent coordinates, or the principal axes the codes are projected on."""
    return (dim_name(0), dim_name(1)) if plane == PLANE_LATENT else PCA_AXIS_TITLES


def replay_data(
    key: str,
    payload: dict[str, Any],
    blobs: dict[str, dict[str, Any] | None],
    *,
    class_names: Sequence[str],
    live: bool = False,
    fps: float = PLAY_FPS,
    large: bool = False,
) -> dict[str, Any]:
    """What the browser component gets (blobs: {fingerprint: payload or None where the browser holds it}).

    live: the run is still training, so a replay with more frames follows its newest frame (unless the slider
    was moved back); otherwise a new replay starts at its first frame. large: projector mode's sizes.
    """
    assert payload["plane"] in (PLANE_LATENT, PLANE_PCA), payload["plane"]
    return {
        "id": key,
        "replay": payload["fingerprint"],
        "blobs": blobs,
        "live": live,
        "fps": float(fps),
        "class_names": [str(name) for name in class_names],
        "colours": {"classes": list(CLASS_COLOURS), "prior": PRIOR_COLOUR},
        "axis_titles": list(replay_axis_titles(payload["plane"])),
        "plane_px": PROJECTOR_PLANE_PX if large else PLANE_PX,
        "grid_px": GRID_PX,
        "font_px": PROJECTOR_FONT_PX if large else FONT_PX,
        "grid_caption": f"The decoder's grid over the same axes, {payload['grid_cells']}×{payload['grid_cells']}",
    }


def training_replay(
    key: str,
    payload: dict[str, Any],
    *,
    class_names: Sequence[str],
    live: bool = False,
    fps: float = PLAY_FPS,
) -> None:
    """Draw the replay of vae_core.serving.replay_payload.replay_payload(...) with its slider and Play button."""
    data = replay_data(
        key,
        payload,
        _blobs_to_send([payload]),
        class_names=class_names,
        live=live,
        fps=fps,
        large=projector_on(),
    )
    _component()(key=key, data=data, on_missing_change=_forget_sent, width="stretch")


def component_js() -> str:
    """The component's script: the shared browser helpers (mlp_decoder.js) in front of training_replay.js."""
    return (JS_DIR / "mlp_decoder.js").read_text() + "\n" + (JS_DIR / "training_replay.js").read_text()


@cache
def _component() -> Callable:
    """Register the component once per process (lazily: importing this module has no side effects)."""
    return st.components.v2.component(REPLAY_NAME, html=HTML, css=CSS, js=component_js())
