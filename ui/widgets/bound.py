"""Widgets bound to the URL, each recording at the call what a value for it may be.

Streamlit 1.67's `bind="query-params"` puts a widget's value in the address under its key (ui/shell/url_state.py
says how). This module is the one place that passes it: each helper below draws its Streamlit widget, bound, and
records a UrlBinding in the session, made from the same arguments the widget got: the key, the kind of widget, its
default, the type of its value and its bounds (numbers) or the labels the URL holds (choices). From those records
"Reset this page" sets a lesson's widgets back to their defaults, and tests/app/test_url_state.py checks them against
the widgets drawn and against the lesson's declarations (ui/shell/lessons.py), which the app shell checks a link's
values against before any widget is drawn (ui/shell/url_check.py). A declaration holds the widest bounds any data set
allows; here, where the widget's own bounds and options are known, a value in the address that this widget will
not take (an index past this data set's last image, a label that is not one of these options) gets the same quiet
note, and Streamlit then drops it.

Each helper takes the widget's own arguments by name (the default too, so it is recorded where it is set) and an
optional container (a column, the sidebar); other keyword arguments go to the widget unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui.shell.url_check import Kind, UrlParam

RECORDS_KEY = "url_bindings"  # session state: widget key -> its UrlBinding, as last drawn in this session
NOTED_KEY = "url_link_noted"  # session state: the note has been shown in this run (ui.shell.url_state clears it)
LINK_NOTE = "A setting in the link was out of range and was reset."
INT_SLIDER_STEP, FLOAT_SLIDER_STEP = 1, 0.01  # Streamlit's steps for a slider given none

N = TypeVar("N", int, float)
V = TypeVar("V")


@dataclass(frozen=True)
class UrlBinding:
    """A widget bound to the URL: its parameter's name and what a value for it may be, as the widget was drawn."""

    key: str  # the widget's key, which is the URL parameter's name
    widget: str  # the Streamlit widget: "slider", "number_input", "select_slider", "selectbox", "radio", "toggle"
    default: object  # the value it opens with, and what "Reset this page" gives back
    value_type: type  # the type of its value: int, float or bool, or a choice's option type (str, int, float)
    min_value: float | None = None  # a number's bounds, both included; None for choices and toggles
    max_value: float | None = None
    labels: tuple[str, ...] = ()  # a choice's options as the URL writes them (format_func applied), in order
    step: float | None = None  # a slider's step (Streamlit's default where none was given); None elsewhere

    def accepts(self, value: str) -> bool:
        """Whether this widget, as drawn, takes this value from the address."""
        if self.labels:
            return value in self.labels
        kind: Kind = "bool" if self.value_type is bool else "int" if self.value_type is int else "float"
        return UrlParam(self.key, kind, self.min_value, self.max_value, self.step).accepts(value)


def recorded() -> dict[str, UrlBinding]:
    """The bindings of every bound widget this session has drawn, by key (the latest drawing of each)."""
    return st.session_state.setdefault(RECORDS_KEY, {})


def _record(binding: UrlBinding) -> None:
    recorded()[binding.key] = binding
    values = st.query_params.get_all(binding.key)
    if values and not (len(values) == 1 and binding.accepts(values[0])):
        note_link_reset()  # Streamlit drops the value when it seeds the widget


def note_link_reset() -> None:
    """The one quiet note, once per run, that a value in the address was dropped."""
    if not st.session_state.get(NOTED_KEY):
        st.session_state[NOTED_KEY] = True
        st.toast(LINK_NOTE, icon=":material/link_off:")


def _host(container: DeltaGenerator | None) -> Any:
    # st's functions draw in the current container (the page, or the one a `with` block opened).
    return st if container is None else container


def _labels(options: Sequence[object], format_func: Callable[[Any], object]) -> tuple[str, ...]:
    # Streamlit shows, and binds, str(format_func(option)) for each option.
    return tuple(str(format_func(option)) for option in options)


def slider(
    label: str,
    *,
    key: str,
    min_value: N,
    max_value: N,
    value: N,
    step: N | None = None,
    container: DeltaGenerator | None = None,
    **widget_options: Any,
) -> N:
    """st.slider over one number, bound to the URL under key."""
    return _number("slider", label, key, min_value, max_value, value, step, container, widget_options)


def number_input(
    label: str,
    *,
    key: str,
    min_value: N,
    max_value: N,
    value: N,
    step: N | None = None,
    container: DeltaGenerator | None = None,
    **widget_options: Any,
) -> N:
    """st.number_input, bound to the URL under key."""
    return _number("number_input", label, key, min_value, max_value, value, step, container, widget_options)


