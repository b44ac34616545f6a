"""Progress text with an estimate of the time left, for work that takes longer than a second."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import streamlit as st

MIN_FRACTION = 0.02  # below this an estimate is a guess
MIN_SECONDS = 0.5  # nor before the work has run this long


class RemainingTime:
    """Call with the fraction done (0..1): ' (about N s left)' from the rate so far, or '…' while too early."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started = clock()

    def __call__(self, fraction: float) -> str:
        elapsed = self.clock() - self.started
        if fraction < MIN_FRACTION or elapsed < MIN_SECONDS or fraction >= 1.0:
            return "…"
        left = elapsed * (1.0 - fraction) / fraction
        return f" (about {left:.0f} s left)…" if left >= 1 else " (under a second left)…"


@contextlib.contextmanager
def progress_bar(title: str) -> Iterator[Callable[[float, str], None]]:
    """A progress(fraction, what) for work that reports its steps: the first call draws a bar, "title: what",
    with the time left; the bar is gone when the block ends. Work found in a cache never calls it: nothing shows."""
    slot = st.empty()
    remaining = RemainingTime()

    def progress(fraction: float, what: str) -> None:
        slot.progress(min(max(fraction, 0.0), 1.0), text=f"{title}: {what}{remaining(fraction)}")

    try:
        yield progress
    finally:
        slot.empty()
