"""Projector mode above the fold: at 1280×720 with ?projector=1, every page's key figure starts on the first screen.

Issue #11 asks that projector mode "fits each page's key figure above the fold at 1280×720". One server and one
headless Chromium open every page of app.py's navigation in turn, without scrolling, and measure where the page's
key element lies (KEY_ELEMENTS). The app runs as in a lecture: the shipped models on MNIST (from $VAE_DATA_DIR),
default settings, no models of the user's; the layout (warnings, binarisation previews, test-set sizes) depends on
the data set, so without MNIST the test is skipped rather than run on another one. Screenshots of each page go to
artifacts/projector_fold/ (gitignored), to look at when a page fails.
"""

from __future__ import annotations

import contextlib
import re

import pytest

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
from tools.screenshots import PROJECTOR_VIEWPORT, open_page, slug
from ui.shell.lessons import LESSONS
from ui.shell.projector import PROJECTOR_KEY, STYLE
from vae_core.engine.data import data_dir, is_available
from vae_core.engine.registry import CHECKPOINT_DIR_ENV, USER_CHECKPOINT_DIR_ENV

pytestmark = NEEDS_BROWSER

ARTIFACTS = REPO_ROOT / "artifacts" / "projector_fold"
MAIN = '[data-testid="stMain"]'
# page slug -> the CSS selector of its key element inside the main area (the first match counts): what a lecturer
# points at. Pages whose lesson is a figure name it; the home page's key element is the ELBO, the Train page's
# its form (its curves appear only once a job runs).
KEY_ELEMENTS = {
    "home": '[data-testid="stMarkdownContainer"] .katex-display',  # the ELBO
    "autoencoders": '[data-testid="stPlotlyChart"]',  # the toy manifold with PCA's line and the AEs' curves
    "sparse_autoencoders": '[data-testid="stPlotlyChart"]',  # the KL penalty against a unit's mean activation
    "denoising_autoencoders": '[data-testid="stPlotlyChart"]',  # the DAE's vector field
    "contractive_autoencoders": '[data-testid="stMetric"]',  # ‖J‖² of the digit shown, plain AE against CAE
    "latent_space": '[data-testid="stPlotlyChart"]',  # the latent scatter
    "decoder_grid": '[data-testid="stPlotlyChart"]',  # the decoded grid
    "interpolation": '[data-testid="stImage"]',  # the endpoints A and B the path runs between
    "beta_tradeoff": '[data-testid="stPlotlyChart"]',  # the rate-distortion plane
    "elbo_breakdown": '[data-testid="stImage"]',  # the image whose bound is broken down
    "inference": '[data-testid="stPlotlyChart"]',  # the true posterior against q(z|x)
    "anomaly_detection": '[data-testid="stPlotlyChart"]',  # the score histograms and the threshold
    "conditional_vae": '[data-testid="stImage"]',  # one z decoded with every label
    "train": '[data-testid="stForm"]',  # the training form
}
PAGE_RUN_MS = 180_000  # a page's first run trains the toy autoencoders and scores test sets, on a busy machine
KEY_WAIT_MS = 30_000  # for the key element to appear once the page's run has ended
MIN_VISIBLE_PX = 100  # of the key element inside the first screen: a chart's title bar alone is not a figure


def _listed_pages() -> list[str]:
    """Slugs of the pages the navigation lists, in order (the home page is the root)."""
    return list(LESSONS)


def _placement(page, selector: str) -> dict:
    """Where the key element lies in the viewport, and how far the main area has been scrolled."""
    return page.evaluate(
        """([main, selector]) => {
        const area = document.querySelector(main);
        const element = area && area.querySelector(selector);
        const box = element && element.getBoundingClientRect();
        return {found: !!element, top: box ? box.top : null, bottom: box ? box.bottom : null,
                width: box ? box.width : 0, scrolled: area ? area.scrollTop : null};
    }""",
        [MAIN, selector],
    )


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


