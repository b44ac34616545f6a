"""Shareable state: the settings that define a view live in the URL, so a lecturer can prepare links for slides.

Two mechanisms, one per kind of setting:

- A page's widgets are bound with Streamlit's own `bind="query-params"` (Streamlit 1.67): the widget's key is
  the parameter's name (`?grid_n=9&interp_steps=7`). Streamlit parses and validates the value (a value out of
  range or not among the options is dropped without an error), keeps only non-default values in the URL, has
  the browser update the address on every change (so a fragment's rerun updates it too, which a write-back after
  the page could not do) and drops the parameters of the page one leaves. Choice widgets are written as their
  shown labels (`?interp_method=Spherical`), as Streamlit binds them, so a bound choice gets short labels and
  says the rest in its help or captions (`?grid_kind=Linear`). Widgets in an st.form bind too (the Train form):
  an edit reaches the address at once, the page's Python on submit. `PAGE_VIEW` below lists, per lesson,
  which widgets are bound and their defaults: the reset control needs the defaults (deleting a bound widget's
  key would bring the opening URL's value back), and tests/app/test_url_state.py checks the list against what
  each page draws, so it cannot drift.
- The sidebar's data set and model are written here (`?dataset=mnist&model=shipped/mnist-vae-z2`), always, not
  only when they differ from the default: which model is the default depends on the files on a machine, so a
  link for a slide names them. The model is its registry key (vae_core.engine.registry.ModelEntry.key), not its label.
  Like projector mode (ui/shell/projector.py), the URL is read once per session; later the widgets are the truth.

The reset control (`reset_page_control`, drawn by app.py in the sidebar) sets the page's bound widgets back to
their defaults; the data set and model stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

DATASET_PARAM = "dataset"  # the sidebar's data set (a vae_core.engine.data.DATASET_NAMES name)
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


def _image_chooser(prefix: str) -> tuple[ViewKey, ...]:
    # ui.widgets.image_chooser.choose_image's bound widgets: the source, the test image, and the seed of the
    # binarised copy (vae_core.engine.protocol.EVAL_BINARIZATION_SEED; drawn for binarised models only).
    return (
        ViewKey(f"{prefix}_source", "test"),
        ViewKey(f"{prefix}_test_index", 0),
        ViewKey(f"{prefix}_binarize_seed", 0),
    )


# Per lesson (its slug in ui.shell.lessons.LESSONS), the widgets whose values define the view. Left out on purpose:
# uploads and drawings (not text), per-model knob sliders (their keys and ranges belong to one model), the knobs'
# "Start from" (its labels name the digits, so a link's label would stop matching once A or B changes), buttons, chart
# selections, the Decoder grid's sample-grid size and temperature (the browser owns them for MLP decoders: no rerun),
# a page's own model pickers (the Inference, Anomaly and Conditional VAE pages' pickers: their defaults follow the
# sidebar's model or the files on a machine, and the sidebar's model is in the URL), widgets whose range or default is
# computed from the data (Inference's ranked list, Anomaly's sets shown, threshold and out-of-distribution set), and
# on the Train page the name (every student following a link would write the same file) and the data set, epochs and
# KL warm-up (they follow the sidebar's data set, which is in the URL).
PAGE_VIEW: dict[str, tuple[ViewKey, ...]] = {
    "autoencoders": (
        # the toy manifold (vae_core.lessons.autoencoders.lesson_models.ToySettings()) and the images
        ViewKey("ae_pca_manifold", "curve"),
        ViewKey("ae_pca_points", 500),
        ViewKey("ae_pca_noise", 0.05),
        ViewKey("ae_pca_k", 2),
    ),
    "sparse_autoencoders": (
        # vae_core.zoo.specs.WIDE_SPARSE_RHO, vae_core.lessons.autoencoders.lesson_models.ACTIVE_THRESHOLD
        ViewKey("ae_sparse_rho", 0.05),
        ViewKey("ae_sparse_index", 0),
        ViewKey("ae_sparse_threshold", 0.1),
    ),
    "denoising_autoencoders": (
        # the toy field, then digits with a noise level per kind of noise (the fourth level)
        ViewKey("ae_dae_manifold", "curve"),
        ViewKey("ae_dae_points", 500),
        ViewKey("ae_dae_noise", 0.05),
        ViewKey("ae_dae_sigma", 0.2),  # vae_core.lessons.autoencoders.lesson_models.TOY_SPECS["dae"].noise
        ViewKey("ae_dae_kind", "gaussian"),
        ViewKey("ae_dae_level_gaussian", 0.3),
        ViewKey("ae_dae_level_mask", 0.5),
        ViewKey("ae_dae_own", False),
        ViewKey("ae_dae_index", 0),
        ViewKey("ae_dae_own_source", "test"),  # the image chooser; the lesson's images are grey, never binarised
        ViewKey("ae_dae_own_test_index", 0),
    ),
    "contractive_autoencoders": (
        # vae_core.lessons.autoencoders.lesson_models.PERTURBATION_NORM, TOY_SPECS["cae"]
        ViewKey("ae_cae_index", 0),
        ViewKey("ae_cae_epsilon", 1.0),
        ViewKey("ae_cae_manifold", "curve"),
        ViewKey("ae_cae_points", 500),
        ViewKey("ae_cae_noise", 0.05),
        ViewKey("ae_cae_weight", 3.0),
        ViewKey("ae_cae_position", 250),  # the middle point of the default 500
    ),
    "latent_space": (
        ViewKey("latent_projection", "pca"),  # drawn for latents above 2-D only
        ViewKey("latent_same_axes", True),
        ViewKey("latent_index", 0),
    ),
    "decoder_grid": (
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
    "interpolation": (
        *_digit_picker("interp_a", default_class=1),
        *_digit_picker("interp_b", default_class=7),
        ViewKey("interp_method", "linear"),
        ViewKey("interp_steps", 9),
        # Only where the walk decodes on the server (a conv decoder): an MLP decoder's walk has its t slider in
        # the browser (ui/widgets/latent_pad.latent_walk), which keeps it out of the URL and starts at 0.5.
        ViewKey("interp_t", 0.5),
    ),
    "beta_tradeoff": (
        ViewKey("beta_seed", 0),
        ViewKey("beta_n_samples", 10),
    ),
    "elbo_breakdown": (
        ViewKey("elbo_seed", 0),
        # vae_core.lessons.elbo_report.IW_DEFAULT_K: that module imports torch, which ui.shell must not (the first
        # page draws before torch loads); the test that compares these defaults with the page's catches drift.
        ViewKey("elbo_k", 1000),
        ViewKey("elbo_beta", 1.0),
        *_image_chooser("elbo"),
    ),
    "train": (
        # the Train form: a link can prepare "a β = 4 VAE with an 8-D latent"; Train still needs a click
        ViewKey("train_kind", "vae"),
        ViewKey("train_arch", "mlp"),
        ViewKey("train_size", "medium"),
        ViewKey("train_latent", 2),
        ViewKey("train_beta", 1.0),
        ViewKey("train_lr", 1e-3),
    ),
    "anomaly_detection": (
        ViewKey("anomaly_subset", 500),
        ViewKey("anomaly_k", 50),
        ViewKey("anomaly_score", "iw_nll"),
        *_image_chooser("anomaly"),
    ),
    "inference": (
        # 1 · the true posterior of one image
        ViewKey("inference_source", "index"),
        ViewKey("inference_index", 0),
        *_image_chooser("inference_own"),
        ViewKey("inference_q_star", True),
        ViewKey("inference_view", "q"),
        # 2 · mean-field; 3 · forward and reverse KL
        ViewKey("inference_rho", 0.8),
        ViewKey("inference_mixture_dim", 1),
        ViewKey("inference_separation", 6.0),
        ViewKey("inference_weight", 0.7),
        ViewKey("inference_start", "A"),
    ),
    "conditional_vae": (
        ViewKey("cvae_rows", 6),
        ViewKey("cvae_seed", 0),
        *_digit_picker("cvae_pick", default_class=2),
    ),
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


def page_view(slug: str) -> tuple[ViewKey, ...]:
    """The bound widgets of a lesson (its slug, e.g. "decoder_grid"); empty for a page with none."""
    return PAGE_VIEW.get(slug, ())


def reset_page(view: tuple[ViewKey, ...]) -> None:
    """Set a page's bound widgets to their defaults; Streamlit then takes their parameters out of the URL.

    Setting, not deleting: a deleted key would be seeded again from the URL the page was opened with."""
    for view_key in view:
        st.session_state[view_key.key] = view_key.default


def reset_page_control(slug: str) -> None:
    """The sidebar's "Reset this page" button, for a lesson (its slug) with settings in the URL."""
    view = page_view(slug)
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
