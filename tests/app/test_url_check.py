"""The check of a link's values (ui/shell/url_check.py) over every declared parameter and every hostile value, and
the declarations against what a person or Streamlit would write for each widget."""

from __future__ import annotations

import itertools

import pytest

from tests.app.test_link_fuzz import HOSTILE
from ui.shell.lessons import LESSONS, URL_PARAMS
from ui.shell.url_check import (
    MAX_VALUE_CHARS,
    UrlParam,
    bad_params,
    float_param,
    int_param,
    parse_number,
    printable,
)
from ui.shell.url_state import ALL_PARAMS, SHELL_PARAMS

NON_FINITE = ("nan", "inf", "-inf", "1e309", "-1e309", "NaN", "Infinity", "1e999")


def single(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_no_declared_parameter_takes_a_hostile_value():
    """The full cross product: every parameter any page or the shell reads, every class of hostile value."""
    wrong = []
    for key, hostile in itertools.product(sorted(ALL_PARAMS), HOSTILE):
        param, value = ALL_PARAMS[key], HOSTILE[hostile]
        dropped = bad_params({key: single(value)}, ALL_PARAMS) == [key]
        # A few hostile values are also good ones for some parameters: 0 and -1 in a range that holds them, a
        # label-shaped string for a choice (the widget then checks it against its options: ui.widgets.bound), a
        # path as a model key (looked up among the models, never opened). None may be empty, repeated, over-long
        # or hold a control character, and a number or a switch takes only a finite number in range or a bool.
        must_drop = hostile in {"empty", "repeated", "line break", "unicode/RTL"} or hostile.startswith("100 KB")
        must_drop |= param.kind in {"int", "float", "bool"} and hostile not in {"0", "-1", "off-step"}
        harmless = isinstance(value, str) and param.accepts(value)
        if (must_drop and not dropped) or dropped == harmless:
            wrong.append((key, hostile))
    assert not wrong, wrong


@pytest.mark.parametrize("key", sorted(URL_PARAMS))
def test_every_number_takes_its_bounds_and_refuses_past_them(key):
    param = URL_PARAMS[key]
    if param.kind not in {"int", "float"}:
        return
    assert param.min_value is not None and param.max_value is not None, key
    for good in (param.min_value, param.max_value):
        assert param.accepts(_written(good, param)), (key, good)
    below = param.min_value - (param.step or 1)
    above = param.max_value + (param.step or 1)
    for bad in (below, above, *NON_FINITE):
        assert not param.accepts(bad if isinstance(bad, str) else _written(bad, param)), (key, bad)


def _written(number: float, param: UrlParam) -> str:
    # As Streamlit writes a number into the address: 5 for 5.0, 0.25 as is.
    return str(int(number)) if number == int(number) else repr(number)


def test_a_slider_refuses_a_value_between_its_steps():
    # Each off-step value of the autoencoder lesson's noise slider trained a toy model of its own; it is now a
    # choice among the shipped values, which its widget checks (bound.select_slider).
    steps = URL_PARAMS["interp_steps"]
    assert [steps.accepts(v) for v in ("5", "9", "15")] == [True] * 3
    assert [steps.accepts(v) for v in ("9.5", "4", "16")] == [False] * 3
    assert URL_PARAMS["inference_rho"].accepts("-0.95") and URL_PARAMS["inference_rho"].accepts("0.8")
    assert not URL_PARAMS["inference_rho"].accepts("0.81")


def test_a_number_input_takes_any_value_in_its_bounds():
    beta = URL_PARAMS["train_beta"]
    assert beta.accepts("2.55") and beta.accepts("0") and beta.accepts("50")
    assert not beta.accepts("50.01") and not beta.accepts("1e2")


def test_numbers_are_parsed_as_streamlit_writes_them_and_nothing_else():
    assert parse_number("5", integer=True) == 5 and parse_number("5.0", integer=True) == 5
    assert parse_number("-1", integer=True) == -1
    assert parse_number("5.5", integer=True) is None
    assert parse_number("0x10", integer=True) is None and parse_number("1_000", integer=True) is None
    assert parse_number("9" * 30, integer=True) is None  # past int64: never handed on
    assert parse_number("9" * 100_000, integer=True) is None  # no 100 000-digit int is built
    assert parse_number("1e5", integer=True) == 100_000 and parse_number("1e19", integer=True) is None
    assert parse_number("0.25", integer=False) == 0.25 and parse_number(".5", integer=False) == 0.5
    for bad in (*NON_FINITE, "", " ", "1,5", "١٢٣", "1e", "e5", "--1"):
        assert parse_number(bad, integer=False) is None, bad
        assert parse_number(bad, integer=True) is None, bad


def test_unknown_and_repeated_names_go_and_good_ones_stay():
    address = {
        "grid_n": ["9"],
        "grid_kind": ["Linear"],
        "model": ["shipped/digits-vae-z2"],
        "utm_source": ["x"],
        "grid_extent": ["1", "2"],
        "dataset": ["digits"],
    }
    assert bad_params(address, ALL_PARAMS) == ["utm_source", "grid_extent"]


def test_over_long_and_unprintable_values_go():
    text = ALL_PARAMS["model"]
    assert text.accepts("user/" + "a" * (MAX_VALUE_CHARS - 5))
    assert not text.accepts("user/" + "a" * MAX_VALUE_CHARS)
    for bad in ("a\nb", "a\rb", "a\tb", "\u202eevil", "a\u200bb", "a\u2028b", "a\x00b"):
        assert not printable(bad) and not text.accepts(bad), repr(bad)
    assert printable("β = 4 · Ω ü 🙂 ١٢٣")


def test_each_parameter_is_declared_once_and_the_shell_declares_what_it_reads():
    assert len(ALL_PARAMS) == len(SHELL_PARAMS) + sum(len(lesson.url_params) for lesson in LESSONS.values())
    assert {"dataset", "model", "projector", "ae_section", "train_job", "beta_job", "disent_job"} == {
        p.key for p in SHELL_PARAMS
    }


def test_bounds_and_steps_are_declared_where_they_mean_something():
    with pytest.raises(AssertionError, match="declared twice"):
        from ui.shell.url_check import declarations

        declarations([int_param("a", 0, 1), float_param("a", 0, 1)])
