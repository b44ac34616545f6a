"""VAE Latent Explorer: `streamlit run app.py`.

The entry point only sets the page config, builds the navigation from the lesson registry (ui/shell/lessons.py) and
draws the shared sidebar; each page is a short script of one lesson, reading the sidebar's choice with
ui.shell.sidebar.current_selection().
The settings that define a view are in the URL (ui/shell/url_state.py), with a "Reset this page" control.
"""

from pathlib import Path

import streamlit as st

from ui.shell import url_state, warmup
from ui.shell.busy_indicator import busy_indicator
from ui.shell.lessons import HOME, LESSONS
from ui.shell.navigation import leave_legacy_pages_mode
from ui.shell.projector import projector_style, projector_switch, sidebar_state
from ui.shell.sidebar import draw_sidebar
from ui.widgets.export import figure_format_choice

APP_DIR = Path(__file__).parent  # the lessons' scripts are relative to it (ui.shell.lessons.Lesson.script)


def main() -> None:
    warmup.run_started()  # the background imports wait while runs are in progress (ui/shell/warmup.py)
    try:
        draw_app()
    finally:
        warmup.run_finished()  # torch and friends load in the background once the runs are quiet


def draw_app() -> None:
    warmup.import_shared_modules()  # first: no session may meet a half-imported pandas (ui/shell/warmup.py)
    leave_legacy_pages_mode()  # a folder named pages/ would otherwise start Streamlit in its old mode
    st.set_page_config(
        page_title="VAE Latent Explorer", page_icon="🧭", layout="wide", initial_sidebar_state=sidebar_state()
    )
    busy_indicator()  # a class sees that a run is in progress (ui/shell/busy_indicator.py)
    url_state.check_link()  # a link's values are checked before any widget sees them (ui/shell/url_check.py)
    # One page per lesson, in the registry's order; an explicit url_path keeps each address whatever the file is called.
    pages = {
        lesson.slug: st.Page(
            APP_DIR / lesson.script, title=lesson.title, icon=lesson.icon, url_path=lesson.slug, default=lesson is HOME
        )
        for lesson in LESSONS.values()
    }
    # expanded: every lesson listed, as before the split (Streamlit folds a menu of more than 12 pages to 10).
    page = st.navigation(list(pages.values()), expanded=True)
    st.sidebar.title("VAE Latent Explorer")
    draw_sidebar()
    # url_path is how the navigation's page is told apart (the default page's is "").
    lesson = next(LESSONS[slug] for slug, p in pages.items() if p.url_path == page.url_path)
    url_state.reset_page_control(lesson)  # "Reset this page" (ui/shell/url_state.py)
    projector_switch()  # projector mode: the sidebar's switch and ?projector=1 (ui/shell/projector.py)
    projector_style()
    figure_format_choice()  # what the charts' camera button saves: PNG or SVG (ui/widgets/export.py)
    page.run()


# Streamlit runs this script as a module named "__main__" and installs it as sys.modules["__main__"], so
# multiprocessing's spawn (the t-SNE child, vae_core.serving.tsne_job) re-runs it in each child as "__mp_main__":
# the guard keeps a child from drawing the app and starting the warm-up thread, whose torch import raced the child's.
if __name__ == "__main__":
    main()
