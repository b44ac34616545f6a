"""Keep Streamlit out of its legacy pages-folder mode, which a folder named pages/ next to app.py triggers.

Streamlit decides per server process, before any script runs, whether the app uses the old "pages/ folder"
navigation: it does whenever such a folder exists, until some run calls st.navigation. So the first browser
session after every (re)start got the legacy menu (app, home, latent space, …) and a blank page, and a deep
link there ran the page file without app.py. Both app.py and the pages call leave_legacy_pages_mode() first:
it switches the mode off and reruns, and the rerun goes through app.py's st.navigation as it should.

Streamlit offers no public switch for this, so the shim sets the flag st.navigation itself sets. requirements.txt
bounds Streamlit to the versions tests/app/test_navigation.py has checked; that test fails loudly when an
upgrade changes PagesManager or st.navigation.
"""

from __future__ import annotations

import streamlit as st


def leave_legacy_pages_mode() -> None:
    """If Streamlit is still in its legacy pages-folder mode, leave it and rerun the app (else do nothing)."""
    from streamlit.runtime.pages_manager import PagesManager  # internal, hence imported where it is used

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself does on its first call
        st.rerun()
