"""How fast the app answers on this machine: slider reruns (median, p95) and the cold start. Prints figures.

    python benchmarks/app_latency.py                      # the data set the sidebar opens with
    python benchmarks/app_latency.py --dataset digits --repeats 60 --cold-starts 3
    python benchmarks/app_latency.py --widgets --repeats 10   # only: widget changes end to end in Chromium
    python benchmarks/app_latency.py --pages mnist --repeats 5 --cold-starts 0 --only anomaly_detection,inference

Targets (docs of the issue): a slider rerun's median <= 50 ms; cold start <= 5 s; a widget change that used to
redraw the whole page <= 0.5 s median end to end; a slider that still goes to the server <= 100 ms median end
to end.

- Widget changes end to end (`--widgets`, also part of the full run): headless Chromium changes each widget
  that used to rerun a whole page (Interpolation's path, steps and class, the Latent page's axes toggle, a
  click on a point and the image number, the β page's Train form), the sliders that still go to the server
  (Interpolation's steps, the β page's samples) and Interpolation's t (in the browser for an MLP decoder: the
  walk's own range input; a st.slider otherwise), and times each from the input event to the page settled, in the
  page's own clock: an init script (WIDGET_PROBE_JS) records the first pointer or key event, every DOM change
  in the main area and every image load, and the moment after the animation frame that follows each change
  (the change is on screen); a client-side component (Interpolation's walk) counts its own repaints, which its
  shadow root hides from that observer. Settled: the script is idle and nothing has changed for QUIET_MS; the figure is
  that last paint minus the event. For the Train form the figure is the event to the form redrawn with its
  button disabled and the job's panel shown (the job then polls every second; it is stopped before the next).
  Each line also says whether the server ran only fragments (benchmarks/timed_streamlit.py's log).

- Headline, slider reruns in a real browser: the interpolation page's sliders live in st.fragment blocks, so
  a slider change reruns only its fragment, and that fragment run is the rerun the user waits for. The server
  is benchmarks/timed_streamlit.py, which logs each run's server time: from the script runner picking up
  the request to its announcing that the run finished (the fragment itself, its widget callbacks and queuing
  its output). "until idle" adds Streamlit's post-run clean-up (its gc.collect() after every run), which a
  slider change arriving meanwhile waits for. Browser-side rendering and network are not counted.
  Headless Chromium presses the slider's arrow keys; needs /usr/bin/chromium and playwright, else skipped.
- For reference, whole-script reruns with Streamlit's AppTest: AppTest cannot rerun a fragment alone, so
  `slider.set_value(v).run()` reruns app.py and the page; this is what a change of a widget outside the
  fragments (the path method, a digit picker) costs. AppTest's own bookkeeping is shown as "AppTest floor"
  (a one-slider script), to be subtracted.
- Cold start: from `streamlit run app.py` (process start) to the first page rendered with a model in headless
  Chromium: the home page drawn, the sidebar's model picker holding the data set's model, the script idle.
  The browser is launched before the clock starts. Needs /usr/bin/chromium; skipped with a message otherwise.
  Two more figures say what the first page does not: the same cold start followed at once by a click on a
  lesson page that draws with the model (torch is imported in the background after the first page, see
  ui/shell/warmup.py, so this click may wait for it), and a cold start with a link straight to that lesson page,
  timed from the process start and from the link's request (the issue's figure: the server's start excluded).
  The issue's goal for the first lesson page (<= 3 s after the home page) is read off two rows: the lesson page
  timed from that immediate click, and from a click after READING_S seconds on the home page. Beside the direct
  link, its floor: benchmarks/floor_cold_app.py (a page that imports torch and draws one plotly chart, nothing of
  ours) served fresh and opened by a link, timed the same way.
- The page table (`--pages`): each page's first open in this process after the home page, with the imports the
  server's background warm-up makes (ui/shell/warmup.py) done first and timed on their own line, then each bound
  control's reruns.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.app_browser import (  # noqa: E402
    APP_IDLE,
    chromium_page,
    chromium_path,
    free_port,
    nav_links,
    open_app,
    playwright_available,
    start_app,
    stop_app,
    wait_for_idle,
    wait_until_healthy,
)
from tools.screenshots import open_page  # noqa: E402
from ui.shell.lessons import LESSONS  # noqa: E402
from ui.shell.warmup import HEAVY_MODULES  # noqa: E402

TARGET_RERUN_MS = 50.0
TARGET_COLD_S = 5.0
TARGET_LESSON_S = 3.0  # issue #10: the first lesson page drawn with its model, after the home page
FLOOR_COLD_APP = REPO_ROOT / "benchmarks" / "floor_cold_app.py"  # the direct link's floor (its docstring)
READING_S = 10  # seconds a student spends on the home page before the first lesson, in the second cold start
TARGET_WIDGET_MS = 500.0  # a widget change that used to redraw the whole page, end to end
TARGET_SLIDER_E2E_MS = 100.0  # a slider that still goes to the server, end to end
QUIET_MS = 600.0  # no DOM change for this long after the last paint: the page has settled
SETTLE_TIMEOUT_S = 120.0

WIDGET_PROBE_JS = """
(() => {
  if (window.__vleBench) return;
  const bench = window.__vleBench = {armed: false, eventAt: null, lastChange: 0, paintedAt: 0};
  const onEvent = () => { if (bench.armed && bench.eventAt === null) bench.eventAt = performance.now(); };
  for (const type of ["pointerdown", "mousedown", "keydown"]) document.addEventListener(type, onEvent, true);
  const changed = () => {
    const at = bench.lastChange = performance.now();
    // requestAnimationFrame runs just before the frame is painted; a task queued from it runs after.
    requestAnimationFrame(() => setTimeout(() => {
      if (bench.lastChange === at) bench.paintedAt = performance.now();
    }, 0));
  };
  // A new st.image is on screen once it has loaded, which is after its element changed.
  document.addEventListener("load", (e) => { if (e.target && e.target.tagName === "IMG") changed(); }, true);
  const attach = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) { setTimeout(attach, 50); return; }
    new MutationObserver(changed).observe(main, {subtree: true, childList: true, attributes: true,
                                                 characterData: true});
  };
  attach();
})();
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, seconds: list[float], target_ms: float | None = None) -> str:
    ms = [s * 1000 for s in seconds]
    verdict = ""
    if target_ms is not None:
        met = statistics.median(ms) <= target_ms
        verdict = "  (meets the target)" if met else f"  (target {target_ms:.0f} ms: MISSED)"
    return (
        f"{name:<50} median {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   n={len(ms)}{verdict}"
    )


