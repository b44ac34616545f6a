"""A tour of every page in a real browser; with --out (or $SCREENSHOTS) it saves small README screenshots.

    python -m tools.screenshots --out docs/screenshots     # the shipped models in checkpoints/ only
    python -m tools.screenshots --projector                # projector mode's first 1280x720 screen of a few pages

tests/app/test_browser.py runs the same tour on the test zoo and checks every page on the way.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .app_browser import (
    MAIN_TITLE,
    REPO_ROOT,
    capture,
    chromium_page,
    chromium_path,
    exception_texts,
    nav_links,
    open_app,
    running_app,
    small_png,
    wait_for_idle,
)

SCREENSHOTS_ENV = "SCREENSHOTS"
MAIN = '[data-testid="stMain"]'
ELBO_TITLE = "ELBO breakdown"


@dataclass
class TourReport:
    pages: list[str] = field(default_factory=list)  # slugs visited, in order
    exceptions: dict[str, list[str]] = field(default_factory=dict)  # slug -> exception texts seen there
    elbo: dict[str, str] = field(default_factory=dict)  # what the ELBO page showed at each interaction
    seconds: dict[str, float] = field(default_factory=dict)  # slug -> time from the click to the settled page


def slug(href: str) -> str:
    """'http://host:port/latent_space' -> 'latent_space'; the root page is 'home'."""
    path = href.split("://", 1)[-1].split("/", 1)[1] if "/" in href.split("://", 1)[-1] else ""
    return path.strip("/").split("?")[0] or "home"


def digit_png() -> bytes:
    """A dark '9' on white paper, as a phone photo of a drawing would be (for the upload step)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 300), (245, 245, 240))
    pen = ImageDraw.Draw(image)
    pen.ellipse((95, 45, 195, 145), outline=(20, 20, 30), width=22)
    pen.line((186, 95, 160, 260), fill=(20, 20, 30), width=22)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def metric_text(page, label: str) -> str:
    """The value shown by the st.metric whose label starts with label ('' when there is none)."""
    for box in page.locator('[data-testid="stMetric"]').all():
        if box.locator('[data-testid="stMetricLabel"]').inner_text().strip().startswith(label):
            return box.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return ""


def draw_stroke(page) -> None:
    """Draw a '9' on the canvas with the mouse: a loop, then a tail."""
    canvas = page.locator("canvas.vle-canvas")
    canvas.wait_for(timeout=15_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0, w = box["x"], box["y"], box["width"]
    at = lambda fx, fy: (x0 + fx * w, y0 + fy * w)  # fractions of the canvas
    page.mouse.move(*at(0.68, 0.33))
    page.mouse.down()
    for step in range(33):
        angle = 2 * math.pi * step / 32
        page.mouse.move(*at(0.5 + 0.18 * math.cos(angle), 0.33 + 0.15 * math.sin(angle)))
    page.mouse.move(*at(0.6, 0.88), steps=12)
    page.mouse.up()


def open_page(page, href: str, timeout_ms: int = 60_000) -> None:
    """Click the page's link in the sidebar navigation and wait (up to timeout_ms) until that page has run."""
    before = page.locator(MAIN).first.inner_text() if page.locator(MAIN).count() else ""
    # The address carries the view's settings (?dataset=…&model=…, ui/shell/url_state.py): compare paths only.
    here = urlsplit(page.url).path.rstrip("/") == urlsplit(href).path.rstrip("/")
    page.locator(f'[data-testid="stSidebarNav"] a[href="{href}"]').click()
    if not here:
        # The old page's elements stay until the new run replaces them: wait for the main area's text to change
        # (not only the title: the autoencoder family's four pages share theirs), with a title drawn.
        page.wait_for_function(
            """([main, title, before]) => {
            const area = document.querySelector(main);
            return area !== null && document.querySelector(title) !== null && area.innerText !== before; }""",
            arg=[MAIN, MAIN_TITLE, before],
            polling=100,
            timeout=timeout_ms,
        )
    wait_for_idle(page, timeout_ms=timeout_ms)


def tour(page, url: str, on_page: Callable[[str, object], None]) -> TourReport:
    """Open every page from the sidebar navigation; on the ELBO page upload a digit, draw one, move β.

    on_page(slug, page) is called after each page (and each ELBO step, as 'elbo_breakdown-<step>') has
    rendered: the place to check for exceptions and take screenshots.
    """
    report = TourReport()
    clock = [time.perf_counter()]

    def settled(name: str) -> None:
        wait_for_idle(page)
        report.seconds[name] = time.perf_counter() - clock[0]
        report.pages.append(name)
        report.exceptions[name] = exception_texts(page)
        on_page(name, page)
        clock[0] = time.perf_counter()

    open_app(page, url)
    links = nav_links(page)
    for _title, href in links:
        open_page(page, href)
        settled(slug(href))
    elbo = next((href for title, href in links if title.endswith(ELBO_TITLE)), None)
    if elbo is None:
        return report
    open_page(page, elbo)

    page.get_by_text("Upload a picture", exact=True).click()
    page.locator('[data-testid="stFileUploader"]').wait_for(timeout=30_000)
    wait_for_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        files=[{"name": "nine.png", "mimeType": "image/png", "buffer": digit_png()}]
    )
    page.get_by_text("How the image was prepared").first.wait_for(timeout=30_000)
    settled("elbo_breakdown-upload")
    report.elbo["upload"] = metric_text(page, "−ELBO")

    page.get_by_text("Draw", exact=True).click()
    page.locator("canvas.vle-canvas").wait_for(timeout=30_000)
    wait_for_idle(page)
    report.elbo["before_drawing"] = metric_text(page, "−ELBO")
    draw_stroke(page)
    page.get_by_text("How the image was prepared").first.wait_for(timeout=30_000)
    settled("elbo_breakdown-draw")
    report.elbo["drawn"] = metric_text(page, "−ELBO")

    report.elbo["beta_kl_before"] = metric_text(page, "β·KL")
    beta = page.get_by_role("slider").last  # the β slider closes the page
    beta.scroll_into_view_if_needed()
    beta.focus()
    page.keyboard.press("ArrowRight")  # β 1 -> 2
    page.wait_for_function(
        """([before]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
             .some(m => m.innerText.startsWith('β·KL') && !m.innerText.includes(before))""",
        arg=[report.elbo["beta_kl_before"]],
        timeout=30_000,
    )
    settled("elbo_breakdown-beta")
    report.elbo["beta_kl_after"] = metric_text(page, "β·KL")

    page.locator("button.vle-clear").click()  # Clear wipes the canvas and the page forgets the drawing
    page.get_by_text("draw one to see its ELBO").first.wait_for(timeout=30_000)
    settled("elbo_breakdown-cleared")
    report.elbo["after_clear"] = metric_text(page, "−ELBO")
    return report


