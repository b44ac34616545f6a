"""The marks of every browser test: `browser` (pytest.ini) and skips with a clear reason when Debian's chromium
or the playwright package is missing.

A module of browser tests sets `pytestmark = NEEDS_BROWSER`; a single browser test among others takes
`@needs_browser`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from tools.app_browser import chromium_path, playwright_available

NEEDS_BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason="Debian's /usr/bin/chromium is not installed (.ci/run installs it with apt-get)"
    ),
    pytest.mark.skipif(not playwright_available(), reason="the playwright package is not installed"),
]

Test = TypeVar("Test", bound=Callable[..., object])


def needs_browser(test: Test) -> Test:
    """NEEDS_BROWSER on one test function."""
    for mark in NEEDS_BROWSER:
        test = mark(test)
    return test
