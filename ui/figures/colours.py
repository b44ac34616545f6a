"""Colours every figure may use on both of Streamlit's themes, and the check that a colour reads on both.

Streamlit's light theme paints on white and its dark theme on #0E1117. A trace in near-black vanishes on the
dark one and a white fill blinds it, so colours that are not the data's own palette come from here.
"""

from __future__ import annotations

import re

NEUTRAL = "#8C8C8C"  # mid grey: reference lines and shapes (the prior, a manifold, a target) on either theme
THEME_PAPERS = {"light": (255, 255, 255), "dark": (14, 17, 23)}  # Streamlit's backgroundColor of each theme
MIN_CONTRAST = 1.5  # WCAG contrast ratio a line or marker keeps against each paper (black on dark is 1.1)
# the CSS names the figures use (plotly takes any CSS name; the check reads these)
NAMED = {
    "black": (0, 0, 0, 1.0),
    "white": (255, 255, 255, 1.0),
    "grey": (128, 128, 128, 1.0),
    "gray": (128, 128, 128, 1.0),
    "red": (255, 0, 0, 1.0),
    "blue": (0, 0, 255, 1.0),
    "orange": (255, 165, 0, 1.0),
    "magenta": (255, 0, 255, 1.0),
    "transparent": (0, 0, 0, 0.0),
}


def parse_colour(colour: str) -> tuple[int, int, int, float]:
    """(r, g, b, alpha) of a CSS colour as plotly takes it: #rgb, #rrggbb, rgb(…), rgba(…) or a name in NAMED."""
    text = colour.strip().lower()
    if text in NAMED:
        return NAMED[text]
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        return (*(int(c * 2, 16) for c in text[1:]), 1.0)  # type: ignore[return-value]
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16), 1.0)
    match = re.fullmatch(r"rgba?\(([^)]*)\)", text)
    if match:
        parts = [float(p) for p in match.group(1).split(",")]
        if len(parts) in (3, 4):
            alpha = parts[3] if len(parts) == 4 else 1.0
            return round(parts[0]), round(parts[1]), round(parts[2]), alpha
    raise ValueError(f"not a colour this check reads: {colour!r}")


def _luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG relative luminance of an sRGB colour (0-255 channels)."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_on(colour: str, paper: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of colour, laid over paper with its alpha, against paper."""
    r, g, b, alpha = parse_colour(colour)
    shown = tuple(alpha * c + (1 - alpha) * p for c, p in zip((r, g, b), paper, strict=True))
    lighter, darker = sorted((_luminance(shown), _luminance(tuple(map(float, paper)))), reverse=True)  # type: ignore[arg-type]
    return (lighter + 0.05) / (darker + 0.05)
