"""The training replay's browser component on a page of its own, without a Streamlit server.

The component's real HTML, CSS and script (ui/widgets/training_replay.py) on a blank page, driven as Streamlit's
components v2 drive it: its default export called with {parentElement, data, setTriggerValue}, where data is
`replay_data`'s, the one the app sends. The browser test (tests/app/test_training_replay_browser.py) and the
benchmark (benchmarks/replay_fps.py) use it; the app itself is checked in tests/app.

A theme's paper and ink are Streamlit's (light: white and near-black; dark: #0E1117 and near-white).
"""

from __future__ import annotations

from typing import Any

from ui.figures.colours import THEME_PAPERS
from ui.widgets.training_replay import CSS, HTML, component_js

THEME_INK = {"light": (49, 51, 63), "dark": (250, 250, 250)}  # Streamlit's textColor of each theme
HOST_PX = 900  # the column the component is drawn in, CSS pixels

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
#host {{ --st-font: sans-serif; --st-text-color: rgb{ink}; --st-background-color: rgb{paper};
  --st-border-color: rgba(128, 128, 128, .4); --st-button-radius: 6px; --st-secondary-background-color: rgba(128,
  128, 128, .15); --st-primary-color: #ff4b4b; width: {width}px; padding: 8px; }}
body {{ margin: 0; background: rgb{paper}; }}
{css}
</style></head><body><div id="host">{html}</div></body></html>"""

START = """([source, data]) => {
    // the module's `export default function` as a global, so a plain script can run it
    new Function(source.replace("export default function", "globalThis.__vleReplayStart = function"))();
    globalThis.__vleReplayTriggers = [];
    const host = document.getElementById("host");
    const setTriggerValue = (name, value) => globalThis.__vleReplayTriggers.push([name, value]);
    globalThis.__vleReplayRun = (d) => globalThis.__vleReplayStart({ parentElement: host, data: d, setTriggerValue });
    globalThis.__vleReplayRun(data);
}"""


def open_replay(page, data: dict[str, Any], theme: str = "light", wait: bool = True) -> None:
    """Put the component on page (a Playwright page) with data (replay_data's) and, with wait, wait for its first
    frame."""
    page.set_content(PAGE.format(ink=THEME_INK[theme], paper=THEME_PAPERS[theme], width=HOST_PX, css=CSS, html=HTML))
    page.evaluate(START, [component_js(), data])
    if wait:
        page.wait_for_function("() => document.querySelector('.vle-tr')?.dataset.painted !== undefined", timeout=10_000)


def rerun(page, data: dict[str, Any]) -> None:
    """A later run of the component (Streamlit sends new data): data as replay_data gives it."""
    page.evaluate("(d) => globalThis.__vleReplayRun(d)", data)
