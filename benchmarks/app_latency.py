"""How fast the app answers on this machine: slider reruns (median, p95) and the cold start. Prints figures.

    python benchmarks/app_latency.py                      # the data set the sidebar opens with
    python benchmarks/app_latency.py --dataset digits --repeats 60 --cold-starts 3

Targets (docs of the issue): a slider rerun's median <= 50 ms; cold start <= 5 s.

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
  ui/shell/warmup.py, so this click may wait for it), and a cold start with a link straight to that lesson page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
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

INTERPOLATION_PAGE = "4_interpolation.py"
ELBO_PAGE = "6_elbo_breakdown.py"
TARGET_RERUN_MS = 50.0
TARGET_COLD_S = 5.0


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


def page_path(file_name: str) -> str:
    """The page's path relative to app.py (app.py decides the folder)."""
    found = sorted(REPO_ROOT.glob(f"*/{file_name}"))
    if not found:
        raise SystemExit(f"no page {file_name} next to app.py")
    return str(found[0].relative_to(REPO_ROOT))


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

    at.switch_page(page_path(INTERPOLATION_PAGE)).run()
    if at.exception:
        raise SystemExit(f"the interpolation page raised: {at.exception[0].value}")
    t_values = [round(0.05 * i, 2) for i in range(21)]
    timed_reruns(at, lambda: at.slider(key="interp_t"), t_values, 3)  # warm the decode caches' first entries
    lines.append(
        summary(
            "AppTest whole-script rerun: slider t",
            timed_reruns(at, lambda: at.slider(key="interp_t"), t_values, repeats),
            TARGET_RERUN_MS,
        )
    )
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

    at.switch_page(page_path(ELBO_PAGE)).run()
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
                        in_browser = page.locator(".vle-ls").count() > 0  # ui/widgets/latent_pad.py's client-side knobs
                        lines.append(
                            f"browser {name}: "
                            + (
                                "decoded in the browser, no rerun (timed by benchmarks/latent_pad.py)"
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


def cold_start(runs: int, lesson: str = "Decoder grid") -> list[str]:
    if chromium_path() is None or not playwright_available():
        return ["cold start: skipped (needs /usr/bin/chromium and the playwright package)"]
    from playwright.sync_api import sync_playwright

    healthy, rendered, lesson_drawn, deep_link = [], [], [], []
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
                open_page(page, href)
                lesson_drawn.append(time.perf_counter() - start)
            finally:
                stop_app(process)
            # A bookmark straight to the lesson page: nothing loads before it.
            port = free_port()
            start = time.perf_counter()
            process = start_app(port)
            try:
                wait_until_healthy(port, process, timeout_s=120)
                open_app(page, f"http://127.0.0.1:{port}{urlparse(href).path}", settle_ms=0)  # waits until idle
                deep_link.append(time.perf_counter() - start)
            finally:
                stop_app(process)
    return [
        summary("cold start: server answering", healthy),
        summary("cold start: first page rendered with a model", rendered, TARGET_COLD_S * 1000),
        summary(f"  then {lesson} clicked at once, drawn", lesson_drawn),
        summary(f"cold start: a link straight to {lesson}, drawn", deep_link),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="pick this data set in the sidebar first")
    parser.add_argument("--repeats", type=int, default=40, help="reruns timed per slider")
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh `streamlit run` processes timed")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
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