def timed_reruns(at, widget, values: list, repeats: int) -> list[float]:
    """Set the widget to each value in turn (cycling) and time each rerun."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        widget().set_value(values[i % len(values)]).run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise SystemExit(f"the page raised: {at.exception[0].value}")
    return times


def apptest_floor(repeats: int) -> list[float]:
    """AppTest's own cost for a rerun of a script that does nothing but draw one slider."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("import streamlit as st\nst.slider('x', 0, 100, 0, key='x')").run()
    return timed_reruns(at, lambda: at.slider(key="x"), list(range(1, 101)), repeats)


def slider_figures(dataset: str | None, repeats: int) -> list[str]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=300).run()
    if dataset:
        at.sidebar.selectbox(key="sidebar_dataset").set_value(dataset).run()
    chosen = at.sidebar.selectbox(key="sidebar_dataset").value
    model = at.sidebar.selectbox(key="sidebar_model").value if at.sidebar.selectbox else None
    lines = [f"data set {chosen}, model {model}, torch threads {__import__('torch').get_num_threads()}"]
    if model is None:
        return [*lines, "no model for this data set: build the zoo (python -m vae_core zoo --out checkpoints/)"]

    at.switch_page(LESSONS["interpolation"].script).run()
    if at.exception:
        raise SystemExit(f"the interpolation page raised: {at.exception[0].value}")
    t_values = [round(0.05 * i, 2) for i in range(21)]
    if [s for s in at.slider if s.key == "interp_t"]:
        timed_reruns(at, lambda: at.slider(key="interp_t"), t_values, 3)  # warm the decode caches' first entries
        lines.append(
            summary(
                "AppTest whole-script rerun: slider t",
                timed_reruns(at, lambda: at.slider(key="interp_t"), t_values, repeats),
                TARGET_RERUN_MS,
            )
        )
    else:
        lines.append("slider t: no st.slider (key interp_t): an MLP's walk decodes in the browser (--widgets times it)")
    knob_keys = [s.key for s in at.slider if s.key and s.key.startswith("interp_knob_")]
    if knob_keys:
        knob = at.slider(key=knob_keys[0])
        lo, hi = float(knob.min), float(knob.max)
        values = [lo + (hi - lo) * i / 20 for i in range(21)]
        lines.append(
            summary(
                "AppTest whole-script rerun: slider z1",
                timed_reruns(at, lambda: at.slider(key=knob_keys[0]), values, repeats),
                TARGET_RERUN_MS,
            )
        )
    else:
        lines.append(
            "latent slider: no st.slider (keys interp_knob_*): MLP knobs decode in the browser, "
            "see benchmarks/latent_pad.py"
        )

    at.switch_page(LESSONS["elbo_breakdown"].script).run()
    if not at.exception and at.select_slider:
        betas = [0.0, 0.5, 1.0, 2.0, 4.0]
        lines.append(
            summary(
                "AppTest whole-script rerun: ELBO page β",
                timed_reruns(at, lambda: at.select_slider(key="elbo_beta"), betas, repeats),
            )
        )
    lines.append(summary("AppTest floor (one-slider script)", apptest_floor(repeats)))
    return lines


