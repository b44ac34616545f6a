"""Shareable state: the settings that define a view live in the URL, so a lecturer can prepare links for slides.

Two mechanisms, one per kind of setting:

- A page's widgets are bound with Streamlit's own `bind="query-params"` (Streamlit 1.67), through ui.widgets.bound:
  the widget's key is the parameter's name (`?grid_n=9&interp_steps=7`). Streamlit parses and validates the value (a
  value out of range or not among the options is dropped without an error), keeps only non-default values in the
  URL, has the browser update the address on every change (so a fragment's rerun updates it too, which a write-back
  after the page could not do) and drops the parameters of the page one leaves. Choice widgets are written as their
  shown labels (`?interp_method=Spherical`), as Streamlit binds them, so a bound choice gets short labels and says
  the rest in its help or captions (`?grid_kind=Linear`). Widgets in an st.form bind too (the Train form): an edit
  reaches the address at once, the page's Python on submit. Each lesson lists its bound widgets' keys
  (ui.shell.lessons.Lesson.url_keys); ui.widgets.bound records each widget's default where it is drawn. The reset
  control needs those defaults (deleting a bound widget's key would bring the opening URL's value back), and
  tests/app/test_url_state.py checks the lists and the records against what each page draws, so neither can drift.
- The sidebar's data set and model are written here (`?dataset=mnist&model=shipped/mnist-vae-z2`), always, not
  only when they differ from the default: which model is the default depends on the files on a machine, so a
  link for a slide names them. The model is its registry key (vae_core.engine.registry.ModelEntry.key), not its label.
  Like projector mode (ui/shell/projector.py), the URL is read once per session; later the widgets are the truth.

The reset control (`reset_page_control`, drawn by app.py in the sidebar) sets the page's bound widgets back to
their defaults; the data set and model stay.

Every value in the address is input from whoever wrote the link. `check_link`, first thing in every run of app.py,
drops what no widget would take (ui/shell/url_check.py says what that is) before any widget is drawn, and shows one
quiet note.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui.shell.lessons import URL_PARAMS, Lesson
from ui.shell.projector import PROJECTOR_KEY
from ui.shell.url_check import bad_params, choice_param, declarations, text_param
from ui.widgets import bound

DATASET_PARAM = "dataset"  # the sidebar's data set (a vae_core.engine.data.DATASET_NAMES name)
MODEL_PARAM = "model"  # the sidebar's model, by registry key ("shipped/<name>" or "user/<name>")
URL_READ_KEY = "url_state_read"  # set once the session has read the sidebar's URL parameters
LINK_NOTE_KEY = "url_state_link_note"  # (what the link asked for, the model shown instead) while it is shown
RESET_KEY = "url_state_reset"  # the reset control's button
DROPPED_KEY = "url_state_dropped"  # session state: the run before this one dropped values from the address
OLD_PART_PARAM = "ae_section"  # the autoencoder family's part, from links made before it was split in four pages
# a training job's id (the JOB_KEY of pages/train.py, pages/beta_tradeoff.py, pages/disentanglement.py)
JOB_PARAMS = ("train_job", "beta_job", "disent_job")
# The parameters the shell and the pages read themselves, beside the lessons' bound widgets.
SHELL_PARAMS = (
    text_param(DATASET_PARAM),
    text_param(MODEL_PARAM),
    text_param(PROJECTOR_KEY),
    choice_param(OLD_PART_PARAM),
    *(text_param(key) for key in JOB_PARAMS),
)
ALL_PARAMS = declarations([*SHELL_PARAMS, *URL_PARAMS.values()])


@dataclass(frozen=True)
class SidebarLink:
    """What the URL that opened the session said about the sidebar (None where it said nothing)."""

    dataset: str | None
    model: str | None


def check_link() -> None:
    """Drop from the address every value no widget would take, then run again on the clean address (Streamlit seeds
    a widget from the address the run started with), and say so once. First thing in every run, before any widget.
    """
    st.session_state[bound.NOTED_KEY] = False
    address = {name: st.query_params.get_all(name) for name in st.query_params}
    dropped = [name for name in bad_params(address, ALL_PARAMS) if _drop(name)]
    if dropped:
        st.session_state[DROPPED_KEY] = True
        st.rerun()
    if st.session_state.get(DROPPED_KEY):
        st.session_state[DROPPED_KEY] = False
        bound.note_link_reset()


def _drop(name: str) -> bool:
    try:
        del st.query_params[name]
    except StreamlitAPIException:  # bound to a widget already drawn: that widget owns it (and wrote it)
        return False
    return True


def sidebar_link() -> SidebarLink | None:
    """On a session's first run, the URL's data set and model; None on every later run (the widgets rule then)."""
    if st.session_state.get(URL_READ_KEY):
        return None
    st.session_state[URL_READ_KEY] = True
    return SidebarLink(dataset=st.query_params.get(DATASET_PARAM), model=st.query_params.get(MODEL_PARAM))


def write_sidebar(dataset: str, model_key: str | None) -> None:
    """Put the sidebar's choice in the URL (each run; only what changed is written, so a run sends nothing new)."""
    _set_param(DATASET_PARAM, dataset)
    _set_param(MODEL_PARAM, model_key)


def _set_param(name: str, value: str | None) -> None:
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


def remember_missing_model(asked: str, shown: str) -> None:
    """The link named a model that is not here: keep a note until another model is picked."""
    st.session_state[LINK_NOTE_KEY] = (asked, shown)


def missing_model_note(shown: str) -> str | None:
    """The model the link asked for, while the model it fell back to is still the one shown; else None."""
    note = st.session_state.get(LINK_NOTE_KEY)
    if note is None:
        return None
    asked, fallback = note
    if fallback != shown:  # another model was picked: the note has done its job
        del st.session_state[LINK_NOTE_KEY]
        return None
    return asked


def reset_page(keys: tuple[str, ...]) -> None:
    """Set a lesson's bound widgets to the defaults recorded where they were drawn; Streamlit then takes their
    parameters out of the URL. Setting, not deleting: a deleted key would be seeded again from the URL the page was
    opened with. A key this session never drew holds no value, only (maybe) a parameter in the address: it goes."""
    drawn = bound.recorded()
    for key in keys:
        if key in drawn:
            st.session_state[key] = drawn[key].default
        elif key in st.query_params:
            del st.query_params[key]


def reset_page_control(lesson: Lesson) -> None:
    """The sidebar's "Reset this page" button, for a lesson with settings in the URL."""
    if not lesson.url_keys:
        return
    st.sidebar.button(
        "Reset this page",
        key=RESET_KEY,
        on_click=reset_page,
        args=(lesson.url_keys,),
        icon=":material/restart_alt:",
        help="Puts this page's settings back to their defaults (and out of the address). The data set and "
        "model stay. The address bar always holds the current settings: copy it to share this view.",
    )
