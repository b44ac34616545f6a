"""Links as an attacker writes them: every page opened with hostile values in every parameter it reads.

Each run sets every parameter a page reads (its bound widgets, declared in ui/shell/lessons.py, and the shell's data
set, model and projector mode) at once, to one class of hostile value: the page must open without an exception box,
show its title, not hang (AppTest's timeout) and keep the process's memory bounded. The default run opens each page
with the two value classes that crashed pages before the address was checked (non-finite numbers, a 100 KB value)
and one run that gives each parameter a different value; `-m slow` opens every page with every class. The validator
itself is checked over the full cross product of parameters and values in tests/app/test_url_check.py, and a
browser sample (marked `browser`) opens hostile links in Chromium.

This file also runs on a tree without the check (the counts of the issue's "before" column came from it): it reads
the parameters from the lesson registry's url_keys only.
"""

from __future__ import annotations

import resource
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE
from tests.browser_marks import needs_browser
from tools.app_browser import MAIN_TITLE, chromium_page, exception_texts, open_app, running_app, wait_for_idle
from ui.shell.lessons import LESSONS

RUN_TIMEOUT_S = 180  # a page still running after this has hung (its first run trains toy models: a minute under load)
MEMORY_GROWTH_LIMIT_MB = 1500  # the whole module's growth of the process's peak memory
SHELL_KEYS = ("dataset", "model", "projector")  # read by the shell on every page (ui/shell/url_state.py)
BIG = 100_000  # characters: a 100 KB value
# Streamlit ignores a whole query string over 512 KiB (CLIENT_STATE_QUERY_STRING_MAX_LENGTH): a 100 KB value goes to
# a few parameters at a time, so that each run's address is read.
BIG_PER_RUN = 4

# Each class of hostile value: one string, or a list (the parameter repeated in the address).
HOSTILE: dict[str, str | list[str]] = {
    "nan": "nan",
    "inf": "inf",
    "-inf": "-inf",
    "1e309": "1e309",
    "-1": "-1",
    "0": "0",
    "10**30": str(10**30),
    "empty": "",
    "100 KB digits": "9" * BIG,
    "100 KB text": "A" * BIG,
    "unicode/RTL": "\u202eevil\u200f \u0661\u0662\u0663 Ω≈ç√ 🙂",
    "html/markdown/js": "<img src=x onerror=alert(1)>**b** [l](javascript:alert(1)) <script>alert(1)</script>",
    "line break": "1\n<b>2</b>",
    "autolink": "www.evil-autolink.example/reset-password mail@evil.example",
    "path": "../../etc/passwd",
    "device": "/dev/zero",
    "repeated": ["1", "2"],
    "off-step": "0.07",
}
UNKNOWN_KEYS = {f"zz_unknown_{i}": "1" for i in range(20)}
# The Anomaly page scores every image of its sets on its first run: its own hostile runs open on its small study
# in the slow matrix only where the class keeps the study's keys (they are choices: a hostile one falls back).
FAST_CLASSES = ("inf", "100 KB text")


def page_keys(slug: str) -> list[str]:
    return [*SHELL_KEYS, *LESSONS[slug].url_keys]


def class_runs(slug: str, name: str) -> list[dict[str, str | list[str]]]:
    """The addresses that give every parameter of a page one class of value: all at once, or a 100 KB value a
    few parameters at a time."""
    keys, value = page_keys(slug), HOSTILE[name]
    size = BIG_PER_RUN if len(value) >= BIG else len(keys)
    return [dict.fromkeys(keys[i : i + size], value) for i in range(0, len(keys), size)]


def open_link(slug: str, params: dict[str, str | list[str]]) -> AppTest:
    at = AppTest.from_file(str(APP_FILE), default_timeout=RUN_TIMEOUT_S)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(LESSONS[slug].script).run()
    return at


def outcome(at: AppTest) -> str:
    """'clean', or what went wrong: an exception box, or no title."""
    if at.exception:
        return "crashed: " + at.exception[0].value.splitlines()[0][:120]
    if not at.title:
        return "no title"
    return "clean"


def mixed(slug: str, shift: int) -> dict[str, str | list[str]]:
    """Each parameter a different hostile value (rotated by shift; 100 KB ones left out: they go a few at a time),
    and unknown parameters besides."""
    values = [value for value in HOSTILE.values() if len(value) < BIG]
    return {key: values[(i + shift) % len(values)] for i, key in enumerate(page_keys(slug))} | UNKNOWN_KEYS


@pytest.fixture(scope="module")
def memory_watch():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024
    assert grown_mb < MEMORY_GROWTH_LIMIT_MB, f"peak memory grew {grown_mb:.0f} MB over the fuzz runs"


@pytest.mark.parametrize("slug", list(LESSONS))
def test_a_hostile_link_opens_every_page_cleanly(app_env, navigation_only, memory_watch, slug):
    results = Counter()
    # the first few parameters (the shell's) for a 100 KB value: the slow matrix gives it to each in turn
    runs = [(name, class_runs(slug, name)[0]) for name in FAST_CLASSES]
    runs.append(("mixed", mixed(slug, shift=LESSONS_ORDER[slug])))
    for name, params in runs:
        results[(name, outcome(open_link(slug, params)))] += 1
    assert all(result == "clean" for _, result in results), dict(results)


LESSONS_ORDER = {slug: i for i, slug in enumerate(LESSONS)}


@pytest.mark.slow
@pytest.mark.parametrize("slug", list(LESSONS))
def test_every_class_of_hostile_value_on_every_page(app_env, navigation_only, memory_watch, slug):
    failures = {}
    for name in HOSTILE:
        for params in class_runs(slug, name):
            result = outcome(open_link(slug, params))
            if result != "clean":
                failures[f"{name} {sorted(params)}"] = result
    for shift in range(len(HOSTILE)):
        result = outcome(open_link(slug, mixed(slug, shift)))
        if result != "clean":
            failures[f"mixed {shift}"] = result
    assert not failures, failures


@needs_browser
def test_in_a_browser_no_link_comes_from_a_link_and_hostile_links_open_pages(app_env):
    """The sidebar's warning about a link's data set has no clickable address; and a sample of hostile links
    (non-finite numbers, a long value, markup, repeated and unknown parameters) opens pages with their titles."""
    from playwright.sync_api import sync_playwright

    hostile = "&".join(
        [
            "dataset=www.evil-autolink.example%2Freset-password%20mail@evil.example",
            "grid_n=inf&grid_seed=1e309&grid_extent=nan&grid_kind=%3Cscript%3Ealert(1)%3C/script%3E",
            "latent_index=-inf&latent_same_axes=%0A&interp_steps=7&interp_steps=9&zz_unknown=1",
            "model=..%2F..%2Fetc%2Fpasswd&ae_sparse_index=" + "9" * 5000,
        ]
    )
    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, f"{url}/?{hostile}")
        warning = page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]', has_text="evil-autolink")
        warning.wait_for(timeout=20_000)
        assert warning.locator("a").count() == 0, warning.inner_html()
        for slug in ("decoder_grid", "latent_space", "sparse_autoencoders"):
            open_app(page, f"{url}/{slug}?{hostile}")
            page.wait_for_selector(MAIN_TITLE, timeout=60_000)
            wait_for_idle(page, timeout_ms=120_000)
            assert not exception_texts(page), (slug, exception_texts(page))
            assert "grid_n" not in page.url and "zz_unknown" not in page.url
