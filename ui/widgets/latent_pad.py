"""The live latent pad, client-side latent sliders, sample grid, interpolation walk and rows of decoded images:
components v2 that run the decoder in the browser.

Both receive an MLP decoder as a payload from vae_core.serving.decoder_export (float16 weights in base64 when exact;
ui/state/browser_decoders.py caches them per checkpoint) and decode in plain JS over typed arrays
(ui/widgets/js/mlp_decoder.js), once per animation frame while the pointer or a slider moves: no Python rerun,
no message to the server. Payloads travel once per browser session: the page remembers (in session state) which
fingerprints it has sent, later runs send only the fingerprint, and the browser keeps the payloads on
globalThis. A browser that lacks one after all (a reloaded tab keeps no state, so this is rare) says so with the
`missing` trigger, and the next run sends everything again. Two components that lack the same payload (the
Interpolation page's walk and knobs) both ask; Streamlit may merge their reruns into one fragment's, so a component
also resumes when its payload arrives in another's data (vleRemember in mlp_decoder.js).

A click on the pad (not the end of a drag) is one thing that reaches Python (`PadClick`); the other is where the
slider of `decoded_rows` is let go, which Python keeps in the address (ui.widgets.bound.browser_slider_value).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from ui.widgets.bound import set_browser_slider
from vae_core.serving.decoder_export import codes_payload
from vae_core.serving.images import grid_scale

if TYPE_CHECKING:
    from vae_core.lessons.walk import Walk

__all__ = [
    "DecodedRow",
    "PadClick",
    "RowsSlider",
    "WalkColours",
    "decoded_rows",
    "latent_pad",
    "latent_samples",
    "latent_sliders",
    "latent_walk",
]

PAD_NAME = "vae_latent_explorer.latent_pad"
SLIDERS_NAME = "vae_latent_explorer.latent_sliders"
SAMPLES_NAME = "vae_latent_explorer.latent_samples"
WALK_NAME = "vae_latent_explorer.latent_walk"
ROWS_NAME = "vae_latent_explorer.decoded_rows"
JS_DIR = Path(__file__).with_name("js")
SENT_KEY = "browser_payloads_sent"  # session state: fingerprints of the payloads this browser holds
PAD_PX = 300  # the latent plane, CSS pixels
IMAGE_PX = 140  # the decoded image beside it

_PAD_HTML = """
<div class="vle-lp">
  <div class="vle-lp-title"></div>
  <div class="vle-lp-body">
    <div class="vle-lp-plane">
      <canvas class="vle-lp-bg"></canvas>
      <canvas class="vle-lp-fg" aria-label="Latent plane: hover or drag to decode, click to pick"></canvas>
    </div>
    <div class="vle-lp-side">
      <canvas class="vle-lp-img" aria-label="The image decoded at the pointer"></canvas>
      <div class="vle-lp-z"></div>
      <div class="vle-lp-hint"></div>
      <div class="vle-lp-status"></div>
    </div>
  </div>
</div>
"""

_SLIDERS_HTML = """
<div class="vle-ls">
  <div class="vle-ls-grid"></div>
  <div class="vle-ls-side">
    <canvas class="vle-ls-img" aria-label="The image decoded from the sliders"></canvas>
    <div class="vle-ls-caption">decoded in your browser</div>
    <button type="button" class="vle-ls-reset">Reset to the start code</button>
    <div class="vle-ls-moved"></div>
    <div class="vle-ls-status"></div>
  </div>
</div>
"""

_SAMPLES_HTML = """
<div class="vle-sg">
  <div class="vle-sg-controls">
    <label class="vle-sg-knob"><span>Grid size</span><input type="range" class="vle-sg-n" aria-label="Grid size">
      <span class="vle-sg-value vle-sg-n-value"></span></label>
    <label class="vle-sg-knob"><span>Temperature τ</span>
      <input type="range" class="vle-sg-t" aria-label="Temperature τ"><span class="vle-sg-value vle-sg-t-value"></span>
    </label>
  </div>
  <canvas class="vle-sg-img" aria-label="Decoded samples"></canvas>
  <div class="vle-sg-caption"></div>
  <a class="vle-sg-download" href="#" download="samples.png">Download PNG</a>
  <div class="vle-sg-status"></div>
