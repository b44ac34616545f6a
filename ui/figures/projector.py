"""A figure as projector mode shows it: every text at least PROJECTOR_FONT_PX and a height that fits the first screen.

One pass over the figure's JSON rather than a projector switch in every builder: the builders set their fonts in
many places (tick fonts, legends, colour bars, annotations, heat-map cell text), and one forgotten place is a
label the back row cannot read.
"""

from __future__ import annotations

import copy
import re
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


THREE_D = frozenset({"scatter3d", "surface", "mesh3d", "cone", "streamtube", "isosurface", "volume"})


def _at_least(container: dict, *path: str) -> None:
    """Set the font at container[path...] to at least PROJECTOR_FONT_PX, creating the dicts on the way."""
    node = container
    for key in path:
        node = node.setdefault(key, {})
    node["size"] = max(node.get("size") or 0, PROJECTOR_FONT_PX)


def _axis_names(layout: dict) -> list[str]:
    """The layout's 2-D axes (xaxis, yaxis2, …), with plotly's first pair, drawn whether named or not."""
    return sorted({name for name in layout if re.fullmatch(r"[xy]axis\d*", name)} | {"xaxis", "yaxis"})


def for_projector(figure: go.Figure | Mapping[str, Any], max_height_px: int = PROJECTOR_MAX_FIGURE_PX) -> go.Figure:
    """A copy of the figure with projector mode's type and height; the figure given is left as it was (it may be
    a cached one)."""
    spec = figure.to_dict() if isinstance(figure, go.Figure) else copy.deepcopy(dict(figure))
    layout = spec.setdefault("layout", {})
    font = layout.setdefault("font", {})
    font["size"] = max(font.get("size") or 0, PROJECTOR_FONT_PX)  # what every unset text inherits
    _enlarge_fonts(spec)
    # Streamlit's chart theme is a template that sets the tick, legend and title fonts itself (12-14 px), and a
    # template's font outranks the inherited layout.font: each is set here explicitly.
    for axis in _axis_names(layout):
        _at_least(layout, axis, "tickfont")
        _at_least(layout, axis, "title", "font")
    scenes = {name for name in layout if re.fullmatch(r"scene\d*", name)}
    scenes |= {trace.get("scene", "scene") for trace in spec.get("data", []) if trace.get("type") in THREE_D}
    for scene in sorted(scenes):
        layout.setdefault(scene, {})
        for axis in ("xaxis", "yaxis", "zaxis"):
            _at_least(layout[scene], axis, "tickfont")
            _at_least(layout[scene], axis, "title", "font")
    _at_least(layout, "legend", "font")
    _at_least(layout, "legend", "title", "font")
    _at_least(layout, "title", "font")
    _at_least(layout, "hoverlabel", "font")
    for trace in spec.get("data", []):
        if "colorbar" in trace or trace.get("showscale"):
            _at_least(trace, "colorbar", "tickfont")
    height = layout.get("height")
    if height is None or height > max_height_px:
        layout["height"] = max_height_px
    # a built figure, not re-validated: it came from plotly's own objects (ui.figures.latent.trusted_figure)
    return go.Figure(spec, _validate=False)
