"""Projector mode on a lecture hall's screen: at 1280×720 with ?projector=1, on MNIST and on digits, in the dark
theme, every page's key figure lies wholly on the first screen, the sidebar is folded, no text is under 18 px and
no chart draws in a colour the dark paper swallows.

Issue #20 asks for the key figure's bottom on screen, not only its top. One server and one headless Chromium (dark
colour scheme) open every page of app.py's navigation in turn, without scrolling, and measure where each of the
page's key elements lies (KEY_ELEMENTS: the first match of each selector that is drawn, not one folded away). The
app runs as in a lecture: the shipped models, default settings, no models of the user's; MNIST from
$VAE_DATA_DIR (skipped without it) and the offline digits. The chart colours are read from each chart's plotly
JSON in the page (the figure's own `data`, as tests/app/test_figures_on_both_themes.py reads it in AppTest).
Screenshots of each page go to artifacts/projector_fold/ (gitignored), to look at when a page fails.
"""

from __future__ import annotations

import contextlib
import re

import pytest

from tests.app.test_figures_on_both_themes import unreadable
from tests.browser_marks import NEEDS_BROWSER
from tools.app_browser import (
    REPO_ROOT,
    chromium_page,
    exception_texts,
    nav_links,
    open_app,
    running_app,
    wait_for_idle,
)
from tools.screenshots import PROJECTOR_VIEWPORT, slug
from ui.figures.projector import PROJECTOR_FONT_PX
from ui.shell.lessons import LESSONS
from ui.shell.projector import PROJECTOR_KEY, STYLE
from ui.shell.url_state import DATASET_PARAM, MODEL_PARAM
from vae_core.engine.data import data_dir, is_available
from vae_core.engine.registry import CHECKPOINT_DIR_ENV, USER_CHECKPOINT_DIR_ENV

pytestmark = NEEDS_BROWSER

ARTIFACTS = REPO_ROOT / "artifacts" / "projector_fold"
MAIN = '[data-testid="stMain"]'
PLOT = '[data-testid="stPlotlyChart"]'
IMAGE = '[data-testid="stImage"]'
# page slug -> the CSS selectors of its key elements inside the main area (for each, the first match that is drawn
# counts): what a lecturer points at. Pages whose lesson is a figure name it; the home page's key element is the
# ELBO, the Train page's its form (its curves appear only once a job runs).
KEY_ELEMENTS: dict[str, tuple[str, ...]] = {
    "home": ('[data-testid="stMarkdownContainer"] .katex-display',),  # the ELBO
    "autoencoders": (PLOT,),  # the toy manifold with PCA's line and the AEs' curves
    "sparse_autoencoders": (PLOT,),  # the KL penalty against a unit's mean activation
    "denoising_autoencoders": (PLOT,),  # the DAE's vector field
    "contractive_autoencoders": ('[data-testid="stMetric"]',),  # ‖J‖² of the digit shown, plain AE against CAE
    "latent_space": (PLOT,),  # the latent scatter
    "decoder_grid": (PLOT,),  # the decoded grid
    # the strip from A to B (drawn in the browser) and the walk's path (A and B folded)
    "interpolation": ("canvas.vle-dr-img", "canvas.vle-lw-bg"),
    "beta_tradeoff": (PLOT,),  # the rate-distortion plane
    "disentanglement": (PLOT,),  # MIG and the FactorVAE score against reconstruction, per model
    "elbo_breakdown": ('[data-testid="stMetric"]',),  # the bound's terms for the image
    "inference": (IMAGE, PLOT),  # the image and its true posterior against q(z|x)
    "anomaly_detection": (PLOT,),  # the score histograms and the threshold
    "conditional_vae": (IMAGE,),  # one z decoded with every label
    "train": ('[data-testid="stForm"]',),  # the training form
}
DATASETS = ("mnist", "digits")
PAGE_RUN_MS = 180_000  # a page's first run loads its models and scores test sets, on a busy machine
KEY_WAIT_MS = 30_000  # for the key element to appear once the page's run has ended


def _listed_pages() -> list[str]:
    """Slugs of the pages the navigation lists, in order (the home page is the root)."""
    return list(LESSONS)


SCROLLED = """(main) => document.querySelector(main).scrollTop"""


