"""What a value in the address may be, checked before any widget sees it: a link is input from whoever wrote it.

Each URL parameter the app reads is declared once, as a UrlParam: a lesson's bound widgets in the lesson registry
(ui/shell/lessons.py), the shell's own parameters (data set, model, projector mode, a training job) in
ui/shell/url_state.py. `bad_params` (pure, no Streamlit: unit-tested over every hostile value) names the
parameters of an address that no declared widget would take: an unknown name, a repeated one, an over-long,
malformed, non-finite or out-of-range value, a number between a slider's steps, a value with control characters.
ui.shell.url_state.check_link drops them from the address before the page runs, so Streamlit never parses them
(Streamlit 1.67's int number_input raises OverflowError on `?key=inf` while it seeds the widget from the URL:
docs/streamlit_overflow_repro.py).

A declaration holds the widest range any data set allows (a test index up to the largest test split); the widget
is drawn with its data's own range, and ui.widgets.bound checks the value against that too, where the data is
known. tests/app/test_url_state.py checks each declaration against the widget as drawn.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

MAX_VALUE_CHARS = 256  # longer than any label, model key or number the app writes; a longer value is an attack
MAX_TEST_INDEX = 9_999  # the largest test split offered (MNIST, Fashion-MNIST: 10 000 images); digits has 360
_INT = re.compile(r"[+-]?[0-9]{1,19}")  # what Streamlit writes for an int; 19 digits: no int64 overflow
# What Streamlit writes for a float, and what a person types: no "inf", "nan", hex or underscores.
_FLOAT = re.compile(r"[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?")
_STEP_TOLERANCE = 1e-6  # of a step: 0.1 + 0.2 lies on a 0.05 grid; 0.07 does not
# Control, format (bidi overrides, zero-width) and line/paragraph separators: never in a label, number or key.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})

Kind = Literal["int", "float", "bool", "choice", "text"]


@dataclass(frozen=True)
class UrlParam:
    """A URL parameter's name and what a value for it may be."""

    key: str
    kind: Kind  # int / float (a number widget), bool (a toggle), choice (a label of the widget's options), text
    min_value: float | None = None  # numbers: the widest bounds any data set gives the widget, both included
    max_value: float | None = None
    step: float | None = None  # sliders: a value lies on min_value + k * step (a number input takes any value)

    def accepts(self, value: str) -> bool:
        """Whether one value (the only one: a repeated name is refused before) is one this parameter may hold."""
        if len(value) > MAX_VALUE_CHARS or not printable(value):
            return False
        if self.kind == "bool":
            return value.lower() in {"true", "false"}  # as Streamlit parses a toggle's value
        if self.kind in {"choice", "text"}:
            return value != ""  # which labels are options is the widget's to say (ui.widgets.bound)
        number = parse_number(value, integer=self.kind == "int")
        return number is not None and self.admits(number)

    def admits(self, number: float) -> bool:
        """Whether a finite number lies in the bounds and, for a slider, on a step."""
        if self.min_value is not None and number < self.min_value:
            return False
        if self.max_value is not None and number > self.max_value:
            return False
        return self.step is None or on_step(number, self.min_value or 0.0, self.step)


def int_param(key: str, min_value: int, max_value: int, step: int | None = None) -> UrlParam:
    """An int slider (step: its step, 1 by default) or, with step None, an int number input."""
    return UrlParam(key, "int", min_value, max_value, step)


def float_param(key: str, min_value: float, max_value: float, step: float | None = None) -> UrlParam:
    """A float slider (step: its step) or, with step None, a float number input."""
    return UrlParam(key, "float", min_value, max_value, step)


def choice_param(key: str) -> UrlParam:
    """A radio, selectbox or select_slider: the URL holds one of its labels."""
    return UrlParam(key, "choice")


def bool_param(key: str) -> UrlParam:
    """A toggle."""
    return UrlParam(key, "bool")


def text_param(key: str) -> UrlParam:
    """A name the shell looks up itself (a data set, a model key, a job id)."""
    return UrlParam(key, "text")


def printable(value: str) -> bool:
    """No control character, line break, bidi override or zero-width character."""
    return not any(unicodedata.category(c) in _UNPRINTABLE for c in value)


def parse_number(value: str, *, integer: bool) -> float | None:
    """The finite number a URL value writes (an int for an int widget), or None for anything else."""
    text = value.strip()
    if integer:
        if _INT.fullmatch(text):
            return int(text)
        # Streamlit writes an int slider's value as "5"; accept "5.0" too, as it would, but nothing fractional.
        number = parse_number(text, integer=False)
        return int(number) if number is not None and number == int(number) and abs(number) < 2**63 else None
    if not _FLOAT.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def on_step(number: float, start: float, step: float) -> bool:
    """Whether number lies on the grid start + k * step (within a millionth of a step, for float rounding)."""
    k = (number - start) / step
    return abs(k - round(k)) <= _STEP_TOLERANCE


def declarations(params: Iterable[UrlParam]) -> dict[str, UrlParam]:
    """{key: param}, refusing a key declared twice (two widgets would share one parameter)."""
    table: dict[str, UrlParam] = {}
    for param in params:
        assert param.key not in table, f"URL parameter {param.key!r} declared twice"
        table[param.key] = param
    return table


def bad_params(address: Mapping[str, Sequence[str]], declared: Mapping[str, UrlParam]) -> list[str]:
    """The names in an address (each with every value it was given) that must go: unknown, repeated, or a value
    its declaration does not accept. In the address's order."""
    return [
        key
        for key, values in address.items()
        if key not in declared or len(values) != 1 or not declared[key].accepts(values[0])
    ]