def _number(
    kind: Literal["slider", "number_input"],
    label: str,
    key: str,
    min_value: N,
    max_value: N,
    value: N,
    step: N | None,
    container: DeltaGenerator | None,
    widget_options: dict[str, Any],
) -> N:
    # slider and number_input take the same arguments and bind alike: one recorder and one call for both.
    default_step = INT_SLIDER_STEP if isinstance(value, int) else FLOAT_SLIDER_STEP
    slider_step = (step or default_step) if kind == "slider" else None
    _record(UrlBinding(key, kind, value, type(value), min_value, max_value, step=slider_step))
    host = _host(container)
    draw = host.slider if kind == "slider" else host.number_input
    return cast(
        N,
        draw(
            label,
            min_value=min_value,
            max_value=max_value,
            value=value,
            step=step,
            key=key,
            bind="query-params",
            **widget_options,
        ),
    )


def select_slider(
    label: str,
    options: Sequence[V],
    *,
    key: str,
    value: V,
    format_func: Callable[[Any], object] = str,
    container: DeltaGenerator | None = None,
    **widget_options: Any,
) -> V:
    """st.select_slider over one option, bound to the URL under key (the URL holds the option's label)."""
    _record(UrlBinding(key, "select_slider", value, type(value), labels=_labels(options, format_func)))
    return cast(
        V,
        _host(container).select_slider(
            label, options, value=value, format_func=format_func, key=key, bind="query-params", **widget_options
        ),
    )


def selectbox(
    label: str,
    options: Sequence[V],
    *,
    key: str,
    index: int = 0,
    format_func: Callable[[Any], object] = str,
    container: DeltaGenerator | None = None,
    **widget_options: Any,
) -> V:
    """st.selectbox opening on options[index], bound to the URL under key (the URL holds the option's label)."""
    return _one_of("selectbox", label, options, key, index, format_func, container, widget_options)


def radio(
    label: str,
    options: Sequence[V],
    *,
    key: str,
    index: int = 0,
    format_func: Callable[[Any], object] = str,
    container: DeltaGenerator | None = None,
    **widget_options: Any,
) -> V:
    """st.radio opening on options[index], bound to the URL under key (the URL holds the option's label)."""
    return _one_of("radio", label, options, key, index, format_func, container, widget_options)


def _one_of(
    kind: Literal["selectbox", "radio"],
    label: str,
    options: Sequence[V],
    key: str,
    index: int,
    format_func: Callable[[Any], object],
    container: DeltaGenerator | None,
    widget_options: dict[str, Any],
) -> V:
    # selectbox and radio take the same arguments and bind alike: one recorder and one call for both.
    default = options[index]
    _record(UrlBinding(key, kind, default, type(default), labels=_labels(options, format_func)))
    host = _host(container)
    draw = host.selectbox if kind == "selectbox" else host.radio
    return cast(
        V, draw(label, options, index=index, format_func=format_func, key=key, bind="query-params", **widget_options)
    )


def toggle(
    label: str, *, key: str, value: bool = False, container: DeltaGenerator | None = None, **widget_options: Any
) -> bool:
    """st.toggle, bound to the URL under key."""
    _record(UrlBinding(key, "toggle", value, bool))
    return bool(_host(container).toggle(label, value=value, key=key, bind="query-params", **widget_options))


def browser_slider_value(label: str, *, key: str, min_value: int, max_value: int, value: int) -> int:
    """The value of an integer slider that a browser component draws itself (Streamlit binds only its own widgets).

    Recorded like the others, so links, the link check and "Reset this page" treat it alike. The value lives in
    session state under key: set by the component when its slider is let go (set_browser_slider) or by the reset;
    a session that has none yet takes the address's (when this slider would take it), else the default. The address
    holds it while it is not the default, as Streamlit's binding does. label: the slider's label, for the records.
    """
    binding = UrlBinding(key, "slider", value, int, min_value, max_value, step=INT_SLIDER_STEP)
    _record(binding)
    current = st.session_state.get(key)
    if not (type(current) is int and min_value <= current <= max_value):
        linked = st.query_params.get(key)
        current = int(float(linked)) if linked is not None and binding.accepts(linked) else value
        st.session_state[key] = current
    if current == value:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != str(current):
        st.query_params[key] = str(current)
    return current


def set_browser_slider(key: str, moved_to: object) -> None:
    """What a component's slider was let go at (from the browser: any JSON value), if browser_slider_value would
    take it; anything else is ignored."""
    binding = recorded().get(key)
    if binding is not None and type(moved_to) is int and binding.accepts(str(moved_to)):
        st.session_state[key] = moved_to