def slider_thumb(page, label: str):
    """The draggable thumb of the st.slider whose label is exactly label."""
    label_box = page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator('[data-testid="stSlider"]').filter(has=label_box).locator('input[type="range"]').first


def browser_slider_figures(dataset: str | None, repeats: int) -> list[str]:
    """Server time of the runs a real browser's slider change causes (fragment reruns where the page has them).

    The server is benchmarks/timed_streamlit.py, which logs the duration of every script run it serves.
    """
    if chromium_path() is None or not playwright_available():
        return ["browser sliders: skipped (needs /usr/bin/chromium and the playwright package)"]
    from playwright.sync_api import sync_playwright

    from ui.shell.sidebar import DATASET_LABELS

    lines = []
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "runs.jsonl"
        log.touch()
        port = free_port()
        process = start_app(
            port, env={"BENCH_RUN_LOG": str(log)}, launcher=(str(REPO_ROOT / "benchmarks" / "timed_streamlit.py"),)
        )
        try:
            wait_until_healthy(port, process, timeout_s=120)
            with sync_playwright() as playwright, chromium_page(playwright) as page:
                open_app(page, f"http://127.0.0.1:{port}/")
                if dataset:
                    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
                    page.get_by_role("option", name=DATASET_LABELS[dataset]).click()
                    wait_for_idle(page, timeout_ms=120_000)
                href = next(h for title, h in nav_links(page) if title.endswith("Interpolation"))
                open_page(page, href)
                for label, name in (("t", "interpolation slider t"), ("z₁", "latent slider z₁")):
                    thumb = slider_thumb(page, label)
                    if thumb.count() == 0:
                        # ui/widgets/latent_pad.py's client-side knobs and walk
                        in_browser = page.locator(".vle-ls" if label == "z₁" else ".vle-lw").count() > 0
                        lines.append(
                            f"browser {name}: "
                            + (
                                "decoded in the browser, no rerun (timed by benchmarks/latent_pad.py and --widgets)"
                                if in_browser
                                else "not found on the interpolation page"
                            )
                        )
                        continue
                    thumb.scroll_into_view_if_needed()
                    seconds, until_idle, fragment_only = [], [], True
                    for i in range(repeats):
                        before = len(log.read_text().splitlines())
                        thumb.focus()
                        page.keyboard.press("ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft")
                        runs = _new_runs(log, before)
                        wait_for_idle(page)
                        seconds.append(sum(r["seconds"] for r in runs))
                        until_idle.append(sum(r.get("until_idle", r["seconds"]) for r in runs))
                        fragment_only = fragment_only and all(r["fragment"] for r in runs)
                    kind = "fragment rerun" if fragment_only else "whole-script rerun"
                    lines.append(summary(f"browser {name}: {kind}", seconds, TARGET_RERUN_MS))
                    lines.append(summary(f"browser {name}: until idle (+ post-run GC)", until_idle))
        finally:
            stop_app(process)
    return lines