</div>
"""

_WALK_HTML = """
<div class="vle-lw">
  <label class="vle-lw-knob"><span>t</span><input type="range" class="vle-lw-t" aria-label="t">
    <span class="vle-lw-value"></span></label>
  <div class="vle-lw-body">
    <div class="vle-lw-side">
      <canvas class="vle-lw-img" aria-label="The image decoded at z(t)"></canvas>
      <div class="vle-lw-img-caption"></div>
      <div class="vle-lw-readout"></div>
      <div class="vle-lw-status"></div>
    </div>
    <div class="vle-lw-picture">
      <div class="vle-lw-plane">
        <canvas class="vle-lw-bg"></canvas>
        <canvas class="vle-lw-fg" aria-label="The path from A to B over the test codes, z(t) as a star"></canvas>
      </div>
      <div class="vle-lw-legend"></div>
      <div class="vle-lw-caption"></div>
      <a class="vle-lw-download vle-lw-picture-png" href="#" download="walk.png">Download PNG</a>
    </div>
  </div>
  <canvas class="vle-lw-norms" aria-label="The norm of z(t) along both paths"></canvas>
  <a class="vle-lw-download vle-lw-norms-png" href="#" download="norms.png">Download PNG</a>
</div>
"""

_ROWS_HTML = """
<div class="vle-dr">
  <label class="vle-dr-knob"><span class="vle-dr-label"></span><input type="range" class="vle-dr-n">
    <span class="vle-dr-value"></span></label>
  <div class="vle-dr-caption"></div>
  <div class="vle-dr-rows"></div>
  <div class="vle-dr-status"></div>
