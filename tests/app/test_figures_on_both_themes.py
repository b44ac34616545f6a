"""Every chart on every page, as the browser gets it: its colours read on the light and the dark theme, and in
projector mode its text is at least 18 px and it fits the first 1280×720 screen.

One tour of app.py's pages on the tiny digits zoo, in projector mode (colours do not depend on it). Colours are
read from each chart's plotly JSON, the `spec` st.plotly_chart sends: a colour a figure sets itself must keep
MIN_CONTRAST against both papers; a smooth density (a filled contour or a smoothed heat map) must fade into the
paper at its low end, or it paints a white or black rectangle on one of the themes. Colours left to plotly are
the theme's own. The browser's side is tests/app/test_projector_fold.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ui.figures.colours import MIN_CONTRAST, THEME_PAPERS, contrast_on, parse_colour
from ui.figures.projector import FONT_KEYS, PROJECTOR_FONT_PX, PROJECTOR_MAX_FIGURE_PX, for_projector
from ui.shell.lessons import LESSONS
from ui.shell.projector import PROJECTOR_KEY

PAGE_TIMEOUT_S = 180  # a page's first run in this process loads its models and data, on a busy machine
LINE_COLOUR_PATHS = (("line", "color"), ("marker", "color"), ("marker", "line", "color"), ("fillcolor",))


def _get(node: dict, path: tuple[str, ...]):
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def trace_colours(trace: dict) -> Iterator[tuple[str, str]]:
    """(where, colour) for each colour a trace sets itself as a string (arrays of colours included)."""
    outlined = (_get(trace, ("marker", "line", "width")) or 0) >= 1  # the outline draws the marker on any paper
    for path in LINE_COLOUR_PATHS:
        if path == ("marker", "color") and outlined:
            continue
        value = _get(trace, path)
        for colour in value if isinstance(value, list) else [value]:
            if isinstance(colour, str):
                yield ".".join(path), colour


def smooth_density(trace: dict) -> bool:
    """A trace that paints an area by a colour scale: a filled contour or a smoothed heat map (not a matrix of
    cells, where each cell is a value to read)."""
    if trace.get("type") == "contour":
        return _get(trace, ("contours", "coloring")) not in ("none", "lines")
    return trace.get("type") == "heatmap" and trace.get("zsmooth") not in (None, False)


def unreadable(spec: dict) -> list[str]:
    """What in one chart's spec does not read on one of the themes."""
    problems = []
    for trace in spec.get("data", []):
        name = trace.get("name") or trace.get("type")
        for where, colour in trace_colours(trace):
            if where == "fillcolor":  # a tint behind the lines is faint on purpose: its hue must read on both
                r, g, b, _alpha = parse_colour(colour)
                colour = f"rgb({r}, {g}, {b})"
            for theme, paper in THEME_PAPERS.items():
                if contrast_on(colour, paper) < MIN_CONTRAST:
                    problems.append(f"{name}: {where} {colour} on the {theme} theme")
        scale = trace.get("colorscale")
        if smooth_density(trace) and isinstance(scale, list):
            low = parse_colour(scale[0][1])
            if low[3] > 0.05:
                problems.append(f"{name}: its density's low end {scale[0][1]} is opaque (a rectangle on a theme)")
    for shape in spec.get("layout", {}).get("shapes", []):
        colour = _get(shape, ("line", "color"))
        if isinstance(colour, str) and min(contrast_on(colour, p) for p in THEME_PAPERS.values()) < MIN_CONTRAST:
            problems.append(f"shape: line {colour}")
    return problems