def _new_runs(log: Path, before: int, timeout_s: float = 30.0) -> list[dict]:
    """The runs logged after the first `before` lines, once one has appeared and no other follows for 0.3 s."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        lines = log.read_text().splitlines()
        if len(lines) > before:
            time.sleep(0.3)
            if len(log.read_text().splitlines()) == len(lines):
                return [json.loads(line) for line in lines[before:]]
        else:
            time.sleep(0.01)
    raise SystemExit("a slider change caused no script run within 30 s")


def _probe_state(page) -> dict:
    # A client-side component draws inside its shadow root, out of the probe's MutationObserver's sight: its own
    # repaints count too, as the last frame time it recorded (ui/widgets/js/mlp_decoder.js's VLE.stats, taken
    # when the frame's drawing is done).
    return page.evaluate(
        """(idle) => { const b = window.__vleBench;
            const stats = Object.values((globalThis.__vle || {}).stats || {});
            const frame = Math.max(0, ...stats.map((s) => s.frameTimes[s.frameTimes.length - 1] || 0));
            return {eventAt: b.eventAt, lastChange: Math.max(b.lastChange, frame),
                    paintedAt: Math.max(b.paintedAt, frame), now: performance.now(),
                    idle: document.querySelector(idle) !== null}; }""",
        APP_IDLE,
    )


def _arm(page) -> None:
    page.evaluate("() => { window.__vleBench.armed = true; window.__vleBench.eventAt = null; }")


@dataclass(frozen=True)
class ServerRuns:
    """What the server logged for one change (benchmarks/timed_streamlit.py)."""

    fragment_only: bool | None  # whether every run ran fragments only (None: no run logged)
    seconds: float  # the runs' server time together

    @property
    def kind(self) -> str:
        return {True: "fragment", False: "whole script", None: "no server run"}[self.fragment_only]


def _server_runs(log: Path, before: int) -> ServerRuns:
    """The runs the server logged after line `before`."""
    runs = [json.loads(line) for line in log.read_text().splitlines()[before:]]
    return ServerRuns(all(r["fragment"] for r in runs) if runs else None, sum(r["seconds"] for r in runs))


def timed_change(page, act, log: Path) -> tuple[float, ServerRuns]:
    """(seconds from the input event act() sends to the page settled, the server's runs for it)."""
    before = len(log.read_text().splitlines())
    _arm(page)
    act()
    deadline = time.perf_counter() + SETTLE_TIMEOUT_S
    while True:
        state = _probe_state(page)
        event_at = state["eventAt"]
        if (
            event_at is not None
            and state["idle"]
            and state["lastChange"] > event_at
            and state["paintedAt"] >= state["lastChange"]
            and state["now"] - state["lastChange"] > QUIET_MS
        ):
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"the page did not settle within {SETTLE_TIMEOUT_S:.0f} s after a change: {state}")
        time.sleep(0.02)
    page.evaluate("() => { window.__vleBench.armed = false; }")
    time.sleep(0.3)  # the server's post-run clean-up logs the run a moment after the page has it
    return (state["paintedAt"] - event_at) / 1000.0, _server_runs(log, before)


def labelled(page, testid: str, label: str):
    """The first widget of data-testid testid whose label is exactly label."""
    label_box = page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator(f'[data-testid="{testid}"]').filter(has=label_box).first