def test_every_pages_key_figure_starts_above_the_fold_in_projector_mode(lecture_app):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, playwright = lecture_app
    assert set(KEY_ELEMENTS) == set(_listed_pages()), "KEY_ELEMENTS names one key element for each listed page"
    placements, below = {}, {}
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT) as page:
        open_app(page, f"{url}/?{PROJECTOR_KEY}=1")
        links = nav_links(page)
        assert [slug(href) for _title, href in links] == _listed_pages()
        for _title, href in links:
            name = slug(href)
            open_page(page, href, timeout_ms=PAGE_RUN_MS)
            # plotly and images draw after the run has ended; one never drawn is reported below as not found
            with contextlib.suppress(PlaywrightTimeout):
                page.locator(f"{MAIN} {KEY_ELEMENTS[name]}").first.wait_for(state="visible", timeout=KEY_WAIT_MS)
            wait_for_idle(page, settle_ms=500)
            page.screenshot(path=ARTIFACTS / f"{name}.png")
            where = placements[name] = _placement(page, KEY_ELEMENTS[name])
            assert where["scrolled"] == 0, f"{name}: the main area was scrolled, the measure would lie"
            if not where["found"]:
                below[name] = where
                continue
            visible_px = min(where["bottom"], PROJECTOR_VIEWPORT["height"]) - max(where["top"], 0)
            enough_px = min(MIN_VISIBLE_PX, where["bottom"] - where["top"])  # a short element shows whole
            if not (where["top"] >= 0 and where["width"] > 0 and visible_px >= enough_px):
                below[name] = where
        # projector mode is still on after the tour: the pages were measured in it
        assert page.get_by_role("switch", name="Projector mode").is_checked()
    print({name: where["top"] and round(where["top"]) for name, where in placements.items()})  # shown with -s
    assert not below, f"key element not on the first 1280×720 screen (top, bottom in px): {below}"


def _style_rules() -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for every selector of every rule in the projector's style sheet."""
    sheet = re.sub(r"/\*.*?\*/", "", STYLE.replace("<style>", "").replace("</style>", ""), flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", sheet):
        declared = dict(tuple(part.strip() for part in d.split(":", 1)) for d in body.split(";") if d.strip())
        rules += [(selector.strip(), declared) for selector in selectors.split(",")]
    return rules


def _px(value: str, rem_px: float) -> float:
    """A declared length ('1.35rem', '0') or a computed one ('21.6px') in pixels."""
    for unit, factor in (("rem", rem_px), ("px", 1.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value)


# On the Train page the main area holds all the style sheet aims at: a title, widget labels, Markdown (its caption).
STYLE_CHECK_PAGE = "train"


def test_the_projector_style_sheet_reaches_streamlits_real_elements(lecture_app):
    """Each selector of STYLE matches elements in the DOM Streamlit renders, and one of them takes the declared
    value: a Streamlit upgrade that renames a data-testid or a class fails here instead of silently unstyling."""
    url, playwright = lecture_app
    rules = _style_rules()
    assert len(rules) >= 5, rules  # the parser found the sheet's rules
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT) as page:
        open_app(page, f"{url}/{STYLE_CHECK_PAGE}?{PROJECTOR_KEY}=1")
        switch = page.get_by_role("switch", name="Projector mode")
        page.wait_for_function("(s) => s.checked", arg=switch.element_handle(), timeout=KEY_WAIT_MS)
        wait_for_idle(page, settle_ms=500)
        page.screenshot(path=ARTIFACTS / "style_check.png")
        rem_px = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        unmatched, unstyled = [], {}
        for selector, declared in rules:
            computed = page.evaluate(
                """([selector, properties]) => [...document.querySelectorAll(selector)].map(element =>
                    properties.map(p => getComputedStyle(element).getPropertyValue(p)))""",
                [selector, list(declared)],
            )
            if not computed:
                unmatched.append(selector)
                continue
            wanted = [_px(value, rem_px) for value in declared.values()]
            if not any([_px(v, rem_px) for v in values] == pytest.approx(wanted, abs=0.5) for values in computed):
                unstyled[selector] = {"declared": declared, "computed (first 3)": computed[:3]}
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
