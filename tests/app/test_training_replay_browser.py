"""The training replay in headless Chromium: it draws the codes, the slider and Play move through the frames, and
none of it sends anything to the server.

The component runs on a page of its own (tools/replay_harness.py: its real HTML, CSS and script, with the data the
app sends); the pages that show it are checked in test_training_replay_pages.py.
"""

from __future__ import annotations

import pytest

from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import chromium_page
from tools.replay_harness import open_replay, rerun
from tools.screenshots import PROJECTOR_VIEWPORT
from tools.synthetic_replay import synthetic_replay
from ui.figures.colours import THEME_PAPERS
from ui.figures.latent import CLASS_COLOURS
from ui.widgets.training_replay import replay_data
from vae_core.serving.replay_payload import replay_payload

pytestmark = NEEDS_BROWSER

CLASS_NAMES = [str(c) for c in range(10)]
APP_HEADER_PX = 60  # Streamlit's header above the main area
TRIGGERS = "() => globalThis.__vleReplayTriggers"
# (x, y, r, g, b, a) of every painted pixel of a canvas (CSS-pixel scale 1 in these pages)
PAINTED = """canvas => { const c = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const out = []; for (let i = 0; i < c.length; i += 4) if (c[i + 3] > 0)
        out.push([(i / 4) % canvas.width, Math.floor(i / 4 / canvas.width), c[i], c[i + 1], c[i + 2], c[i + 3]]);
    return out; }"""
PIXEL = """(canvas, [x, y]) => Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data)"""


def data_for(replay, *, sent: bool = True, **options):
    payload = replay_payload(replay)
    return replay_data(
        "replay", payload, {payload["fingerprint"]: payload if sent else None}, class_names=CLASS_NAMES, **options
    )


def label(page) -> str:
    return page.locator(".vle-tr-label").inner_text()


def expected_label(replay, k: int) -> str:
    frame = replay.frames[k]
    return f"step {frame.step:,} · epoch {frame.epoch:.1f} (frame {k + 1} of {len(replay.frames)})"


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser_page(playwright):
    with chromium_page(playwright) as page:
        yield page


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_replay_draws_every_class_and_the_slider_moves_through_the_frames(browser_page):
    page = browser_page
    replay = synthetic_replay(n_frames=30, n_images=1000)
    open_replay(page, data_for(replay))
    assert label(page) == expected_label(replay, 0), "a saved run opens at its first frame"
    painted = page.locator("canvas.vle-tr-fg").evaluate(PAINTED)
    assert len(painted) > 500, "the codes are drawn"
    # The dots keep their class colours (drawn at 0.75 over the paper): each class's colour is on the canvas.
    paper = THEME_PAPERS["light"]
    for colour in CLASS_COLOURS:
        rgb = _hex(colour)
        shown = tuple(round(0.75 * c + 0.25 * p) for c, p in zip(rgb, paper, strict=True))
        assert any(max(abs(a - b) for a, b in zip(px[2:5], rgb, strict=True)) <= 3 for px in painted) or any(
            max(abs(a - b) for a, b in zip(px[2:5], shown, strict=True)) <= 3 for px in painted
        ), f"no dot of {colour}"
    before = page.locator("canvas.vle-tr-fg").evaluate("c => c.toDataURL()")
    grid_before = page.locator("canvas.vle-tr-grid").evaluate("c => c.toDataURL()")

    slider = page.get_by_label("Frame")
    slider.focus()
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(200)
    assert label(page) == expected_label(replay, 12)
    assert page.locator("canvas.vle-tr-fg").evaluate("c => c.toDataURL()") != before, "the codes moved"
    assert page.locator("canvas.vle-tr-grid").evaluate("c => c.toDataURL()") != grid_before, "the grid changed"
    page.keyboard.press("End")
    page.wait_for_timeout(100)
    assert label(page) == expected_label(replay, 29)
    assert page.evaluate(TRIGGERS) == [], "moving the slider sends nothing to the server"