def open_selectbox(page, label: str) -> None:
    """Open the selectbox labelled label and wait for its options (untimed: the change is the option's click)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = labelled(page, "stSelectbox", label)
    box.scroll_into_view_if_needed()
    # A click right after the scroll (or a rerun redrawing the page) may only focus the box: click until it opens.
    for _ in range(4):
        box.click()
        try:
            open_options(page).first.wait_for(timeout=2_000)
            return
        except PlaywrightTimeout:
            continue
    open_options(page).first.wait_for()


def open_options(page):
    """The options of the open selectbox's list (visible ones only: Streamlit 1.67 keeps hidden options elsewhere in
    the page, which a plain role query found first and waited on forever)."""
    return page.locator('[role="listbox"] [role="option"]:visible')


def choose_option(page, i: int) -> None:
    """Click one of the open selectbox's options: two in turn, neither the first two (A's default is 1)."""
    open_options(page).nth(2 + i % 2).click()


POINT_JS = """
([chart, point]) => {
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[chart];
  const traces = gd._fullData.filter(t => t.customdata && t.x && t.x.length > 0);
  const trace = traces[point % traces.length];
  const i = Math.floor(point / traces.length) * 37 % trace.x.length;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(trace.x[i]), box.top + ya._offset + ya.l2p(trace.y[i])];
}
"""


def widget_figures(page, base_url: str, log: Path, repeats: int) -> list[str]:
    """Each widget changed `repeats` times on its page; a line of end-to-end figures per widget."""
    lines = []

    def measure(name: str, act, target_ms: float, before=None) -> None:
        seconds, server, kinds = [], [], set()
        for i in range(repeats):
            if before is not None:
                before(i)
            took, runs = timed_change(page, lambda i=i: act(i), log)
            seconds.append(took)
            server.append(runs.seconds)
            kinds.add(runs.kind)
        lines.append(summary(f"{name} [{' + '.join(sorted(kinds))}]", seconds, target_ms))
        lines.append(f"{'':<4}of which server runs: median {statistics.median(server) * 1000:7.1f} ms")

    def go(title: str) -> None:
        href = next(h for t, h in nav_links(page) if t.endswith(title))
        open_page(page, href)

    go("Interpolation")
    path_radio = labelled(page, "stRadio", "Path")
    measure(
        "Interpolation: path radio",
        lambda i: path_radio.get_by_text("Spherical" if i % 2 == 0 else "Linear", exact=True).click(),
        TARGET_WIDGET_MS,
    )
    measure(
        "Interpolation: class of A",
        lambda i: choose_option(page, i),
        TARGET_WIDGET_MS,
        lambda i: open_selectbox(page, "Class"),
    )
    for label, name in (("Steps in the strip", "Interpolation: steps slider"), ("t", "Interpolation: slider t")):
        thumb = slider_thumb(page, label)
        if thumb.count() == 0:
            # An MLP's walk (ui/widgets/latent_pad.latent_walk) and strip (decoded_rows): their own range inputs,
            # repainted in the browser; the probe's clock stops after the frame that follows their DOM changes.
            thumb = page.locator(".vle-lw input.vle-lw-t" if label == "t" else ".vle-dr input.vle-dr-n")
            name += " (in the browser)"
        thumb.scroll_into_view_if_needed()
        measure(
            name,
            lambda i, thumb=thumb: page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft"),
            TARGET_SLIDER_E2E_MS,
            lambda i, thumb=thumb: thumb.focus(),
        )

    go("Latent space")
    toggle = page.get_by_text("Same axes for both", exact=True)
    measure("Latent space: same-axes toggle", lambda i: toggle.click(), TARGET_WIDGET_MS)
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.scroll_into_view_if_needed()

    def click_point(i: int) -> None:
        x, y = page.evaluate(POINT_JS, [i % 2 if page.locator(".js-plotly-plot").count() > 1 else 0, i])
        page.mouse.click(x, y)

    measure("Latent space: click on a point", click_point, TARGET_WIDGET_MS)
    step_up = page.locator('[data-testid="stNumberInput"] [data-testid="stNumberInputStepUp"]').first
    measure("Latent space: image number +1", lambda i: step_up.click(), TARGET_WIDGET_MS)

    go("β trade-off")
    thumb = slider_thumb(page, "Samples per β")
    in_browser = thumb.count() == 0  # an MLP sweep's rows (decoded_rows): the slider is the component's own
    thumb = page.locator(".vle-dr input.vle-dr-n") if in_browser else thumb
    thumb.scroll_into_view_if_needed()
    measure(
        "β trade-off: samples slider" + (" (in the browser)" if in_browser else ""),
        lambda i: page.keyboard.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft"),
        TARGET_SLIDER_E2E_MS,
        lambda i: thumb.focus(),
    )
    lines.append(train_form_figure(page, log, max(1, repeats // 2)))
    return lines


def train_form_figure(page, log: Path, repeats: int) -> str:
    """The β page's Train form: the event to the form redrawn disabled with the job's panel; each job is stopped."""
    epochs = slider_thumb(page, "Epochs")
    epochs.scroll_into_view_if_needed()
    epochs.focus()
    page.keyboard.press("Home")  # one epoch: the job is stopped at once anyway
    button = page.get_by_role("button", name="Train this β point")
    seconds, kinds = [], set()
    for _ in range(repeats):
        wait_for_idle(page, timeout_ms=120_000)
        before = len(log.read_text().splitlines())
        _arm(page)
        button.click()
        page.wait_for_function(
            """() => { const b = [...document.querySelectorAll('button')]
                .find(x => x.innerText.includes('Train this β point'));
                return b && b.disabled; }""",
            timeout=60_000,
            polling="raf",
        )
        drawn_at = page.evaluate("() => performance.now()")
        seconds.append((drawn_at - _probe_state(page)["eventAt"]) / 1000.0)
        kinds.add(_server_runs(log, before).kind)
        stop = page.get_by_role("button", name="Stop training")
        if stop.count():
            stop.click()
        page.wait_for_function(
            """() => { const b = [...document.querySelectorAll('button')]
                .find(x => x.innerText.includes('Train this β point'));
                return b && !b.disabled; }""",
            timeout=300_000,
        )
    page.evaluate("() => { window.__vleBench.armed = false; }")
    return summary(f"β trade-off: Train form submitted [{' + '.join(sorted(kinds))}]", seconds, TARGET_WIDGET_MS)


def browser_widget_figures(dataset: str | None, repeats: int) -> list[str]:
    """End-to-end times of widget changes in headless Chromium (see the module docstring)."""
    if chromium_path() is None or not playwright_available():
        return ["browser widgets: skipped (needs /usr/bin/chromium and the playwright package)"]
    from playwright.sync_api import sync_playwright

    from ui.shell.sidebar import DATASET_LABELS

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "runs.jsonl"
        log.touch()
        port = free_port()
        # Models trained by the Train form go to a folder of their own, not the user's.
        env = {"BENCH_RUN_LOG": str(log), "VAE_USER_CHECKPOINT_DIR": str(Path(folder) / "user")}
        process = start_app(port, env=env, launcher=(str(REPO_ROOT / "benchmarks" / "timed_streamlit.py"),))
        try:
            wait_until_healthy(port, process, timeout_s=120)
            with sync_playwright() as playwright, chromium_page(playwright) as page:
                page.add_init_script(WIDGET_PROBE_JS)
                open_app(page, f"http://127.0.0.1:{port}/")
                if dataset:
                    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
                    page.get_by_role("option", name=DATASET_LABELS[dataset]).click()
                    wait_for_idle(page, timeout_ms=120_000)
                picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(1)
                lines = [f"model in the sidebar: {picker.locator('input').first.input_value()}"]
                return lines + widget_figures(page, f"http://127.0.0.1:{port}", log, repeats)
        finally:
            stop_app(process)


def cold_link(page, path: str, script: Path = REPO_ROOT / "app.py") -> tuple[float, float]:
    """A fresh `streamlit run script` opened by a link to path: seconds to the page idle from the process start and
    from the link's request."""
    port = free_port()
    start = time.perf_counter()
    process = start_app(port, script=script)
    try:
        wait_until_healthy(port, process, timeout_s=120)
        requested = time.perf_counter()
        open_app(page, f"http://127.0.0.1:{port}{path}", settle_ms=0)  # waits until idle
        return time.perf_counter() - start, time.perf_counter() - requested
    finally:
        stop_app(process)


