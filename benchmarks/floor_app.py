"""Streamlit's own floor for benchmarks/class_load.py --floor: the same page names and kinds of sliders, no lesson.

Each page draws a title, a slider outside a fragment, one inside a fragment and a line of text, so a session of
the load generator does what it does on the app (switch pages, move sliders, fragment reruns), and what the server
spends per action is Streamlit's own cost: its script runner, protobufs and websocket, nothing of ours.
"""

from __future__ import annotations

import streamlit as st

PAGE_NAMES = ("Home", "Latent space", "Decoder grid", "Interpolation")


def page_body(name: str) -> None:
    st.title(name)
    outside = st.slider("Outside a fragment", 0, 100, 50, key=f"{name}-outside")
    st.write(f"{name}: {outside}")

    @st.fragment
    def inside() -> None:
        value = st.slider("Inside a fragment", 0, 100, 50, key=f"{name}-inside")
        st.write(f"fragment value {value}")

    inside()


def main() -> None:
    pages = [
        st.Page(lambda name=name: page_body(name), title=name, url_path=name.lower().replace(" ", "-") or "home")
        for name in PAGE_NAMES
    ]
    st.navigation(pages).run()


main()
