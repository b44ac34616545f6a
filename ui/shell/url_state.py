"""Shareable state: the settings that define a view live in the URL, so a lecturer can prepare links for slides.

Two mechanisms, one per kind of setting:

- A page's widgets are bound with Streamlit's own `bind="query-params"` (Streamlit 1.67): the widget's key is
  the parameter's name (`?grid_n=9&interp_steps=7`). Streamlit parses and validates the value (a value out of
  range or not among the options is dropped without an error), keeps only non-default values in the URL, has
  the browser update the address on every change (so a fragment's rerun updates it too, which a write-back after
  the page could not do) and drops the parameters of the page one leaves. Choice widgets are written as their
  shown labels (`?interp_method=Spherical`), as Streamlit binds them. `PAGE_VIEW` below lists, per page file,
  which widgets are bound and their defaults: the reset control needs the defaults (deleting a bound widget's
  key would bring the opening URL's value back), and tests/app/test_url_state.py checks the list against what
  each page draws, so it cannot drift.
- The sidebar's data set and model are written here (`?dataset=mnist&model=shipped/mnist-vae-z2`), always, not
  only when they differ from the default: which model is the default depends on the files on a machine, so a
  link for a slide names them. The model is its registry key (vae_core.registry.ModelEntry.key), not its label.
  Like projector mode (ui/shell/projector.py), the URL is read once per session; later the widgets are the truth.

The reset control (`reset_page_control`, drawn by app.py in the sidebar) sets the page's bound widgets back to
their defaults; the data set and model stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

DATASET_PARAM = "dataset"  # the sidebar's data set (a vae_core.data.DATASET_NAMES name)
MODEL_PARAM = "model"  # the sidebar's model, by registry key ("shipped/<name>" or "user/<name>")
URL_READ_KEY = "url_state_read"  # set once the session has read the sidebar's URL parameters
LINK_NOTE_KEY = "url_state_link_note"  # (what the link asked for, the model shown instead) while it is shown
RESET_KEY = "url_state_reset"  # the reset control's button


@dataclass(frozen=True)
class ViewKey:
    """A page widget bound to the URL (its key is the parameter's name) and the value a reset gives it."""

    key: str
    default: object  # what the page's widget opens with; tests/app/test_url_state.py compares them


def _digit_picker(prefix: str, default_class: int) -> tuple[ViewKey, ...]:
    # ui.widgets.shared.digit_picker's bound widgets: where the digit comes from, its class, which one of it.
    return (
        ViewKey(f"{prefix}_source", "test"),
        ViewKey(f"{prefix}_class", default_class),
        ViewKey(f"{prefix}_nth", 0),
    )


# Per page file (app.PAGES), the widgets whose values define the view. Left out on purpose: uploads and drawings
# (not text), per-model knob sliders (their keys and ranges belong to one model), the knobs' "Start from" (its
# labels name the digits, so a link's label would stop matching once A or B changes), buttons, chart selections,
# and the Decoder grid's sample-grid size and temperature (the browser owns them for MLP decoders: no rerun).
PAGE_VIEW: dict[str, tuple[ViewKey, ...]] = {
    "2_latent_space.py": (
        ViewKey("latent_projection", "pca"),  # drawn for latents above 2-D only
        ViewKey("latent_same_axes", True),
        ViewKey("latent_index", 0),
    ),
    "3_decoder_grid.py": (
        # 2-D latents: the grid over the plane
        ViewKey("grid_kind", "quantiles"),
        ViewKey("grid_n", 15),
        ViewKey("grid_extent", 1.0),
        # larger latents: samples and a 2-D slice
        ViewKey("grid_seed", 0),
        ViewKey("grid_dim_x", 0),
        ViewKey("grid_dim_y", 1),
        ViewKey("grid_slice_n", 11),
        ViewKey("grid_slice_range", 3.0),
        ViewKey("grid_anchor", -1),
    ),
    "4_interpolation.py": (
        *_digit_picker("interp_a", default_class=1),
        *_digit_picker("interp_b", default_class=7),
        ViewKey("interp_method", "linear"),
        ViewKey("interp_steps", 9),
        # Only where the walk decodes on the server (a conv decoder): an MLP decoder's walk has its t slider in
        # the browser (ui/widgets/latent_pad.latent_walk), which keeps it out of the URL and starts at 0.5.
        ViewKey("interp_t", 0.5),
    ),
    "5_beta_tradeoff.py": (
        ViewKey("beta_seed", 0),
        ViewKey("beta_n_samples", 10),
    ),
    "6_elbo_breakdown.py": (
        ViewKey("elbo_seed", 0),
        # vae_core.elbo_report.IW_DEFAULT_K: that module imports torch, which ui.shell must not (the first
        # page draws before torch loads); the test that compares these defaults with the page's catches drift.
        ViewKey("elbo_k", 1000),
        ViewKey("elbo_beta", 1.0),
    ),
    "9_conditional_vae.py": _digit_picker("cvae_pick", default_class=2),
}


@dataclass(frozen=True)
class SidebarLink:
    """What the URL that opened the session said about the sidebar (None where it said nothing)."""

    dataset: str | None
    model: str | None


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


def page_view(page_file: str) -> tuple[ViewKey, ...]:
    """The bound widgets of a page file (its name, e.g. "3_decoder_grid.py"); empty for a page with none."""
    return PAGE_VIEW.get(page_file, ())


def reset_page(view: tuple[ViewKey, ...]) -> None:
    """Set a page's bound widgets to their defaults; Streamlit then takes their parameters out of the URL.

    Setting, not deleting: a deleted key would be seeded again from the URL the page was opened with."""
    for view_key in view:
        st.session_state[view_key.key] = view_key.default


def reset_page_control(page_file: str) -> None:
    """The sidebar's "Reset this page" button, for a page with settings in the URL."""
    view = page_view(page_file)
    if not view:
        return
    st.sidebar.button(
        "Reset this page",
        key=RESET_KEY,
        on_click=reset_page,
        args=(view,),
        icon=":material/restart_alt:",
        help="Puts this page's settings back to their defaults (and out of the address). The data set and "
        "model stay. The address bar always holds the current settings: copy it to share this view.",
    )