def cold_start(runs: int, lesson: str = "Decoder grid") -> list[str]:
    if chromium_path() is None or not playwright_available():
        return ["cold start: skipped (needs /usr/bin/chromium and the playwright package)"]
    from playwright.sync_api import sync_playwright

    healthy, rendered, lesson_drawn, after_home, after_reading = [], [], [], [], []
    deep_link, deep_link_request, floor_request = [], [], []
    with sync_playwright() as playwright, chromium_page(playwright) as page:
        for _ in range(runs):
            port = free_port()
            start = time.perf_counter()
            process = start_app(port)  # the checkpoint folders of the environment, as a user would start it
            try:
                wait_until_healthy(port, process, timeout_s=120)
                healthy.append(time.perf_counter() - start)
                # The first page rendered with a model: the home page has run (its title shows), the sidebar's
                # model picker holds a model, and the script is idle.
                open_app(page, f"http://127.0.0.1:{port}/", settle_ms=0)
                page.get_by_text("Model", exact=True).first.wait_for(timeout=120_000)
                page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)
                rendered.append(time.perf_counter() - start)
                # A student who clicks a lesson at once: the page drawn with the model's output. torch loads in
                # the background after the first page (ui/shell/warmup.py); this is what waits for it.
                href = next(h for title, h in nav_links(page) if title.endswith(lesson))  # the title follows its icon
                clicked = time.perf_counter()
                open_page(page, href)
                lesson_drawn.append(time.perf_counter() - start)
                after_home.append(time.perf_counter() - clicked)
            finally:
                stop_app(process)
            # A student who reads the home page first (READING_S): the background warm-up has had its time.
            port = free_port()
            process = start_app(port)
            try:
                wait_until_healthy(port, process, timeout_s=120)
                open_app(page, f"http://127.0.0.1:{port}/", settle_ms=0)
                page.get_by_text("Model", exact=True).first.wait_for(timeout=120_000)
                page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)
                page.wait_for_timeout(READING_S * 1000)
                href = next(h for title, h in nav_links(page) if title.endswith(lesson))  # this server's port
                clicked = time.perf_counter()
                open_page(page, href)
                after_reading.append(time.perf_counter() - clicked)
            finally:
                stop_app(process)
            # A bookmark straight to the lesson page: nothing loads before it.
            from_start, from_request = cold_link(page, urlparse(href).path)
            deep_link.append(from_start)
            deep_link_request.append(from_request)
            # Its floor: a fresh server of a page that imports torch and draws one plotly chart, nothing of ours.
            floor_request.append(cold_link(page, "/", FLOOR_COLD_APP)[1])
    return [
        summary("cold start: server answering", healthy),
        summary("cold start: first page rendered with a model", rendered, TARGET_COLD_S * 1000),
        summary(f"  then {lesson} clicked at once, drawn", lesson_drawn),
        summary(f"  {lesson} drawn, from that click", after_home, TARGET_LESSON_S * 1000),
        summary(f"  {lesson} drawn, clicked after {READING_S} s on Home", after_reading, TARGET_LESSON_S * 1000),
        summary(f"cold start: a link straight to {lesson}, drawn", deep_link),
        summary(f"  {lesson} drawn, from that link's request", deep_link_request, TARGET_LESSON_S * 1000),
        summary("  floor: torch + one chart, from the request", floor_request),
    ]


