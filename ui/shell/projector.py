"""Projector mode: for a lecture hall, the pages without their prose and with larger type and figures.

A switch in the sidebar (`projector_switch()`, drawn by app.py) and the URL parameter `?projector=1` turn it on;
the two stay in step, so a prepared link opens the app in projector mode. Pages route their explanatory text
through `prose(md)`, which draws nothing in projector mode; figure builders and image widths multiply by
`scale()`; a page's set-up widgets go into `setup_section(title)`, folded away in projector mode. The larger fonts
are one style sheet that app.py puts on the page (`projector_style()`).
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

PROJECTOR_KEY = "projector"  # the switch's session-state key and the URL parameter's name
ON_VALUES = ("1", "true", "on", "yes")  # what the URL parameter may say to turn the mode on
URL_READ_KEY = "projector_url_read"  # set once the session has read the URL parameter
SCALE = 1.5  # fonts, markers and image cells in projector mode, relative to the normal view

# The projector's style sheet. Its data-testid selectors are Streamlit's own names, which may change with an
# upgrade: tests/app/test_projector_fold.py checks in Chromium that each rule still reaches its elements.
# Every text of the main area is at least 1.15rem (18.4 px at the browser's 16 px): captions, the values inside
# inputs and a slider's end labels stayed at 11-14 px. A long label breaks between words, with a hyphen where the
# browser knows one, never inside a word ("Binarisatio n").
STYLE = """
<style>
[data-testid="stMain"] { font-size: 1.35rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.35rem; }
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { overflow-wrap: normal; word-break: normal; hyphens: auto; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.15rem; }
[data-testid="stMain"] input { font-size: 1.15rem; }
[data-testid="stMain"] [data-testid="stSliderTickBar"] { font-size: 1.15rem; }
[data-testid="stMain"] h1 { font-size: 2.2rem; padding-top: 0; }
[data-testid="stMain"] .block-container { padding-top: 3.75rem; }  /* just below the app header */
/* a slider's value sat on its track, pushed down by the line height it inherits */
[data-testid="stMain"] [data-testid="stSliderThumbValue"] { font-size: 1.05rem; line-height: 1.1rem; }
</style>
"""


def sync_from_url() -> None:
    """On a session's first run: a `projector` URL parameter sets the switch (any other value means off).

    Only once: later the switch is the truth (the URL still says the old value during the run that turns it off).
    """
    if st.session_state.get(URL_READ_KEY):
        return
    st.session_state[URL_READ_KEY] = True
    value = st.query_params.get(PROJECTOR_KEY)
    if value is not None:
        st.session_state[PROJECTOR_KEY] = value.strip().lower() in ON_VALUES


def projector_switch() -> bool:
    """The sidebar's switch; writes the mode back to the URL so the address bar is a shareable link."""
    sync_from_url()
    on = st.sidebar.toggle(
        "Projector mode",
        key=PROJECTOR_KEY,
        help="For a lecture hall: hides the lesson text and enlarges type, figures and images. "
        "Also `?projector=1` in the address.",
    )
    if on:
        st.query_params[PROJECTOR_KEY] = "1"
    elif PROJECTOR_KEY in st.query_params:
        del st.query_params[PROJECTOR_KEY]
    return on


def projector_on() -> bool:
    """Whether this run is in projector mode."""
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def scale() -> float:
    """The factor for fonts, markers and image widths: SCALE in projector mode, else 1."""
    return SCALE if projector_on() else 1.0


def image_width(px: int) -> int:
    """An image cell's width in pixels, enlarged in projector mode."""
    return round(px * scale())


def prose(md: str) -> None:
    """A page's explanatory text (Markdown): drawn normally, left out in projector mode."""
    if not projector_on():
        st.markdown(md)


def setup_section(title: str):
    """A page's set-up section (which models, how many images): normally a header whose widgets follow; in projector
    mode one folded expander of that title, so the figure after it rises onto the first screen. Returns the
    container to draw the section's widgets in."""
    if projector_on():
        return st.expander(title)
    st.header(title)
    return st.container()


def sidebar_state() -> Literal["collapsed", "auto"]:
    """The sidebar's state for st.set_page_config: folded in projector mode, so the figures take the screen's width
    (its arrow opens it again; the switch is in it). Reads the URL on a session's first run (sync_from_url)."""
    sync_from_url()
    return "collapsed" if projector_on() else "auto"


def projector_slot():
    """In projector mode, a container right here for the page's key figure, which the script draws later (its
    controls stay where they are, below it); else None: the figure is drawn where its code runs. A figure in an
    st.fragment takes its slot inside that fragment (a fragment writes only to its own containers)."""
    return st.container() if projector_on() else None


def folded_in_projector(title: str):
    """A group of set-up widgets that has no header of its own: in projector mode folded into an expander of that
    title, so the key figure after it rises onto the first screen; else drawn in place."""
    return st.expander(title) if projector_on() else st.container()


def projector_style() -> None:
    """The projector's larger type (call once per run, after the switch)."""
    if projector_on():
        st.html(STYLE)