def test_play_runs_once_to_the_end_at_about_ten_frames_a_second(browser_page):
    page = browser_page
    replay = synthetic_replay(n_frames=12, n_images=200)
    open_replay(page, data_for(replay))
    button = page.locator("button.vle-tr-play")
    button.click()
    assert button.inner_text() == "Pause"
    page.wait_for_timeout(450)
    moved = int(page.locator(".vle-tr").get_attribute("data-frame"))
    assert 1 <= moved <= 11, f"after 0.45 s at 10 frames/s the replay is past the start, not at its end: {moved}"
    page.wait_for_function("() => document.querySelector('.vle-tr').dataset.playing === 'false'", timeout=5_000)
    assert label(page) == expected_label(replay, 11) and button.inner_text() == "Play", "it stops at the end"
    button.click()  # at the end, Play starts again from the first frame
    page.wait_for_timeout(50)
    assert int(page.locator(".vle-tr").get_attribute("data-frame")) <= 2
    button.click()  # Pause
    paused_at = label(page)
    page.wait_for_timeout(300)
    assert label(page) == paused_at and button.inner_text() == "Play"
    assert page.evaluate(TRIGGERS) == [], "playing sends nothing to the server"


def test_a_live_run_follows_its_newest_frame_unless_the_slider_was_moved_back(browser_page):
    page = browser_page
    open_replay(page, data_for(synthetic_replay(n_frames=4, n_images=100), live=True))
    assert label(page) == expected_label(synthetic_replay(n_frames=4, n_images=100), 3), "live: the newest frame"
    longer = synthetic_replay(n_frames=6, n_images=100)
    rerun(page, data_for(longer, live=True))
    page.wait_for_timeout(100)
    assert label(page) == expected_label(longer, 5)
    page.get_by_label("Frame").focus()
    page.keyboard.press("Home")
    rerun(page, data_for(synthetic_replay(n_frames=8, n_images=100), live=True))
    page.wait_for_timeout(100)
    assert label(page).endswith("(frame 1 of 8)"), "moved back: it stays where the student put it"


def test_a_replay_the_browser_lacks_is_asked_for_once(browser_page):
    page = browser_page
    open_replay(page, data_for(synthetic_replay(n_frames=3, n_images=50)))
    other = data_for(synthetic_replay(n_frames=3, n_images=50, seed=7), sent=False)  # Python thinks it was sent
    rerun(page, other)
    assert page.evaluate(TRIGGERS) == [["missing", [other["replay"]]]]
    assert page.locator(".vle-tr-status").inner_text() == "Loading the replay…"
    rerun(page, data_for(synthetic_replay(n_frames=3, n_images=50, seed=7)))  # the run that trigger starts
    page.wait_for_timeout(100)
    assert page.locator(".vle-tr-status").inner_text() == ""
    assert page.locator(".vle-tr").get_attribute("data-fingerprint") == other["replay"]


def test_a_first_run_without_the_replay_asks_for_it_and_draws_when_it_comes(playwright):
    with chromium_page(playwright) as page:  # a fresh page: nothing on globalThis
        replay = synthetic_replay(n_frames=5, n_images=80)
        lacking = data_for(replay, sent=False)
        open_replay(page, lacking, wait=False)
        assert page.evaluate(TRIGGERS) == [["missing", [lacking["replay"]]]]
        rerun(page, data_for(replay))
        page.wait_for_function("() => document.querySelector('.vle-tr').dataset.painted !== undefined", timeout=5_000)
        assert label(page) == expected_label(replay, 0)
        assert len(page.locator("canvas.vle-tr-fg").evaluate(PAINTED)) > 50


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_in_projector_mode_the_replay_fits_the_screen_on_the_themes_paper(playwright, theme):
    replay = synthetic_replay(n_frames=10, n_images=300)
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT, color_scheme=theme) as page:
        open_replay(page, data_for(replay, large=True), theme)
        box = page.locator(".vle-tr").bounding_box()
        assert box["height"] <= PROJECTOR_VIEWPORT["height"] - APP_HEADER_PX, box
        assert box["width"] <= PROJECTOR_VIEWPORT["width"], box
        assert float(page.locator(".vle-tr-label").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 18
        corner = page.locator("canvas.vle-tr-bg").evaluate(PIXEL, [3, 3])  # outside the plot area: paper
        assert max(abs(a - b) for a, b in zip(corner[:3], THEME_PAPERS[theme], strict=True)) <= 2, corner
