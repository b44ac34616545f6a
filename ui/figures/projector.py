"""A figure as projector mode shows it: every text at least PROJECTOR_FONT_PX and a height that fits the first screen.

One pass over the figure's JSON rather than a projector switch in every builder: the builders set their fonts in
many places (tick fonts, legends, colour bars, annotations, heat-map cell text), and one forgotten place is a
label the back row cannot read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

PROJECTOR_FONT_PX = 18  # the smallest text in projector mode: readable from the back of a lecture hall
# The tallest a key figure may be in projector mode: the 720 px screen less the app header, the page title and a
# row of controls or a caption (tests/app/test_projector_fold.py checks the figure's bottom on screen).
PROJECTOR_MAX_FIGURE_PX = 470
# plotly attribute names whose value is a font ({"size": …, "family": …, "color": …})
FONT_KEYS = frozenset(
    {"font", "tickfont", "titlefont", "textfont", "insidetextfont", "outsidetextfont", "grouptitlefont", "hoverlabel"}
)


def _enlarge_fonts(node: Any) -> None:
    """Raise every font size under node to at least PROJECTOR_FONT_PX, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FONT_KEYS and isinstance(value, dict):
                size = value.get("size")
                if isinstance(size, int | float):
                    value["size"] = max(size, PROJECTOR_FONT_PX)
                elif isinstance(size, list):  # a size per text item
                    value["size"] = [max(s, PROJECTOR_FONT_PX) if isinstance(s, int | float) else s for s in size]
            _enlarge_fonts(value)
    elif isinstance(node, list):
        for item in node:
            _enlarge_fonts(item)


def for_projector(figure: go.Figure | Mapping[str, Any], max_height_px: int = PROJECTOR_MAX_FIGURE_PX) -> go.Figure:
    """A copy of the figure with projector mode's type and height; the figure given is left as it was (it may be
    a cached one)."""
    spec = figure.to_dict() if isinstance(figure, go.Figure) else copy.deepcopy(dict(figure))
    layout = spec.setdefault("layout", {})
    font = layout.setdefault("font", {})
    font["size"] = max(font.get("size") or 0, PROJECTOR_FONT_PX)  # what every unset text inherits
    _enlarge_fonts(spec)
    height = layout.get("height")
    if height is None or height > max_height_px:
        layout["height"] = max_height_px
    # a built figure, not re-validated: it came from plotly's own objects (ui.figures.latent.trusted_figure)
    return go.Figure(spec, _validate=False)
