"""Sliders that only change a view, in headless Chromium (issue #22): from a move of the β page's "Samples per β"
or Interpolation's "Steps in the strip" to the repainted rows (goal: <= 100 ms), per data set.

    python benchmarks/view_sliders.py                      # MNIST (where $VAE_DATA_DIR has it) and digits
    python benchmarks/view_sliders.py --datasets digits --repeats 40

Both sliders live in one browser component (ui/widgets/js/decoded_rows.js) that decodes with the MLP decoders it was
sent. Each move sets the slider to another value and dispatches its `input` event, as a drag does, then waits for
the paint (the approach of benchmarks/latent_pad.py's knobs). Printed per page and data set:

- move to painted: from the input event to the end of the paint on the next animation frame (decodes and
  canvases written), median, p95 and max;
- move to next frame: to the animation frame after the paint, by which the painted frame has been handed to the
  compositor (an upper bound on when it is on screen);
- to the most: the same for moves to the slider's largest value (the most decodes: every β model's 16 samples);
- sent: websocket frames the page sent meanwhile (the goal is 0: no rerun, no request);
- cold: decoding every image of the largest view afresh (what the first paint of new rows costs at most, before the
  rows have decoded the rest in idle tasks; a move then mostly repaints images decoded before), median of 5.

Needs /usr/bin/chromium and playwright. Uses checkpoints/ and $VAE_DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.latent_pad import DATASET_LABELS, choose, dataset_available, percentile  # noqa: E402
from tools.app_browser import (  # noqa: E402
    chromium_page,
    chromium_path,
    open_app,
    playwright_available,
    running_app,
    wait_for_idle,
)

GOAL_MS = 100.0
PAGES = (("beta_tradeoff", "Samples per β"), ("interpolation", "Steps in the strip"))
MOVE_JS = """(input, [id, value]) => new Promise((resolve) => {
    // one move of the slider: the input event a drag sends, then wait for the paint and the frame after it
    const stats = globalThis.__vle.stats[id];
    const before = stats.decodes;
    const t0 = performance.now();
    input.value = String(value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    const check = () => {
        if (stats.decodes === before) { requestAnimationFrame(check); return; }
        const painted = stats.frameTimes[stats.frameTimes.length - 1] - t0;
        requestAnimationFrame(() => resolve([painted, performance.now() - t0]));
    };
    requestAnimationFrame(check);
})"""


COLD_JS = """([fingerprints, n]) => {
    // every row's n images decoded afresh, with the decoders the rows use (one decode per image, as a cold paint)
    const t0 = performance.now();
    for (const fp of fingerprints) {  // one per row
        const dim = globalThis.__vle.nets.get(fp).latentDim;
        globalThis.__vle.decodeBatch(fp, Array.from({ length: n }, (_, k) => Array.from({ length: dim },
            (_, j) => Math.sin(7 * k + j))));
    }
    return performance.now() - t0;
}"""


def moves(low: int, high: int, repeats: int) -> list[int]:
    """Values to move to, each unlike the one before: strides of 5 through the range, then back to the top."""
    span = high - low + 1
    values = [low + (3 + 5 * k) % span for k in range(repeats)]
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def measure(page, label: str, repeats: int, sent: list) -> tuple[str, list[float]]:
    rows = page.locator(".vle-dr")
    rows.wait_for(timeout=180_000)
    wait_for_idle(page, timeout_ms=180_000)
    page.wait_for_function("el => Number(el.dataset.decodes) > 0", arg=rows.element_handle(), timeout=60_000)
    rows_id = rows.get_attribute("data-vle-id")
    slider = rows.get_by_role("slider", name=label)
    slider.scroll_into_view_if_needed()
    low, high = int(slider.get_attribute("min")), int(slider.get_attribute("max"))
    sent_before = len(sent)
    painted, framed, most = [], [], []
    for value in moves(low, high, repeats):
        done, frame = slider.evaluate(MOVE_JS, [rows_id, value])
        painted.append(done)
        framed.append(frame)
        # the slider's next value starts from this one: alternate with the top for the heaviest repaint
        _, top_frame = slider.evaluate(MOVE_JS, [rows_id, high])
        most.append(top_frame)
    sent_during = len(sent) - sent_before
    n_rows = rows.locator("canvas.vle-dr-img").count()
    row_decoders = rows.get_attribute("data-decoders").split()  # each row's decoder, in order
    cold = statistics.median(page.evaluate(COLD_JS, [row_decoders, high]) for _ in range(5))
    verdict = "meets" if percentile(framed + most, 95) <= GOAL_MS and sent_during == 0 else "MISSES"
    line = (
        f"{label:20s} {n_rows} row(s) · move to painted median {statistics.median(painted):5.1f} ms, "
        f"p95 {percentile(painted, 95):5.1f}, max {max(painted):5.1f} · move to next frame median "
        f"{statistics.median(framed):5.1f} ms, p95 {percentile(framed, 95):5.1f} · to the most ({high}) median "
        f"{statistics.median(most):5.1f} ms, p95 {percentile(most, 95):5.1f} · {len(painted) + len(most)} moves "
        f"({verdict} p95 <= {GOAL_MS:.0f} ms, 0 sent) · sent {sent_during} · cold {cold:5.1f} ms"
    )
    return line, framed + most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "digits"], help="data sets to measure on")
    parser.add_argument("--repeats", type=int, default=30, help="moves per slider (each followed by one to the top)")
    args = parser.parse_args()
    if chromium_path() is None or not playwright_available():
        print("skipped: needs /usr/bin/chromium and the playwright package")
        return
    from playwright.sync_api import sync_playwright

    datasets = [d for d in args.datasets if dataset_available(d)]
    for missing in sorted(set(args.datasets) - set(datasets)):
        print(f"skipping {missing}: not in {os.environ.get('VAE_DATA_DIR', './data')}")
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the start")
    sent: list = []
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        open_app(page, url, timeout_ms=180_000)
        for dataset in datasets:
            choose(page, 0, DATASET_LABELS[dataset])
            for slug, label in PAGES:
                page.locator('[data-testid="stSidebarNav"] a', has_text=slug_title(slug)).click()
                wait_for_idle(page, timeout_ms=180_000)
                line, _ = measure(page, label, args.repeats, sent)
                print(f"{dataset:7s} {line}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def slug_title(slug: str) -> str:
    from ui.shell.lessons import LESSONS

    return LESSONS[slug].title


if __name__ == "__main__":
    main()
