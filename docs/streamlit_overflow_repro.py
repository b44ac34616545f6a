"""Minimal reproduction: Streamlit 1.67's int number_input, bound to the URL, raises OverflowError on `?n=inf`.

    python docs/streamlit_overflow_repro.py 2>/dev/null | grep '^streamlit'   # (Streamlit prints the traceback too)

Streamlit parses a bound number_input's URL value with float() and its deserialiser then calls int() on it; the
seeding code (SessionState._seed_widget_from_url) catches ValueError, TypeError and IndexError but not OverflowError,
so `inf`, `-inf` or `1e309` in the address shows an exception box instead of the widget's default. A bound int
slider is not affected (its deserialiser checks math.isfinite first). This app guards on its side: the app shell
drops such values before any widget is drawn (ui/shell/url_check.py, ui/shell/url_state.check_link).
"""

from __future__ import annotations

import os
import tempfile

import streamlit as st
from streamlit.testing.v1 import AppTest


def app() -> None:
    import streamlit as st  # AppTest.from_function runs this function's source as the script

    st.number_input("n", min_value=0, max_value=10, value=0, key="n", bind="query-params")


def main() -> None:
    os.chdir(tempfile.gettempdir())  # Streamlit's default settings: the app's own config redacts the message
    for value in ("5", "inf", "-inf", "1e309", "nan"):
        at = AppTest.from_function(app)
        at.query_params["n"] = value
        at.run()
        shown = f"exception box: {at.exception[0].message}" if at.exception else f"n = {at.number_input(key='n').value}"
        print(f"streamlit {st.__version__}  ?n={value:<6} -> {shown}")


if __name__ == "__main__":
    main()
