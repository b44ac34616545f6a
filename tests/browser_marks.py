"""The skip marks of every browser test: Debian's chromium and the playwright package, or a clear reason."""

from __future__ import annotations

import pytest

from tools.app_browser import chromium_path, playwright_available

NEEDS_BROWSER = [
    pytest.mark.skipif(
        chromium_path() is None, reason="Debian's /usr/bin/chromium is not installed (.ci/run installs it with apt-get)"
    ),
    pytest.mark.skipif(not playwright_available(), reason="the playwright package is not installed"),
]
