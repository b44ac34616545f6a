"""A drawing canvas built with Streamlit's custom components v2 (inline HTML/CSS/JS, no extra package).

The theme's ink on the theme's paper: dark on white in the light theme (the preprocessing then shows the inversion
to MNIST's light ink on black), light on dark in the dark theme (nothing to invert). When a stroke ends, the
canvas sends its pixels to Python as a PNG data URL (a state value, so it survives reruns); "Clear" wipes it and
sends a one-off `cleared` trigger. The JS runs again on every rerun that changes `data`, but the DOM stays, so it
wires the canvas once and keeps the strokes. On a fresh mount (after a page switch) it repaints `initial`, the
last drawing the page kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import streamlit as st

COMPONENT_NAME = "vae_latent_explorer.drawing_canvas"
CANVAS_PX = 280  # 10x MNIST's 28 pixels
STROKE_PX = 22  # about MNIST's stroke width relative to a digit that fills most of the canvas

_HTML = """
<div class="vle-pad">
  <canvas class="vle-canvas" width="280" height="280" aria-label="Drawing canvas: draw a digit here"></canvas>
  <div class="vle-bar">
    <button type="button" class="vle-clear">Clear</button>
    <span class="vle-hint">Draw one digit, large, in the middle.</span>
  </div>
</div>
"""

_CSS = """
.vle-pad { display: inline-flex; flex-direction: column; gap: .4rem; font-family: var(--st-font); }
/* paper and ink follow the theme: the JS paints with this background and colour */
.vle-canvas { width: 280px; height: 280px; background: var(--st-background-color); color: var(--st-text-color);
  border: 1px solid var(--st-border-color); border-radius: var(--st-base-radius); cursor: crosshair;
  touch-action: none; }
.vle-bar { display: flex; align-items: center; gap: .75rem; }
.vle-clear { padding: .3rem .9rem; border: 1px solid var(--st-border-color); border-radius: var(--st-button-radius);
  background: var(--st-secondary-background-color); color: var(--st-text-color); cursor: pointer; }
.vle-hint { color: var(--st-text-color); opacity: .7; font-size: .85rem; }
"""

_JS = """
export default function (component) {
  const { parentElement, setStateValue, setTriggerValue, data } = component;
  const canvas = parentElement.querySelector("canvas.vle-canvas");
  if (!canvas || canvas.dataset.wired === "1") return;  // a rerun: the strokes are still on the canvas
  canvas.dataset.wired = "1";
  const ctx = canvas.getContext("2d");
  const size = canvas.width;
  const stroke = (data && data.stroke) || 22;

  const look = getComputedStyle(canvas);  // the theme's paper and ink (CSS above); white and black if missing
  const missing = (c) => !c || c === "transparent" || c.replace(/\\s/g, "") === "rgba(0,0,0,0)";
  const paperColour = missing(look.backgroundColor) ? "#fff" : look.backgroundColor;
  const inkColour = missing(look.color) ? "#000" : look.color;
  const paper = () => { ctx.fillStyle = paperColour; ctx.fillRect(0, 0, size, size); };
  paper();
  if (data && data.initial) {  // a fresh mount: repaint the drawing the page kept
    const img = new Image();
    img.onload = () => ctx.drawImage(img, 0, 0, size, size);
    img.src = data.initial;
  }
  ctx.lineCap = "round";
  ctx.lineJoin = "round";

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  };
  let last = null;
  const segment = (a, b) => {
    ctx.strokeStyle = inkColour;
    ctx.lineWidth = stroke;
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    segment(last, [last[0] + 0.01, last[1]]);  // a click leaves a dot
  });
  canvas.addEventListener("pointermove", (e) => {
    if (last === null) return;
    const p = at(e);
    segment(last, p);
    last = p;
  });
  const finish = () => {
    if (last === null) return;
    last = null;
    setStateValue("image", canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  parentElement.querySelector("button.vle-clear").addEventListener("click", () => {
    paper();
    setStateValue("image", null);
    setTriggerValue("cleared", true);
  });
}
"""


@dataclass(frozen=True)
class CanvasResult:
    image: str | None  # PNG data URL of the whole canvas, or None before the first stroke / after Clear
    cleared: bool  # Clear was pressed in the interaction that caused this run


@cache
def _mount() -> Callable:
    """Register the component once per process (lazily, so importing this module has no side effects)."""
    return st.components.v2.component(COMPONENT_NAME, html=_HTML, css=_CSS, js=_JS)


def drawing_canvas(key: str, *, initial: str | None = None) -> CanvasResult:
    """Draw the canvas; returns what is drawn. initial: a data URL to repaint when the canvas mounts afresh."""
    result = _mount()(
        key=key,
        data={"stroke": STROKE_PX, "initial": initial},
        on_image_change=_ignore,
        on_cleared_change=_ignore,
        width="content",
    )
    image = result.get("image")
    return CanvasResult(image if isinstance(image, str) else None, bool(result.get("cleared")))


def _ignore() -> None:
    """Callbacks only declare the state and trigger names; the page reads the values from the result."""
