"""Keep Streamlit out of its legacy pages-folder mode, which a folder named pages/ next to app.py triggers.

Streamlit decides per server process, before any script runs, whether the app uses the old "pages/ folder"
navigation: it does whenever such a folder exists, until some run calls st.navigation. So the first browser
session after every (re)start got the legacy menu (app, home, latent space, …) and a blank page, and a deep
link there ran the page file without app.py. Both app.py and the pages call leave_legacy_pages_mode() first:
it switches the mode off and reruns, and the rerun goes through app.py's st.navigation as it should.

Streamlit offers no public switch for this, so the shim sets the flag st.navigation itself sets. requirements.txt
bounds Streamlit to the versions tests/app/test_navigation.py has checked; that test fails loudly when an
upgrade changes PagesManager or st.navigation.

Looked at again for issue #21 (December 2026): 1.67.0 is the newest Streamlit release on PyPI, so there are no
release notes after it to read. Its documentation still says that a pages/ folder next to the entry point selects
the legacy mode until some session runs st.navigation ("As soon as any session of your app executes the
st.navigation command, your app will ignore the pages/ directory"), and its configuration has no option for it:
`client.showSidebarNavigation` only hides the menu, the legacy routing stays. The one public way out is to rename
the folder, which the project's stated layout (app.py, pages/, vae_core, ...) rules out; so the shim stays, until a
release offers a switch (then drop the shim, its test and the bound in requirements.txt).
"""

from __future__ import annotations

import streamlit as st


def leave_legacy_pages_mode() -> None:
    """If Streamlit is still in its legacy pages-folder mode, leave it and rerun the app (else do nothing)."""
    from streamlit.runtime.pages_manager import PagesManager  # internal, hence imported where it is used

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself does on its first call
        st.rerun()