# --- the page table: every page's first open and every control's reruns, per data set ------------------------
PAGE_TABLE_SKIP = ("home", "train")  # home draws no lesson; the Train page's controls start trainings
PAGE_TIMEOUT_S = 600
TIMED_WIDGETS = ("slider", "number_input", "toggle", "select_slider")


def _alternatives(binding) -> list:
    """Values to move a bound control between: its far end first (the costly one), then its default."""
    if binding.widget in ("slider", "number_input"):
        far = binding.max_value if binding.default != binding.max_value else binding.min_value
        return [binding.value_type(far), binding.default]
    if binding.widget == "toggle":
        return [not binding.default, binding.default]
    options = (
        [_number_of(label, binding.value_type) for label in binding.labels]
        if binding.value_type in (int, float)
        else []
    )
    options = [option for option in options if option is not None]
    if binding.widget in ("select_slider",) and options:
        return [options[-1] if options[-1] != binding.default else options[0], binding.default]
    return []  # selectbox and radio: options are shown through format_func; left out


def _number_of(label: str, value_type: type):
    """The number a choice's label shows ("30°" -> 30), None if it shows none."""
    found = re.match(r"\s*-?\d+(\.\d+)?", label)
    return value_type(float(found.group())) if found else None


def _control(at, binding):
    finders = {"slider": at.slider, "number_input": at.number_input, "toggle": at.toggle}
    finders["select_slider"] = at.select_slider
    return finders[binding.widget](key=binding.key)