def _first_drawn(page, selector: str) -> dict | None:
    """The bounding box of the first match of selector in the main area that is drawn (not folded away), or None.
    Through Playwright's locator, which also reaches into a component's shadow root (the walk's canvas)."""
    for element in page.locator(f"{MAIN} {selector}").all():
        box = element.bounding_box()
        if box is not None and box["width"] > 0 and box["height"] > 0:
            return box
    return None


# The smallest text drawn on the first screen of the main area (HTML and the charts' SVG), and what it says.
SMALLEST_TEXT = r"""([main, height]) => {
    const area = document.querySelector(main);
    let smallest = {px: 1000, text: ''};
    for (const e of area.querySelectorAll('*')) {
        const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
        if (!own || /^[\u200b\s]*$/.test(own)) continue;
        const box = e.getBoundingClientRect(), style = getComputedStyle(e);
        if (box.width === 0 || box.bottom <= 0 || box.top >= height || style.visibility === 'hidden') continue;
        if (e.closest('.modebar-container, [role="tooltip"], .hoverlayer')) continue;  // shown on hover only
        // an icon's ligature ("download") and a formula's sub- and superscripts (KaTeX sets them at 0.7 of the
        // formula) are not text to read at 18 px
        if (/Material/.test(style.fontFamily) || e.closest('.katex')) continue;
        const px = parseFloat(style.fontSize);
        if (px < smallest.px) smallest = {px, text: own.slice(0, 40)};
    }
    return smallest;
}"""

CHART_JSON = """(main) => [...document.querySelector(main).querySelectorAll('.js-plotly-plot')].map(
    gd => JSON.parse(JSON.stringify({data: gd.data || [], layout: {shapes: (gd.layout || {}).shapes || []}})))"""

SIDEBAR_WIDTH = """() => { const s = document.querySelector('[data-testid="stSidebar"]');
    return s ? s.getBoundingClientRect().width : 0; }"""


@pytest.fixture(scope="module")
def lecture_app(tmp_path_factory):
    """(url, playwright): one server for this file's tests, run as in a lecture: the shipped zoo, MNIST from
    $VAE_DATA_DIR (skipped without it), an empty folder of the user's models."""
    if not is_available("mnist"):
        pytest.skip(f"MNIST is not in {data_dir()} (set $VAE_DATA_DIR)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as env:
        env.delenv(CHECKPOINT_DIR_ENV, raising=False)
        env.setenv(USER_CHECKPOINT_DIR_ENV, str(tmp_path_factory.mktemp("user_checkpoints")))
        with running_app(log_path=ARTIFACTS / "streamlit.log") as url, sync_playwright() as playwright:
            yield url, playwright


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_pages_key_figure_is_wholly_on_the_first_dark_screen_in_projector_mode(lecture_app, dataset):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, playwright = lecture_app
    height = PROJECTOR_VIEWPORT["height"]
    assert set(KEY_ELEMENTS) == set(_listed_pages()), "KEY_ELEMENTS names the key elements of each listed page"
    off_screen, small_text, dark_traces, errors = {}, {}, {}, {}
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT, color_scheme="dark") as page:
        query = f"{PROJECTOR_KEY}=1&{DATASET_PARAM}={dataset}"
        open_app(page, f"{url}/?{query}")
        links = nav_links(page)
        assert [slug(href) for _title, href in links] == _listed_pages()
        for _title, href in links:
            name = slug(href)
            # by its link, as a slide opens it (the folded sidebar's menu cannot be clicked)
            open_app(page, f"{href}?{query}", timeout_ms=PAGE_RUN_MS)
            selectors = KEY_ELEMENTS[name]
            # plotly and images draw after the run has ended; one never drawn is reported below as not found
            with contextlib.suppress(PlaywrightTimeout):
                page.locator(f"{MAIN} {selectors[-1]}").first.wait_for(state="visible", timeout=KEY_WAIT_MS)
            wait_for_idle(page, settle_ms=500)
            page.screenshot(path=ARTIFACTS / f"{dataset}-{name}.png")
            assert page.evaluate(SIDEBAR_WIDTH) < 5, f"{name}: the sidebar is open in projector mode"
            assert page.evaluate(SCROLLED, MAIN) == 0, f"{name}: the main area was scrolled, the measure would lie"
            for selector in selectors:
                box = _first_drawn(page, selector)
                if box is None or box["y"] < 0 or box["y"] + box["height"] > height:
                    off_screen[f"{name} {selector}"] = box and (box["y"], box["y"] + box["height"])
            smallest = page.evaluate(SMALLEST_TEXT, [MAIN, height])
            if smallest["px"] < PROJECTOR_FONT_PX:
                small_text[name] = smallest
            for spec in page.evaluate(CHART_JSON, MAIN):
                if found := unreadable(spec):
                    dark_traces.setdefault(name, []).extend(found)
            if texts := exception_texts(page):
                errors[name] = texts
        # projector mode is still on after the tour: the pages were measured in it
        assert page.get_by_role("switch", name="Projector mode").is_checked()
    assert not errors, errors
    assert not off_screen, f"key element not wholly on the first 1280×720 screen (top, bottom in px): {off_screen}"
    assert not small_text, f"text under {PROJECTOR_FONT_PX} px on the first screen: {small_text}"
    assert not dark_traces, f"chart colours the dark (or light) paper swallows: {dark_traces}"