</div>
"""

_CSS = """
.vle-lp, .vle-ls { font-family: var(--st-font); color: var(--st-text-color); }
.vle-lp-title { font-weight: 600; margin-bottom: .3rem; }
.vle-lp-body { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.vle-lp-plane { position: relative; line-height: 0; border: 1px solid var(--st-border-color);
  border-radius: var(--st-base-radius); overflow: hidden; }
.vle-lp-bg { background: var(--st-background-color); }  /* the plane's paper: latent_pad.js reads it */
.vle-lp-fg { position: absolute; left: 0; top: 0; cursor: crosshair; touch-action: none; }
.vle-lp-side, .vle-ls-side { display: flex; flex-direction: column; gap: .35rem; font-size: .85rem; }
.vle-lp-img, .vle-ls-img { image-rendering: pixelated; background: #000; border-radius: 4px; }
.vle-lp-z { font-variant-numeric: tabular-nums; }
.vle-lp-hint, .vle-ls-caption, .vle-ls-moved { opacity: .7; max-width: 12rem; }
.vle-lp-status, .vle-ls-status { color: var(--st-primary-color); }
.vle-ls { display: flex; gap: 1.2rem; align-items: flex-start; }
.vle-ls-grid { flex: 1; display: grid; gap: .5rem 1rem; }
.vle-ls-knob { display: grid; grid-template-columns: 2.2rem 1fr 3rem; align-items: center; gap: .3rem;
  font-size: .85rem; }
.vle-ls-knob input { width: 100%; accent-color: var(--st-primary-color); }
.vle-ls-value { font-variant-numeric: tabular-nums; text-align: right; }
.vle-sg { font-family: var(--st-font); color: var(--st-text-color); display: flex; flex-direction: column;
  gap: .5rem; }
.vle-sg-controls { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: .5rem 2rem; max-width: 40rem; }
.vle-sg-knob { display: grid; grid-template-columns: auto 1fr 3rem; align-items: center; gap: .5rem; font-size: .9rem; }
.vle-sg-knob input { width: 100%; accent-color: var(--st-primary-color); }
.vle-sg-value { font-variant-numeric: tabular-nums; text-align: right; }
.vle-sg-img { image-rendering: pixelated; background: #000; align-self: flex-start; }
.vle-sg-caption { font-size: .875rem; opacity: .7; }
.vle-sg-status { color: var(--st-primary-color); }
.vle-sg-download, .vle-lw-download { align-self: flex-start; font-size: .875rem; padding: .25rem .75rem;
  text-decoration: none; border: 1px solid var(--st-border-color); border-radius: var(--st-button-radius);
  color: var(--st-text-color); }
.vle-lw { font-family: var(--st-font); color: var(--st-text-color); display: flex; flex-direction: column;
  gap: .6rem; }
.vle-lw-knob { display: grid; grid-template-columns: 1.2rem 1fr 3rem; align-items: center; gap: .5rem; }
.vle-lw-knob input { width: 100%; accent-color: var(--st-primary-color); }
.vle-lw-value { font-variant-numeric: tabular-nums; text-align: right; }
.vle-lw-body { display: flex; gap: 1rem; align-items: flex-start; }
.vle-lw-side { display: flex; flex-direction: column; gap: .35rem; font-size: .875rem; }
.vle-lw-img { image-rendering: pixelated; background: #000; border-radius: 4px; }
.vle-lw-img-caption, .vle-lw-caption { opacity: .7; font-size: .875rem; }
.vle-lw-readout { font-variant-numeric: tabular-nums; }
.vle-lw-status { color: var(--st-primary-color); }
.vle-lw-picture { flex: 1; min-width: 0; display: flex; flex-direction: column; gap: .3rem; }
.vle-lw-plane { position: relative; line-height: 0; }
.vle-lw-fg { position: absolute; left: 0; top: 0; }
.vle-lw-bg, .vle-lw-norms { background: var(--st-background-color); }  /* the paper: latent_walk.js reads it */
.vle-lw-legend { display: flex; flex-wrap: wrap; gap: .2rem .8rem; font-size: .8rem; }
.vle-lw-legend span { display: inline-flex; align-items: center; gap: .3rem; }
.vle-lw-legend i { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; }
/* Sizes in em of the page's own font, which projector mode raises (rem would stay at the desk's size). */
.vle-dr { font-family: var(--st-font); color: var(--st-text-color); display: flex; flex-direction: column;
  gap: .3rem; }
.vle-dr-knob { display: grid; grid-template-columns: auto 1fr 2.5rem; align-items: center; gap: .6rem;
  max-width: 36rem; }
.vle-dr-knob input { width: 100%; accent-color: var(--st-primary-color); }
.vle-dr-value { font-variant-numeric: tabular-nums; text-align: right; }
.vle-dr-caption { font-size: .9em; opacity: .7; }
.vle-dr-rows { display: flex; flex-direction: column; gap: .5rem; }
.vle-dr-row { display: flex; gap: 1rem; align-items: center; }
.vle-dr-head { flex: 0 0 6.5em; display: flex; flex-direction: column; }
.vle-dr-head em { opacity: .7; font-size: .9em; }
.vle-dr-body { min-width: 0; display: flex; flex-wrap: wrap; align-items: center; gap: .3rem .8rem; }
/* A row wider than the column shrinks, pixels kept square. */
.vle-dr-img { image-rendering: pixelated; background: #000; max-width: 100%; height: auto; }
.vle-dr-download { font-size: .9em; padding: .15rem .6rem; text-decoration: none; white-space: nowrap;
  border: 1px solid var(--st-border-color); border-radius: var(--st-button-radius); color: var(--st-text-color); }
.vle-dr-status { color: var(--st-primary-color); }
.vle-dr-status:empty { display: none; }  /* no gap for it while it has nothing to say */
.vle-ls-reset { font: inherit; padding: .3rem .7rem; border: 1px solid var(--st-border-color);
  border-radius: var(--st-button-radius);
  background: var(--st-secondary-background-color); color: var(--st-text-color); cursor: pointer; }
"""


@dataclass(frozen=True)
class PadClick:
    """Where the pad was clicked, and the nearest test code (None when the pad shows none)."""

    code: tuple[float, float]
    index: int | None


def latent_pad(
    key: str,
    decoder: dict[str, Any],
    *,
    axis_range: Sequence[Sequence[float]],
    codes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    show_prior: bool = False,
    title: str = "",
    start: Sequence[float] | None = None,
    on_click: Callable[[PadClick], None] | None = None,
    hint: str | None = None,
    size_px: int = PAD_PX,
    image_px: int = IMAGE_PX,
) -> PadClick | None:
    """Draw the pad for a 2-D decoder; returns the click that caused this run, if any.

    axis_range: ((x0, x1), (y0, y1)) the plane must show (drawn with equal scales). codes/labels: (N, 2) test codes
    and their labels, drawn faintly. start: the code decoded before the pointer arrives (default: the centre).
    on_click: called with the click before the run it causes (a callback, so it may st.rerun a fragment).
    hint: the line under the image (None: a default saying what to do; "" for none).
    """
    clickable = on_click is not None
    assert decoder["latent_dim"] == 2, f"the pad needs a 2-D latent, got {decoder['latent_dim']}"
    codes_blob = codes_payload(codes, labels) if codes is not None and labels is not None else None
    (x0, x1), (y0, y1) = axis_range
    data = {
        "id": key,
        "decoder": decoder["fingerprint"],
        "codes": codes_blob and codes_blob["fingerprint"],
        "blobs": _blobs_to_send([decoder, codes_blob]),
        "range": [[float(x0), float(x1)], [float(y0), float(y1)]],
        "show_prior": show_prior,
        "title": title,
        "size": size_px,
        "image_px": image_px,
        "clickable": clickable,
        "start": [float(v) for v in start] if start is not None else [(x0 + x1) / 2, (y0 + y1) / 2],
        "hint": hint
        if hint is not None
        else (
            "Hover or drag over the plane: your browser decodes the point under the pointer."
            + (" Click to pick the nearest test image." if clickable and codes_blob else "")
        ),
    }
    result = _component(PAD_NAME, _PAD_HTML, "latent_pad.js")(
        key=key,
        data=data,
        on_clicked_change=lambda: _clicked(key, on_click),
        on_missing_change=_forget_sent,
        width="stretch",
    )
    return _as_click(result.get("clicked"))


def latent_sliders(
    key: str,
    decoder: dict[str, Any],
    *,
    start: Sequence[float],
    ranges: Sequence[tuple[float, float]],
    names: Sequence[str],
    origin: str,
    image_px: int = 196,
    columns: int = 4,
    steps_per_range: int = 120,
) -> None:
    """One slider per latent dimension, decoded in the browser. origin: changes whenever start should be reapplied."""
    assert len(start) == len(ranges) == len(names) == decoder["latent_dim"], (
        "one start value, range and name per dimension"
    )
    data = {
        "id": key,
        "decoder": decoder["fingerprint"],
        "blobs": _blobs_to_send([decoder]),
        "origin": origin,
        "start": [float(v) for v in start],
        "ranges": [[float(lo), float(hi)] for lo, hi in ranges],
        "steps": [round((hi - lo) / steps_per_range, 4) or 0.01 for lo, hi in ranges],
        "names": list(names),
        "image_px": image_px,
        "columns": columns,
    }
    _component(SLIDERS_NAME, _SLIDERS_HTML, "latent_sliders.js")(
        key=key, data=data, on_missing_change=_forget_sent, width="stretch"
    )


def latent_samples(
    key: str,
    decoder: dict[str, Any],
    *,
    noise: np.ndarray,
    centre: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    caption: str,
    origin: str,
    file_stem: str,
    sizes: tuple[int, int, int] = (4, 16, 10),
    temperatures: tuple[float, float, float, float] = (0.1, 2.0, 0.05, 1.0),
    cell_px: int = 28,
) -> None:
    """A grid of decoded samples z = centre + scale * τ * ε, with its grid-size and temperature sliders, all in the
    browser: moving either slider repaints on the next animation frame with no rerun.

    noise: (max grid size², D) float32 draws ε ~ N(0, I); a grid of n x n decodes the first n² of them, so a larger
    grid keeps the smaller one's samples. caption: text under the grid, where "{count}" and "{tau}" become the
    shown number of samples and temperature. sizes: (min, max, default) cells per side; temperatures: (min, max,
    step, default). origin: changes whenever the sliders should return to their defaults (another model).
    file_stem: the "Download PNG" link saves <file_stem>-<n>x<n>-tau<τ>.png, the grid as shown (cell_px a cell).
    """
    low, high, default_n = sizes
    noise = np.ascontiguousarray(noise, dtype="<f4")
    assert noise.shape == (high * high, decoder["latent_dim"]), "one draw of ε per cell of the largest grid"
    data = {
        "id": key,
        "decoder": decoder["fingerprint"],
        "blobs": _blobs_to_send([decoder]),
        "origin": origin,
        "noise": base64.b64encode(noise.tobytes()).decode("ascii"),
        "centre": [float(v) for v in centre],
        "scale": [float(v) for v in scale],
        "caption": caption,
        "file_stem": file_stem,
        "sizes": [int(low), int(high), int(default_n)],
        "temperatures": [float(t) for t in temperatures],
        "cell_px": int(cell_px),
    }
    _component(SAMPLES_NAME, _SAMPLES_HTML, "latent_samples.js")(
        key=key, data=data, on_missing_change=_forget_sent, width="stretch"
    )


@dataclass(frozen=True)
class WalkColours:
    """The colours the walk draws with: ui/figures/latent.py's, so the page's captions name them truly. The path,
    A and B, the prior's circles and the outlines take the theme's text colour (PATH_COLOUR's near-black in the
    light theme), on the theme's background, as the pad does."""

    classes: Sequence[str]  # one per class (Tableau 10)
    current: str  # the z(t) star
    lerp: str  # the linear path's norms
    slerp: str  # the spherical path's norms


def latent_walk(
    key: str,
    decoder: dict[str, Any],
    *,
    walk: Walk,
    start_t: float,
    backdrop: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    axis_titles: tuple[str, str],
    axis_range: Sequence[Sequence[float]],
    prior_centre: Sequence[float] | None,
    code_norm: float,
    prior_norm: float | None,
    colours: WalkColours,
    caption: str,
    file_stem: str,
    norms_file_stem: str,
    plane_height_px: int = 420,
    image_px: int = 196,
) -> None:
    """The walk from A to B with its own t slider, all drawn in the browser: moving t indexes the precomputed
    walk, decodes z(t) and repaints the image, the star, the readout and the norms chart, with no rerun.

    walk: vae_core.lessons.walk.plan_walk's path (walk.ts is the slider's grid). backdrop/labels: (N, 2) test codes in
    the picture and their labels (sent once per session, by fingerprint, like the decoder). axis_range: ((x0, x1),
    (y0, y1)) the picture holds, drawn with equal scales. prior_centre: where the prior's 1σ and 2σ circles go
    (None: no circles). code_norm/prior_norm: the norms chart's reference levels (prior_norm None for an AE).
    caption: the text under the picture (it does not depend on t). file_stem, norms_file_stem: the "Download PNG"
    links save the picture and the norms chart as shown, <stem>-t<t>.png. A new walk (path or digit) keeps the slider
    where it is; start_t is where it starts in a new browser session.
    """
    assert walk.codes.shape[1] == decoder["latent_dim"], "the walk's codes are the decoder's latent codes"
    codes_blob = codes_payload(backdrop, labels)
    ts = [round(float(t), 6) for t in walk.ts]
    data = {
        "id": key,
        "decoder": decoder["fingerprint"],
        "codes": codes_blob["fingerprint"],
        "blobs": _blobs_to_send([decoder, codes_blob]),
        "method": walk.method,
        "ts": ts,
        "start": int(np.argmin(np.abs(walk.ts - start_t))),
        "z": walk.codes.astype(float).round(6).tolist(),
        "points": walk.points.round(6).tolist(),
        "norms": walk.norms.round(6).tolist(),
        "fine_ts": walk.fine_ts.round(6).tolist(),
        "fine_points": walk.fine_points.round(6).tolist(),
        "lerp_norms": walk.lerp_norms.round(6).tolist(),
        "slerp_norms": walk.slerp_norms.round(6).tolist(),
        "code_norm": float(code_norm),
        "prior_norm": None if prior_norm is None else float(prior_norm),
        "prior_centre": None if prior_centre is None else [float(v) for v in prior_centre],
        "range": [[float(v) for v in axis] for axis in axis_range],
        "axis_titles": list(axis_titles),
        "class_names": list(class_names),
        "colours": {
            "classes": list(colours.classes),
            "current": colours.current,
            "lerp": colours.lerp,
            "slerp": colours.slerp,
        },
        "caption": caption,
        "file_stem": file_stem,
        "norms_file_stem": norms_file_stem,
        "height": int(plane_height_px),
        "image_px": int(image_px),
    }
    _component(WALK_NAME, _WALK_HTML, "latent_walk.js")(
        key=key, data=data, on_missing_change=_forget_sent, width="stretch"
    )


@dataclass(frozen=True)
class DecodedRow:
    """One row of decoded_rows: what it decodes (codes or a path, exactly one), its label and its file's name."""

    decoder: dict[str, Any]  # the model's browser payload (ui.state.browser_decoders.browser_decoder)
    label: str  # beside the row ("" for none)
    note: str  # a fainter line under the label ("" for none)
    file_stem: str  # its "Download PNG" saves <file_stem>-<RowsSlider.file_suffix>.png
    codes: np.ndarray | None = None  # (most the slider shows, D) float32 codes: the slider at n shows the first n
    path: tuple[np.ndarray, np.ndarray, str] | None = None  # (z_A, z_B, method): n steps of latent_paths.interpolate


@dataclass(frozen=True)
class RowsSlider:
    """decoded_rows' slider: how many images each row shows."""

    label: str
    key: str  # the session-state key and URL parameter (ui.widgets.bound.browser_slider_value) that holds it
    value: int  # where it stands in this run
    min_value: int
    max_value: int
    file_suffix: str  # the end of a row's file name, "{n}" the slider's value ("n{n}" saves ...-n12.png)


def decoded_rows(
    key: str, rows: Sequence[DecodedRow], *, slider: RowsSlider, caption: str, cell_px: int, downloads: bool = True
) -> None:
    """Rows of images decoded in the browser, with one slider for how many each row shows: moving it repaints on
    the next animation frame with no rerun; letting it go sends the value to Python once (into session state under
    slider.key, which browser_slider_value keeps in the address).

    caption: the text above the rows, "{n}" the slider's value. cell_px: about how wide a cell is drawn (as
    vae_core.serving.images.grid_png scales it). downloads: a "Download PNG" link beside each row.
    """
    assert rows, "nothing to decode"
    decoders = [row.decoder for row in rows]
    sent = _blobs_to_send(decoders)
    data = {
        "id": key,
        "blobs": sent,
        "count": {"label": slider.label, "min": slider.min_value, "max": slider.max_value, "value": slider.value},
        "rows": [_row_data(row, slider.max_value, cell_px) for row in rows],
        "caption": caption,
        "file_suffix": slider.file_suffix,
        "downloads": downloads,
    }
    _component(ROWS_NAME, _ROWS_HTML, "decoded_rows.js")(
        key=key,
        data=data,
        on_count_change=lambda: set_browser_slider(slider.key, _state(key, "count")),
        on_missing_change=_forget_sent,
        width="stretch",
    )


def _row_data(row: DecodedRow, most: int, cell_px: int) -> dict[str, Any]:
    assert (row.codes is None) != (row.path is None), "a row decodes codes or a path"
    dim = row.decoder["latent_dim"]
    data: dict[str, Any] = {
        "decoder": row.decoder["fingerprint"],
        "label": row.label,
        "note": row.note,
        "file_stem": row.file_stem,
        "dim": dim,
        "factor": grid_scale(row.decoder["output_shape"][-1], cell_px),
        "codes": None,
        "path": None,
    }
    if row.codes is not None:
        codes = np.ascontiguousarray(row.codes, dtype="<f4")
        assert codes.shape == (most, dim), f"one code per image of the longest row, got {codes.shape}"
        data["codes"] = base64.b64encode(codes.tobytes()).decode("ascii")
    else:
        assert row.path is not None
        z_a, z_b, method = row.path
        data["path"] = {"a": [float(v) for v in z_a], "b": [float(v) for v in z_b], "method": method}
    return data


def _state(key: str, name: str) -> Any:
    """A component's state or trigger value, as its callback finds it in session state (None when absent)."""
    state = st.session_state.get(key)
    return state.get(name) if state is not None else None


def _blobs_to_send(payloads: Sequence[dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
    """{fingerprint: payload} for payloads this browser session has not been sent yet, {fingerprint: None} else."""
    sent = st.session_state.setdefault(SENT_KEY, set())
    blobs: dict[str, dict[str, Any] | None] = {}
    for payload in payloads:
        if payload is not None:
            fp = payload["fingerprint"]
            blobs[fp] = None if fp in sent else payload
            sent.add(fp)
    return blobs


def _forget_sent() -> None:
    """The browser lacks a payload it should hold: the run this trigger starts sends every payload again."""
    st.session_state[SENT_KEY] = set()


@cache
def _component(name: str, html: str, js_file: str) -> Callable:
    """Register a component once per process (lazily: importing this module has no side effects)."""
    scripts = ("mlp_decoder.js", "latent_paths.js", js_file)  # plain scripts first, the component's module last
    js = "\n".join((JS_DIR / script).read_text() for script in scripts)
    return st.components.v2.component(name, html=html, css=_CSS, js=js)


def _as_click(value: Any) -> PadClick | None:
    """The `clicked` trigger's value ({"z": [x, y], "index": i or null}) as a PadClick."""
    if not isinstance(value, dict) or not isinstance(value.get("z"), list) or len(value["z"]) != 2:
        return None
    index = value.get("index")
    return PadClick((float(value["z"][0]), float(value["z"][1])), int(index) if isinstance(index, int) else None)


def _clicked(key: str, on_click: Callable[[PadClick], None] | None) -> None:
    state = st.session_state.get(key)
    click = _as_click(state.get("clicked") if state is not None else None)
    if click is not None and on_click is not None:
        on_click(click)