# tour step -> README file name: each page as it opens; the ELBO page once a digit has been drawn
README_SHOTS = {
    "home": "home",
    "autoencoders": "autoencoders",
    "inference": "inference",
    "anomaly_detection": "anomaly_detection",
    "conditional_vae": "conditional_vae",
    "latent_space": "latent_space",
    "decoder_grid": "decoder_grid",
    "interpolation": "interpolation",
    "beta_tradeoff": "beta_tradeoff",
    "train": "train",
    "elbo_breakdown-draw": "elbo_breakdown",
}
README_MAX_HEIGHT = 1500  # px: the top of a long page is what a README reader looks at
README_MAX_HEIGHTS = {"elbo_breakdown": 2600}  # down to the terms and the posterior plot


def save_readme_shot(folder: Path, name: str, page) -> Path:
    """A small, optimised PNG of the page (1100 px wide, at most README_MAX_HEIGHT tall)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(small_png(capture(page, README_MAX_HEIGHTS.get(name, README_MAX_HEIGHT))))
    return path


PROJECTOR_VIEWPORT = {"width": 1280, "height": 720}  # a lecture hall's projector (issue #11)
# page slug -> README file name: the first screen of these pages in projector mode, as a class sees it
PROJECTOR_SHOTS = {
    "latent_space": "projector_latent_space",
    "decoder_grid": "projector_decoder_grid",
    "beta_tradeoff": "projector_beta_tradeoff",
    "conditional_vae": "projector_conditional_vae",
}
PROJECTOR_SETTLE_MS = 1500  # plotly and the images draw after the run has ended


def projector_shots(playwright, url: str, folder: Path) -> list[Path]:
    """PROJECTOR_SHOTS at 1280x720 with ?projector=1, each page as it opens, without scrolling."""
    from ui.shell.projector import PROJECTOR_KEY

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    with chromium_page(playwright, viewport=PROJECTOR_VIEWPORT) as page:
        for name in PROJECTOR_SHOTS:
            # by its link, as a slide opens it: projector mode folds the sidebar, whose menu cannot be clicked
            open_app(page, f"{url}/{name}?{PROJECTOR_KEY}=1", timeout_ms=180_000)
            wait_for_idle(page, settle_ms=PROJECTOR_SETTLE_MS)
            href = f"{url}/{name}"
            if exception_texts(page):
                raise SystemExit(f"exceptions on {slug(href)}: {exception_texts(page)}")
            path = folder / f"{PROJECTOR_SHOTS[slug(href)]}.png"
            path.write_bytes(small_png(page.screenshot(), width=PROJECTOR_VIEWPORT["width"]))
            saved.append(path)
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get(SCREENSHOTS_ENV, "docs/screenshots")))
    parser.add_argument("--projector", action="store_true", help="only the projector-mode shots (PROJECTOR_SHOTS)")
    args = parser.parse_args()
    if chromium_path() is None:
        raise SystemExit("Debian's /usr/bin/chromium is not installed (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    # the shipped zoo only: models trained on this machine (user_checkpoints/) stay out of the pictures
    with (
        tempfile.TemporaryDirectory() as no_user_models,
        running_app(
            env={"VAE_USER_CHECKPOINT_DIR": no_user_models},
            log_path=REPO_ROOT / "artifacts" / "screenshots-streamlit.log",
        ) as url,
        sync_playwright() as playwright,
        chromium_page(playwright) as page,
    ):
        if args.projector:
            for path in projector_shots(playwright, url, args.out):
                print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
            return

        def on_page(name: str, page) -> None:
            if name in README_SHOTS:
                path = save_readme_shot(args.out, README_SHOTS[name], page)
                print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")

        report = tour(page, url, on_page)
    problems = {name: texts for name, texts in report.exceptions.items() if texts}
    if problems:
        raise SystemExit(f"exceptions on: {', '.join(problems)}")


if __name__ == "__main__":
    (REPO_ROOT / "artifacts").mkdir(exist_ok=True)
    main()