def _style_rules() -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for every selector of every rule in the projector's style sheet."""
    sheet = re.sub(r"/\*.*?\*/", "", STYLE.replace("<style>", "").replace("</style>", ""), flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", sheet):
        declared = dict(tuple(part.strip() for part in d.split(":", 1)) for d in body.split(";") if d.strip())
        rules += [(selector.strip(), declared) for selector in selectors.split(",")]
    return rules


def _value(value: str, rem_px: float) -> float | str:
    """A declared length ('1.35rem', '0') or a computed one ('21.6px') in pixels; any other value as it is
    ('normal', 'auto')."""
    for unit, factor in (("rem", rem_px), ("px", 1.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    try:
        return float(value)
    except ValueError:
        return value.strip()


def _takes(computed: list[str], declared: list[str], rem_px: float) -> bool:
    """Whether an element's computed values are the declared ones (lengths to half a pixel)."""
    for got, wanted in zip(computed, declared, strict=True):
        got_value, wanted_value = _value(got, rem_px), _value(wanted, rem_px)
        if isinstance(wanted_value, float):
            if not isinstance(got_value, float) or abs(got_value - wanted_value) > 0.5:
                return False
        elif got_value != wanted_value:
            return False
    return True


# Between them these pages hold all the style sheet aims at: a title, widget labels, captions, inputs (the Train
# form) and a slider with its end labels (the sparse AE's target ρ).
STYLE_CHECK_PAGES = ("train", "sparse_autoencoders")


def test_the_projector_style_sheet_reaches_streamlits_real_elements(lecture_app):
    """Each selector of STYLE matches elements in the DOM Streamlit renders, and one of them takes the declared
    values: a Streamlit upgrade that renames a data-testid or a class fails here instead of silently unstyling."""
    url, playwright = lecture_app
    rules = _style_rules()
    assert len(rules) >= 5, rules  # the parser found the sheet's rules
    computed: dict[str, list[list[str]]] = {selector: [] for selector, _ in rules}
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT) as page:
        for check_page in STYLE_CHECK_PAGES:
            open_app(page, f"{url}/{check_page}?{PROJECTOR_KEY}=1", timeout_ms=PAGE_RUN_MS)
            wait_for_idle(page, settle_ms=500)
            page.screenshot(path=ARTIFACTS / f"style_check_{check_page}.png")
            rem_px = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
            for selector, declared in rules:
                computed[selector] += page.evaluate(
                    """([selector, properties]) => [...document.querySelectorAll(selector)].map(element =>
                        properties.map(p => getComputedStyle(element).getPropertyValue(p)))""",
                    [selector, list(declared)],
                )
    unmatched = [selector for selector, found in computed.items() if not found]
    unstyled = {
        selector: {"declared": declared, "computed (first 3)": computed[selector][:3]}
        for selector, declared in rules
        if computed[selector] and not any(_takes(c, list(declared.values()), rem_px) for c in computed[selector])
    }
    assert not unmatched, f"selectors of the projector style that match nothing in Streamlit's DOM: {unmatched}"
    assert not unstyled, f"rules that match but do not take effect on any element: {unstyled}"


PIXEL_AT = """(canvas, [fx, fy]) => Array.from(canvas.getContext("2d").getImageData(
    Math.floor(fx * canvas.width), Math.floor(fy * canvas.height), 1, 1).data.slice(0, 3))"""
APP_BACKGROUND = """() => getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor"""


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


def _luminance(rgb) -> float:
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_latent_pad_and_the_drawing_canvas_paint_on_the_themes_paper(lecture_app, scheme):
    """With the browser's colour scheme, Streamlit's theme changes, and the two hand-painted canvases with it: the pad's
    plane and the ELBO page's drawing paper take the app's background, their ink (ticks, strokes) its text colour."""
    url, playwright = lecture_app
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT, color_scheme=scheme) as page:
        open_app(page, f"{url}/latent_space")
        background = _rgb(page.evaluate(APP_BACKGROUND))
        assert (_luminance(background) < 0.3) == (scheme == "dark"), f"the app's theme ignored {scheme}: {background}"
        plane = page.locator("canvas.vle-lp-bg").last
        plane.wait_for(timeout=KEY_WAIT_MS)
        page.wait_for_function(  # the pad paints once its decoder and codes have arrived
            "() => [...document.querySelectorAll('canvas.vle-lp-bg')].every(c => c.width > 0)", timeout=KEY_WAIT_MS
        )
        corner = plane.evaluate(PIXEL_AT, [0.995, 0.005])  # the top-right corner: paper, no grid line or label
        assert max(abs(a - b) for a, b in zip(corner, background, strict=True)) <= 8, (corner, background)

        open_app(page, f"{url}/elbo_breakdown")
        page.get_by_text("Draw", exact=True).click()
        canvas = page.locator("canvas.vle-canvas")
        canvas.wait_for(timeout=KEY_WAIT_MS)
        paper = canvas.evaluate(PIXEL_AT, [0.5, 0.5])
        assert max(abs(a - b) for a, b in zip(paper, background, strict=True)) <= 8, (paper, background)
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.5 * box["height"], steps=8)
        page.mouse.up()
        ink = canvas.evaluate(PIXEL_AT, [0.5, 0.5])
        text = _rgb(page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).color"))
        assert max(abs(a - b) for a, b in zip(ink, text, strict=True)) <= 8, (ink, text)
        # light ink on dark paper is a drawing too: the preprocessing finds the background and measures it
        page.get_by_text("How the image was prepared").first.wait_for(timeout=KEY_WAIT_MS)
        assert not exception_texts(page)


