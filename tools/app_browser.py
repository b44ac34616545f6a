"""Drive the real app in a real browser: start `streamlit run app.py`, open it in Debian's headless Chromium.

Shared by tests/app/test_browser.py, tools/screenshots.py and benchmarks/app_latency.py. Playwright only drives
the system's /usr/bin/chromium (never `playwright install`); callers check `chromium_path()` first.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1100, "height": 900}  # README screenshots are this wide
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'


def chromium_path() -> str | None:
    """Debian's Chromium, or None where it is not installed (.ci/run installs it with apt-get)."""
    return CHROMIUM if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    port: int,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    launcher: tuple[str, ...] = ("-m", "streamlit"),
    script: Path = REPO_ROOT / "app.py",
) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port in its own process group (so stop_app ends all of it).

    launcher: what follows `python` in place of `-m streamlit` (benchmarks/timed_streamlit.py times runs).
    script: the app to serve (benchmarks/class_load.py --floor serves a bare Streamlit app instead).
    """
    command = [
        sys.executable,
        *launcher,
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        # .streamlit/config.toml hides error details from students; tests must see every exception box
        "--client.showErrorDetails",
        "full",
    ]
    # The child holds its own copy of the log's descriptor, so ours can close once it has started.
    with open(log_path, "wb") if log_path else nullcontext(subprocess.DEVNULL) as log:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(port: int, process: subprocess.Popen, timeout_s: float = 60.0) -> float:
    """Poll the server's health endpoint; returns the seconds it took. Raises if it exits or times out."""
    start = time.perf_counter()
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.perf_counter() - start < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout_s:.0f} s")


def stop_app(process: subprocess.Popen) -> None:
    """Stop the server started by start_app (its own process group only)."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=5)


@contextmanager
def running_app(env: dict[str, str] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """A served app for the duration of the block; yields its base URL."""
    port = free_port()
    process = start_app(port, env, log_path)
    try:
        wait_until_healthy(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(process)


@contextmanager
def chromium_page(playwright, viewport: dict[str, int] | None = None, color_scheme: str = "light") -> Iterator:
    """A fresh headless Chromium page, with the README viewport unless told another; color_scheme is what the
    page's prefers-color-scheme says ("light" or "dark"), which Streamlit's theme follows."""
    browser = playwright.chromium.launch(executable_path=chromium_path() or CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(viewport=viewport or VIEWPORT, device_scale_factor=1, color_scheme=color_scheme)
        yield context.new_page()
    finally:
        browser.close()


def wait_for_idle(page, timeout_ms: int = 30_000, settle_ms: int = 150) -> None:
    """Wait until the script has run and stays idle for settle_ms (a widget change starts a new run)."""
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_ms)
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_ms)


MAIN_TITLE = '[data-testid="stMain"] h1'


def open_app(page, url: str, timeout_ms: int = 120_000, settle_ms: int = 150) -> None:
    """Load the app and wait until a page has run through app.py's navigation.

    Right after a server (re)start Streamlit may first show its legacy pages-folder menu; app.py then leaves
    that mode and reruns (ui/shell/navigation.py). A page title in the main area means a page has really run.
    """
    page.goto(url)
    page.wait_for_selector(MAIN_TITLE, timeout=timeout_ms)
    wait_for_idle(page, timeout_ms=timeout_ms, settle_ms=settle_ms)


def exception_texts(page) -> list[str]:
    """The text of every exception box Streamlit shows on the page (empty when all is well)."""
    return [box.inner_text()[:500] for box in page.locator(EXCEPTION).all()]


def nav_links(page) -> list[tuple[str, str]]:
    """(title, href) of every page in the sidebar navigation, in order."""
    links = page.locator('[data-testid="stSidebarNav"] a')
    return [(link.inner_text().strip(), link.get_attribute("href") or "") for link in links.all()]


def capture(page, max_height: int | None = None) -> bytes:
    """A PNG of the whole app, not just the viewport: Streamlit scrolls inside its own container, so the
    viewport is stretched to the content's height (at most max_height) for the shot and then restored."""
    height = page.evaluate("""() => Math.max(...['[data-testid="stMain"]', '[data-testid="stSidebarContent"]']
        .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight), 0)""")
    height = max(VIEWPORT["height"], int(height or 0))
    if max_height is not None:
        height = min(height, max_height)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        page.wait_for_timeout(100)  # let the layout follow the new size (no rerun is triggered)
        return page.screenshot()
    finally:
        page.set_viewport_size(VIEWPORT)


def small_png(png: bytes, width: int = VIEWPORT["width"], colours: int = 128) -> bytes:
    """A README-sized PNG: scaled to width, reduced to a palette, optimised (a few tens of KB)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width != width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buffer, "PNG", optimize=True
    )
    return buffer.getvalue()


def playwright_available() -> bool:
    """Whether the playwright package is importable (it is in requirements-dev.txt; it ships its own driver)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True
