"""The training replay's frame rate in headless Chromium: frames drawn per second while it plays at full speed.

    python benchmarks/replay_fps.py                      # a synthetic 60-frame, 1,000-point replay, and every
                                                         # shipped checkpoint that carries a replay
    python benchmarks/replay_fps.py --seconds 10 --no-shipped

The component (ui/widgets/training_replay.py and its script) runs on a page of its own (tools/replay_harness.py,
no Streamlit server) with the play rate set to every animation frame (`fps` 0, the component's test hook), and
Play is pressed again whenever the run reaches its end, for --seconds. Each drawn frame repaints the 1,000 codes,
the prior's circles and the decoder's grid. Printed per replay:

- frames/s: frames drawn while playing / the time played (the goal is >= 30; a browser's animation frames
  come at 60 Hz, the ceiling);
- frame interval: between successive drawn frames, median and p95 (16.7 ms at 60 Hz);
- paint: the time one frame's drawing takes, median and p95 (what is left of a frame for everything else);
- payload: the replay's size as sent to the browser, once per session.

Needs /usr/bin/chromium and playwright. The load average is printed with the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.app_browser import chromium_page, chromium_path, playwright_available  # noqa: E402

GOAL_FPS = 30.0
REPLAY_FRAMES = 60
REPLAY_POINTS = 1000
STATS_JS = """id => JSON.stringify(globalThis.__vle.stats[id] || null)"""
# Play, and Play again the moment a run reaches its end (a click in the page: no round trip through Playwright);
# false pauses and stops the loop.
LOOP_JS = """(on) => {
    const wrap = document.querySelector('.vle-tr'), button = wrap.querySelector('button.vle-tr-play');
    if (!on) { globalThis.__vleLoop?.disconnect(); if (wrap.dataset.playing === 'true') button.click(); return; }
    globalThis.__vleLoop = new MutationObserver(() => { if (wrap.dataset.playing !== 'true') button.click(); });
    globalThis.__vleLoop.observe(wrap, { attributes: true, attributeFilter: ['data-playing'] });
    button.click();
}"""


def shipped_replays() -> list[tuple[str, object]]:
    """(name, TrainingReplay) of every shipped checkpoint that carries a replay."""
    from vae_core.engine import checkpoints
    from vae_core.engine.checkpoint_info import list_checkpoints

    load_replay = getattr(checkpoints, "load_replay", None)
    if load_replay is None:  # an engine without replays in its checkpoints
        return []
    found = []
    for info in sorted(list_checkpoints(REPO_ROOT / "checkpoints").infos, key=lambda i: i.name):
        replay = load_replay(info.path)
        if replay is not None:
            found.append((info.name, replay))
    return found


def measure(page, name: str, replay, seconds: float) -> dict[str, float]:
    from tools.replay_harness import open_replay
    from ui.widgets.training_replay import replay_data
    from vae_core.serving.decoder_export import payload_bytes
    from vae_core.serving.replay_payload import replay_payload

    payload = replay_payload(replay)
    data = replay_data(name, payload, {payload["fingerprint"]: payload}, class_names=[str(c) for c in range(10)], fps=0)
    open_replay(page, data)
    page.wait_for_timeout(300)  # the grids' PNGs decode
    before = json.loads(page.evaluate(STATS_JS, name))["decodes"]
    t0 = time.perf_counter()
    page.evaluate(LOOP_JS, True)
    page.wait_for_timeout(seconds * 1000)
    page.evaluate(LOOP_JS, False)
    elapsed = time.perf_counter() - t0
    stats = json.loads(page.evaluate(STATS_JS, name))
    drawn = stats["decodes"] - before
    times = stats["frameTimes"][-drawn:]
    intervals = sorted(b - a for a, b in itertools.pairwise(times) if b - a < 200)  # not the restarts
    paints = sorted(stats["decodeMs"][-drawn:])
    return {
        "frames": len(replay.frames),
        "points": len(replay.labels),
        "fps": drawn / elapsed,
        "interval_median": statistics.median(intervals),
        "interval_p95": intervals[int(0.95 * (len(intervals) - 1))],
        "paint_median": statistics.median(paints),
        "paint_p95": paints[int(0.95 * (len(paints) - 1))],
        "payload_kb": payload_bytes(payload) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time played per replay")
    parser.add_argument("--no-shipped", action="store_true", help="only the synthetic replay")
    args = parser.parse_args()
    if chromium_path() is None or not playwright_available():
        raise SystemExit("needs /usr/bin/chromium and the playwright package")
    from playwright.sync_api import sync_playwright

    from tools.synthetic_replay import synthetic_replay

    replays = [(f"synthetic-{REPLAY_FRAMES}x{REPLAY_POINTS}", synthetic_replay(REPLAY_FRAMES, REPLAY_POINTS))]
    if not args.no_shipped:
        replays += shipped_replays()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    header = f"{'replay':<32} {'frames':>6} {'points':>6} {'frames/s':>9} {'interval ms':>14} {'paint ms':>12}"
    print(f"{header} {'payload':>9}")
    with sync_playwright() as playwright, chromium_page(playwright) as page:
        for name, replay in replays:
            r = measure(page, name, replay, args.seconds)
            verdict = "ok" if r["fps"] >= GOAL_FPS else f"below the goal of {GOAL_FPS:g}"
            print(
                f"{name:<32} {r['frames']:>6} {r['points']:>6} {r['fps']:>9.1f} "
                f"{r['interval_median']:>6.1f} / {r['interval_p95']:>5.1f} "
                f"{r['paint_median']:>5.2f} / {r['paint_p95']:>4.2f} {r['payload_kb']:>6.0f} kB  {verdict}"
            )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("interval and paint: median / p95 over the frames drawn while playing")


if __name__ == "__main__":
    main()