REPLAY_MODEL = "shipped/digits-vae-z2"  # a shipped model that carries its training replay
APP_HEADER_PX = 60  # Streamlit's header, over the top of the main area


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_training_replay_fits_the_projector_screen_and_plays_on_the_themes_paper(lecture_app, scheme):
    """The Train page's replay of a shipped model, in projector mode: scrolled to, all of it (scatter, grid, slider,
    label) is on one 1280×720 screen below the app's header; its plane takes the theme's paper; Play advances."""
    from playwright.sync_api import expect

    url, playwright = lecture_app
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT, color_scheme=scheme) as page:
        query = f"{PROJECTOR_KEY}=1&{DATASET_PARAM}=digits&{MODEL_PARAM}={REPLAY_MODEL}"
        open_app(page, f"{url}/train?{query}", timeout_ms=PAGE_RUN_MS)
        replay = page.locator(".vle-tr")
        replay.wait_for(timeout=KEY_WAIT_MS)
        expect(replay).to_have_attribute("data-painted", re.compile(r"^\d+$"), timeout=KEY_WAIT_MS)
        wait_for_idle(page, settle_ms=500)
        replay.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=ARTIFACTS / f"replay-{scheme}.png")
        box = replay.bounding_box()
        assert box is not None and box["height"] <= PROJECTOR_VIEWPORT["height"] - APP_HEADER_PX, box
        assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR_VIEWPORT["height"], box
        background = _rgb(page.evaluate(APP_BACKGROUND))
        corner = page.locator("canvas.vle-tr-bg").evaluate(PIXEL_AT, [0.002, 0.002])  # left of the axis: paper
        assert max(abs(a - b) for a, b in zip(corner, background, strict=True)) <= 8, (corner, background)
        start = int(replay.get_attribute("data-frame"))
        replay.get_by_role("button", name="Play").click()
        page.wait_for_timeout(600)
        assert int(replay.get_attribute("data-frame")) > start, "Play advances the frames"
        assert not exception_texts(page)