def page_table(dataset: str, repeats: int, only: list[str] | None = None) -> list[str]:
    """One row per page (or per page in `only`): its first open (in this process, after the home page) and, per
    bound control, the median and p95 of `repeats` whole reruns moving it between its far end and its default
    (AppTest, server side: no browser, no network). First opens share this process's caches with the pages before
    them."""
    from streamlit.testing.v1 import AppTest

    from ui.widgets.bound import RECORDS_KEY

    lines = [f"{'page':28} {'first open s':>12}  controls (median / p95 s of a rerun, {repeats} each)"]
    # A server imports these in the background once its first page is out (ui/shell/warmup.py), while the student
    # reads it; the table's first page would otherwise pay them for the whole table. The cold-start rows time them.
    if missing := [name for name in HEAVY_MODULES if name not in sys.modules]:
        began = time.perf_counter()
        for name in missing:
            importlib.import_module(name)
        seconds = time.perf_counter() - began
        lines.insert(0, f"(first, the server's background imports of {', '.join(missing)}: {seconds:.2f} s)")
    for slug, lesson in LESSONS.items():
        if slug in PAGE_TABLE_SKIP or (only is not None and slug not in only):
            continue
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=PAGE_TIMEOUT_S)
        at.query_params["dataset"] = dataset
        at.run()
        start = time.perf_counter()
        at.switch_page(lesson.script).run()
        first = time.perf_counter() - start
        if at.exception:
            lines.append(f"{slug:28} {first:12.2f}  exception: {str(at.exception[0].value)[:80]}")
            continue
        bindings = dict(at.session_state[RECORDS_KEY]) if RECORDS_KEY in at.session_state else {}
        cells = []
        for key, binding in bindings.items():
            if key not in lesson.url_keys or binding.widget not in TIMED_WIDGETS:
                continue
            values = _alternatives(binding)
            if not values:
                continue
            try:
                drawn = _control(at, binding)
            except KeyError:  # drawn under a condition the defaults do not meet (e.g. a toggle hides it)
                cells.append(f"{key} not drawn with the defaults")
                continue
            if drawn.disabled:  # e.g. the Decoder grid's extent, for the linear grid only
                cells.append(f"{key} disabled")
                continue
            times = []
            try:
                for i in range(repeats):
                    control = _control(at, binding)
                    began = time.perf_counter()
                    control.set_value(values[i % len(values)]).run()
                    times.append(time.perf_counter() - began)
                    if at.exception:
                        raise RuntimeError(str(at.exception[0].value).splitlines()[0][:60])
            except Exception as err:  # gone (a toggle hid it), disabled, or the page failed at that value
                cells.append(f"{key} ({type(err).__name__}: {str(err)[:60]})")
                at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=PAGE_TIMEOUT_S)
                at.query_params["dataset"] = dataset
                at.run()
                at.switch_page(lesson.script).run()
                continue
            p95 = sorted(times)[max(0, math.ceil(0.95 * len(times)) - 1)]
            cells.append(f"{key} {statistics.median(times):.2f}/{p95:.2f}")
            if values[(repeats - 1) % len(values)] != binding.default:
                # back to its default, so the controls timed next are drawn as the page opens (a toggle left on
                # hid the Denoising page's image number: its cell read "KeyError")
                _control(at, binding).set_value(binding.default).run()
        lines.append(f"{slug:28} {first:12.2f}  {'; '.join(cells) or '-'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="pick this data set in the sidebar first")
    parser.add_argument("--repeats", type=int, default=40, help="reruns timed per slider")
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh `streamlit run` processes timed")
    parser.add_argument("--widgets", action="store_true", help="only the widget changes end to end in Chromium")
    parser.add_argument("--cold-only", action="store_true", help="only the cold starts")
    parser.add_argument(
        "--pages",
        default=None,
        metavar="DATASETS",
        help="only the page table (first open, each control's median and p95) on these data sets, e.g. mnist,digits;"
        " then the cold direct link to a lesson",
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="PAGES",
        help="with --pages: only these pages of the table, e.g. anomaly_detection,inference (LESSONS' keys)",
    )
    args = parser.parse_args()
    only = args.only.split(",") if args.only else None
    if only is not None and (unknown := [slug for slug in only if slug not in LESSONS]):
        parser.error(f"unknown page(s) {', '.join(unknown)}; choose from {', '.join(LESSONS)}")
    os.chdir(REPO_ROOT)
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.pages:
        for dataset in args.pages.split(","):
            print(f"-- pages on {dataset} (load average {os.getloadavg()[0]:.1f})", flush=True)
            for line in page_table(dataset, args.repeats, only):
                print(line, flush=True)
        if args.cold_starts > 0:  # --cold-starts 0: the table alone
            print("-- cold start, with the direct link to a lesson", flush=True)
            for line in cold_start(args.cold_starts):
                print(line, flush=True)
        print(f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
    if args.cold_only:
        for line in cold_start(args.cold_starts):
            print(line, flush=True)
        return
    print("-- widget changes end to end in a real browser (input event to the page settled)", flush=True)
    for line in browser_widget_figures(args.dataset, args.repeats):
        print(line, flush=True)
    if args.widgets:
        return
    print("-- slider reruns in a real browser (the headline: a slider change reruns only its fragment)", flush=True)
    for line in browser_slider_figures(args.dataset, args.repeats):
        print(line, flush=True)
    print("-- whole-script reruns (AppTest; what a widget outside the fragments costs)", flush=True)
    for line in slider_figures(args.dataset, args.repeats):
        print(line, flush=True)
    print("-- cold start", flush=True)
    for line in cold_start(args.cold_starts):
        print(line, flush=True)
    print(f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
