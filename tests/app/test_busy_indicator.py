"""Every run puts the "Working…" badge's style on the page (the toolbar's running indicator is hidden)."""

from __future__ import annotations

from ui.shell.busy_indicator import DELAY_S
from ui.shell.lessons import LESSONS


def test_every_page_run_carries_the_busy_badge(open_page):
    at = open_page(LESSONS["latent_space"].script)
    styles = [e.proto.body for e in at.get("html")]
    badge = [s for s in styles if 'data-test-script-state="running"' in s]
    assert len(badge) == 1, styles
    assert "Working…" in badge[0] and f"{DELAY_S}s forwards" in badge[0]