def font_sizes(node, inside: str = "") -> Iterator[tuple[str, float]]:
    """(where, size) of every font size set in a spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FONT_KEYS and isinstance(value, dict) and isinstance(value.get("size"), int | float):
                yield f"{inside}.{key}", value["size"]
            yield from font_sizes(value, f"{inside}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from font_sizes(item, inside)


def test_contrast_check_tells_black_on_dark_and_a_white_density_from_good_colours():
    assert unreadable({"data": [{"type": "scatter", "name": "prior", "line": {"color": "rgba(20, 20, 20, 0.9)"}}]})
    assert unreadable({"data": [{"type": "scatter", "marker": {"color": ["#1f77b4", "white"]}}]})
    density = {"type": "heatmap", "zsmooth": "best", "colorscale": [[0, "rgb(255,255,255)"], [1, "rgb(0,0,0)"]]}
    assert unreadable({"data": [density]})
    assert not unreadable({"data": [{**density, "zsmooth": False}]})  # a matrix of values: each cell is read
    faded = {**density, "colorscale": [[0, "rgba(140, 140, 140, 0)"], [1, "rgba(140, 140, 140, 1)"]]}
    assert not unreadable({"data": [faded, {"type": "scatter", "line": {"color": "#8C8C8C"}}]})
    with pytest.raises(ValueError):
        parse_colour("papayawhip")  # a name the check cannot judge fails loudly


def test_for_projector_raises_every_font_and_caps_the_height_without_touching_the_figure():
    spec = {
        "data": [{"type": "heatmap", "textfont": {"size": 9}, "colorbar": {"tickfont": {"size": 11}}}],
        "layout": {"height": 900, "xaxis": {"tickfont": {"size": 12}}, "annotations": [{"font": {"size": 30}}]},
    }
    projected = for_projector(spec).to_dict()
    sizes = dict(font_sizes(projected))
    assert min(sizes.values()) >= PROJECTOR_FONT_PX and projected["layout"]["font"]["size"] >= PROJECTOR_FONT_PX
    assert max(sizes.values()) == 30  # larger text stays as large
    assert projected["layout"]["height"] == PROJECTOR_MAX_FIGURE_PX
    assert spec["layout"]["height"] == 900 and spec["layout"]["xaxis"]["tickfont"]["size"] == 12  # a copy
    # Streamlit's chart theme sets tick, legend and title fonts in a template, which outranks layout.font:
    # each is set explicitly, also where the figure left it unset
    layout = projected["layout"]
    assert layout["xaxis"]["tickfont"]["size"] == layout["yaxis"]["tickfont"]["size"] == PROJECTOR_FONT_PX
    assert layout["yaxis"]["title"]["font"]["size"] == layout["legend"]["font"]["size"] == PROJECTOR_FONT_PX


def test_every_chart_reads_on_both_themes_and_fits_projector_mode(open_page):
    at = open_page()
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(True).run()
    problems: dict[str, list[str]] = {}
    charts = 0
    for lesson in LESSONS.values():
        at.switch_page(lesson.script).run(timeout=PAGE_TIMEOUT_S)
        assert not at.exception, (lesson.slug, at.exception)
        for chart in at.get("plotly_chart"):
            charts += 1
            spec = json.loads(chart.proto.spec)
            found = unreadable(spec)
            small = [f"{where} {size}px" for where, size in font_sizes(spec) if size < PROJECTOR_FONT_PX]
            if spec["layout"].get("font", {}).get("size", 0) < PROJECTOR_FONT_PX:
                small.append("layout.font unset or small (tick labels inherit it)")
            if spec["layout"].get("height", PROJECTOR_MAX_FIGURE_PX + 1) > PROJECTOR_MAX_FIGURE_PX:
                small.append(f"height {spec['layout'].get('height')}")
            if found or small:
                problems[f"{lesson.slug}/{chart.key}"] = found + small
    assert charts >= 10, charts  # the tour reached the charts
    assert not problems, problems


def test_every_chart_is_drawn_through_the_projectors_plot():
    """Pages and widgets call ui.widgets.chart.plot / plot_in, never st.plotly_chart: a chart drawn around it would
    keep its 12 px ticks in projector mode."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("pages/*.py"), *root.glob("ui/**/*.py")]
    direct = [
        f"{path.relative_to(root)}:{number}"
        for path in sources
        if path.name != "chart.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".plotly_chart(" in line
    ]
    assert len(sources) > 20 and not direct, direct
