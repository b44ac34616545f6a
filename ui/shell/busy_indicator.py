"""A "Working…" badge while the script runs, so a class can see that the app is busy.

Streamlit's own running indicator is a small icon in the top corner, easy to miss from the back of a lecture
hall; this badge, in the theme's primary colour (light and dark themes alike), is pure CSS on the attribute
Streamlit keeps on its app element (data-test-script-state="running" while a run, fragment runs included, is
in progress): no JavaScript, no extra message. It fades in after 0.4 s, so the quick reruns of a slider do not
make it flash.
"""

from __future__ import annotations

import streamlit as st

DELAY_S = 0.4  # runs shorter than this show no badge

_STYLE = f"""
<style>
[data-testid="stApp"][data-test-script-state="running"]::before,
[data-testid="stApp"][data-test-script-state="running"]::after {{
  position: fixed; top: .7rem; z-index: 999990; opacity: 0; pointer-events: none;
  animation: vle-busy-in .2s ease {DELAY_S}s forwards;
}}
[data-testid="stApp"][data-test-script-state="running"]::after {{
  content: "Working…"; right: 4.2rem; padding: .3rem .8rem .3rem 2rem; border-radius: 999px;
  background: var(--st-primary-color, #4C72B0); color: #fff; font: 600 .85rem/1.2 "Source Sans Pro", sans-serif;
  box-shadow: 0 1px 4px rgba(0, 0, 0, .25);
}}
[data-testid="stApp"][data-test-script-state="running"]::before {{
  content: ""; right: calc(4.2rem + 5.6rem); width: .8rem; height: .8rem; margin-top: .3rem; z-index: 999991;
  border: 2px solid rgba(255, 255, 255, .4); border-top-color: #fff; border-radius: 50%;
  animation: vle-busy-in .2s ease {DELAY_S}s forwards, vle-busy-spin .8s linear infinite;
}}
@keyframes vle-busy-in {{ to {{ opacity: 1; }} }}
@keyframes vle-busy-spin {{ to {{ transform: rotate(360deg); }} }}
</style>
"""


def busy_indicator() -> None:
    """Put the badge's style on the page (call once per run, before anything slow)."""
    st.html(_STYLE)
