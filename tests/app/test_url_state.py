"""Shareable state (ui/shell/url_state.py): a link with settings opens a page in that state, the widgets keep the
URL in step, bad values are ignored, a missing model falls back with a note, and "Reset this page" resets.

AppTest has no browser: a bound widget's change reaches the address bar through the browser (which is how a
fragment's rerun updates it), so here a page widget is checked to be bound under its key, and the last test
drives the real app in Chromium to see the address change.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE, APP_TIMEOUT_S
from tests.browser_marks import needs_browser
from tests.conftest import train_tiny_checkpoint
from tools.app_browser import chromium_page, open_app, running_app, wait_for_idle
from ui.shell.lessons import LESSONS, URL_PARAMS
from ui.shell.sidebar import DATASET_KEY, MODEL_KEY
from ui.shell.url_check import UrlParam
from ui.shell.url_state import DATASET_PARAM, MODEL_PARAM, RESET_KEY
from ui.widgets.bound import RECORDS_KEY, UrlBinding
from vae_core.lessons.latent_paths import INTERPOLATIONS
from vae_core.serving.train_request import default_epochs
from vae_core.zoo.specs import disentanglement_specs

AUTOENCODERS = "autoencoders"
GRID = "decoder_grid"
INTERPOLATION = "interpolation"
LATENT = "latent_space"
TRAIN = "train"
INFERENCE = "inference"
ANOMALY = "anomaly_detection"
CONDITIONAL = "conditional_vae"
ELBO = "elbo_breakdown"
# Choices are written as the labels they show (url_state's docstring); these are the pages' labels.
AE_SECTIONS = ("1 · Undercomplete AE and PCA", "2 · Sparse AE", "3 · Denoising AE", "4 · Contractive AE")
AE_MASKING = "Masking"
INFERENCE_OWN = "Upload or drawing"
SMALL_STUDY = {"anomaly_subset": "250", "anomaly_k": "10"}  # the page's smallest study: quick to score
VAE_2D, AE_2D, VAE_4D = "shipped/digits-vae-z2", "shipped/digits-ae-z2", "shipped/digits-vae-z4"
BINARISED = "user/digits-vae-z2-bin"  # in the more_models folder below

# The kinds of widget a page binds (AppTest has one accessor per kind).
WIDGET_KINDS = (
    "slider",
    "number_input",
    "selectbox",
    "radio",
    "toggle",
    "checkbox",
    "select_slider",
    "segmented_control",
)


def opened(lesson: str, **params: str) -> AppTest:
    """The app opened from a link to a lesson (its slug) with these URL parameters, after its first run (which
    must not fail)."""
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(LESSONS[lesson].script).run()
    assert not at.exception, at.exception
    return at


def widget(at: AppTest, key: str):
    """The widget with this key, whatever its kind (each key is drawn once)."""
    (found,) = [w for kind in WIDGET_KINDS for w in getattr(at, kind) if w.key == key]
    return found


def bound_keys(at: AppTest) -> set[str]:
    """Keys of the widgets Streamlit writes to the URL (the frontend reads query_param_key)."""
    return {w.key for kind in WIDGET_KINDS for w in getattr(at, kind) if w.proto.query_param_key}


def test_a_link_opens_the_decoder_grid_in_its_state(app_env, navigation_only):
    linear = opened(GRID, model=VAE_2D).radio(key="grid_kind").options[1]  # the label the URL holds
    assert linear == "Linear", "a short label keeps the URL readable (?grid_kind=Linear)"
    at = opened(GRID, **{DATASET_PARAM: "digits", MODEL_PARAM: AE_2D, "grid_kind": linear, "grid_n": "9"})
    assert at.sidebar.selectbox(key=MODEL_KEY).value == AE_2D
    assert at.radio(key="grid_kind").value == "linear"
    assert at.slider(key="grid_n").value == 9
    assert at.slider(key="grid_extent").disabled is False  # the page followed the linear grid, not only the widget


def test_a_link_opens_interpolation_on_its_digits_path_and_steps(app_env, navigation_only, server_side_decoding):
    # With server-side decoding, where t is a Streamlit slider bound to the URL (an MLP's t lives in the browser).
    at = opened(
        INTERPOLATION,
        model=VAE_2D,
        interp_a_class="3",
        interp_b_nth="2",
        interp_method=INTERPOLATIONS[1].capitalize(),  # the radio's label
        interp_steps="13",
        interp_t="0.25",
    )
    assert at.selectbox(key="interp_a_class").value == 3
    assert at.number_input(key="interp_b_nth").value == 2
    assert at.radio(key="interp_method").value == INTERPOLATIONS[1]
    assert at.slider(key="interp_steps").value == 13
    assert at.slider(key="interp_t").value == 0.25
    assert any(c.value.startswith("13 evenly spaced steps") for c in at.caption)


def test_a_link_opens_the_latent_space_on_its_image(app_env, navigation_only):
    at = opened(LATENT, model=VAE_2D, latent_same_axes="false", latent_index="42")
    assert at.toggle(key="latent_same_axes").value is False
    assert at.number_input(key="latent_index").value == 42
    assert any(m.value.startswith("**Test image #42**") for m in at.markdown)


def test_a_link_from_before_the_split_opens_the_autoencoder_part_it_names_with_its_settings(app_env, navigation_only):
    # The family was one page, /autoencoders, with its part in ?ae_section=; each part is now a page of its own.
    at = opened(AUTOENCODERS, model=VAE_2D, ae_section=AE_SECTIONS[1], ae_sparse_rho="0.2", ae_sparse_index="5")
    assert at.segmented_control(key="ae_part_sparse_autoencoders").value == AE_SECTIONS[1]
    assert (at.slider(key="ae_sparse_rho").value, at.number_input(key="ae_sparse_index").value) == (0.2, 5)
    assert any(c.value.startswith("For ρ = 0.2: a unit at") for c in at.caption), "the sparse part follows ρ"
    assert not [w for w in at.slider if w.key == "ae_pca_k"], "one part at a time: part 1 is not drawn"
    assert "ae_section" not in at.query_params and at.query_params[MODEL_PARAM] == VAE_2D
    first = opened(AUTOENCODERS, model=VAE_2D, ae_section=AE_SECTIONS[0], ae_pca_k="16")
    assert first.slider(key="ae_pca_k").value == 16 and "ae_section" not in first.query_params


def test_a_link_prepares_the_train_form_and_reset_clears_it(app_env, navigation_only):
    at = opened(TRAIN, dataset="digits", train_arch="Conv", train_latent="8", train_beta="4")
    assert at.selectbox(key="train_kind").value == "vae"
    assert (at.selectbox(key="train_arch").value, at.select_slider(key="train_latent").value) == ("conv", 8)
    assert at.number_input(key="train_beta").value == 4.0
    assert at.slider(key="train_epochs").value == default_epochs("digits"), "epochs still follow the data set"
    at.sidebar.button(key=RESET_KEY).click().run()
    assert not at.exception, at.exception
    assert (at.selectbox(key="train_arch").value, at.number_input(key="train_beta").value) == ("mlp", 1.0)
    assert not {"train_arch", "train_latent", "train_beta"} & set(at.query_params)


def test_a_link_opens_inference_on_its_image_and_targets(app_env, navigation_only):
    at = opened(INFERENCE, model=VAE_2D, inference_index="7", inference_q_star="false", inference_rho="-0.5")
    assert at.number_input(key="inference_index").value == 7
    assert at.toggle(key="inference_q_star").value is False
    assert at.slider(key="inference_rho").value == -0.5
    # mean-field under reverse KL keeps 1 − ρ² of each marginal variance: the page computed it for ρ = −0.5
    (ratio,) = [m.value for m in at.metric if m.label == "Reverse-KL variance ÷ true variance"]
    assert ratio == "0.750"
    assert not [m for m in at.metric if m.label == "ELBO of q*"], "q* was not fitted"


def test_a_link_opens_the_anomaly_page_on_its_study_and_score(app_env, navigation_only):
    score_labels = opened(ANOMALY, model=VAE_2D, **SMALL_STUDY).radio(key="anomaly_score").options
    other = next(label for label in score_labels if not label.startswith("IW"))  # the default is the IW score
    at = opened(ANOMALY, model=VAE_2D, anomaly_score=other, **SMALL_STUDY)
    assert (at.select_slider(key="anomaly_subset").value, at.select_slider(key="anomaly_k").value) == (250, 10)
    assert at.slider(key="anomaly_threshold").label.startswith(f"Threshold on {other} ")
    assert any("K = 10, seed" in c.value for c in at.caption)


def test_a_link_opens_the_conditional_vae_on_its_draws(app_env, navigation_only, more_models, monkeypatch):
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(more_models))
    at = opened(CONDITIONAL, model=VAE_2D, cvae_rows="3", cvae_seed="5", cvae_pick_class="4")
    assert (at.slider(key="cvae_rows").value, at.number_input(key="cvae_seed").value) == (3, 5)
    assert at.selectbox(key="cvae_pick_class").value == 4


def test_a_link_opens_the_image_chooser_on_its_test_image_and_seed(app_env, navigation_only, more_models, monkeypatch):
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(more_models))
    at = opened(ELBO, model=BINARISED, elbo_test_index="12", elbo_binarize_seed="3")
    assert (at.number_input(key="elbo_test_index").value, at.number_input(key="elbo_binarize_seed").value) == (12, 3)
    assert any(c.value.startswith("Test image 12, a ") for c in at.caption)
    assert any("(seed 3)" in c.value for c in at.caption), "the binarised copy uses the link's seed"
    drawing = opened(ELBO, model=VAE_2D, elbo_source="Draw")
    assert drawing.radio(key="elbo_source").value == "draw"
    assert not [w for w in drawing.number_input if w.key == "elbo_test_index"]


def test_bad_values_in_a_link_are_ignored_and_leave_the_url(app_env, navigation_only):
    at = opened(GRID, dataset="no-such-data", model=VAE_2D, grid_n="999", grid_kind="<script>", grid_extent="abc")
    assert at.sidebar.selectbox(key=DATASET_KEY).value == "digits"
    assert any("no-such-data" in w.value for w in at.sidebar.warning)
    assert (at.slider(key="grid_n").value, at.radio(key="grid_kind").value) == (15, "quantiles")
    assert at.slider(key="grid_extent").value == 1.0
    assert not {"grid_n", "grid_kind", "grid_extent"} & set(at.query_params)
    assert at.query_params[DATASET_PARAM] == "digits"


def test_a_link_to_a_missing_model_falls_back_to_the_default_with_a_note(app_env, navigation_only):
    at = opened(GRID, dataset="digits", model="shipped/not-on-this-machine")
    assert at.sidebar.selectbox(key=MODEL_KEY).value == VAE_2D  # the data set's default model
    assert at.query_params[MODEL_PARAM] == VAE_2D  # the URL now says what is shown
    (note,) = [w.value for w in at.sidebar.warning if "not-on-this-machine" in w.value]
    assert "default model" in note
    at.slider(key="grid_n").set_value(9).run()
    assert any("not-on-this-machine" in w.value for w in at.sidebar.warning), "the note stays while it applies"
    at.sidebar.selectbox(key=MODEL_KEY).set_value(AE_2D).run()
    assert not any("not-on-this-machine" in w.value for w in at.sidebar.warning)


def test_the_sidebar_writes_the_data_set_and_the_models_registry_key(open_page):
    at = open_page(LESSONS[GRID].script)
    assert (at.query_params[DATASET_PARAM], at.query_params[MODEL_PARAM]) == ("digits", VAE_2D)
    at.sidebar.selectbox(key=MODEL_KEY).set_value(VAE_4D).run()
    assert at.query_params[MODEL_PARAM] == VAE_4D


def test_the_url_read_happens_once_then_the_widgets_rule(app_env, navigation_only):
    at = opened(GRID, model=AE_2D)
    at.sidebar.selectbox(key=MODEL_KEY).set_value(VAE_2D).run()  # the URL said AE during this run
    at.run()
    assert at.sidebar.selectbox(key=MODEL_KEY).value == VAE_2D
    assert at.query_params[MODEL_PARAM] == VAE_2D


def test_a_page_switch_keeps_the_sidebars_settings(app_env, navigation_only):
    # That the grid's own parameters leave the address is the browser's part (the last test).
    at = opened(GRID, model=AE_2D, grid_n="9")
    at.switch_page(LESSONS[INTERPOLATION].script).run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key=MODEL_KEY).value == AE_2D
    assert at.query_params[MODEL_PARAM] == AE_2D


def test_reset_this_page_restores_the_defaults_and_clears_them_from_the_url(
    app_env, navigation_only, server_side_decoding
):
    at = opened(INTERPOLATION, model=AE_2D, interp_steps="13", interp_a_class="4")
    at.slider(key="interp_t").set_value(0.8).run()
    at.sidebar.button(key=RESET_KEY).click().run()
    assert not at.exception, at.exception
    assert (at.slider(key="interp_steps").value, at.slider(key="interp_t").value) == (9, 0.5)
    assert at.selectbox(key="interp_a_class").value == 1
    assert not {"interp_steps", "interp_a_class"} & set(at.query_params)
    assert at.sidebar.selectbox(key=MODEL_KEY).value == AE_2D, "the data set and model stay"


def test_pages_without_settings_in_the_url_have_no_reset_control(open_page):
    at = open_page()  # the home page
    assert not [b for b in at.sidebar.button if b.key == RESET_KEY]


@pytest.fixture(scope="module")
def more_models(tmp_path_factory) -> Path:
    """A user folder with what the tiny zoo lacks: a binarised VAE (the ELBO page's K slider needs a likelihood
    model), a conditional VAE (the Conditional VAE page) and the shipped sprites models (the Disentanglement page's
    own, whatever the sidebar's data set)."""
    folder = tmp_path_factory.mktemp("url_state_models")
    train_tiny_checkpoint(folder / "digits-vae-z2-bin.safetensors", epochs=1, binarized=True)
    train_tiny_checkpoint(
        folder / "digits-cvae-z2.safetensors", kind="cvae", epochs=1, role="conditional", group="cvae"
    )
    for spec in disentanglement_specs():
        shutil.copy(APP_FILE.parent / "checkpoints" / spec.filename, folder / spec.filename)
    return folder


# (page, model, URL parameters): together they draw every widget a page binds (2-D and larger latents, the parts
# of a page and the sources of an image draw different ones). A parameter opens a part; the Anomaly page's also
# keep its study small.
OPENINGS: list[tuple[str, str, dict[str, str]]] = [
    (AUTOENCODERS, VAE_2D, {}),
    ("sparse_autoencoders", VAE_2D, {}),
    ("denoising_autoencoders", VAE_2D, {}),
    ("denoising_autoencoders", VAE_2D, {"ae_dae_own": "true", "ae_dae_kind": AE_MASKING}),
    ("contractive_autoencoders", VAE_2D, {}),
    (LATENT, VAE_2D, {}),
    (LATENT, VAE_4D, {}),
    (GRID, VAE_2D, {}),
    (GRID, VAE_4D, {}),
    (INTERPOLATION, VAE_2D, {}),
    ("beta_tradeoff", VAE_2D, {}),  # the page shows the data set's β sweep, whichever model is picked
    ("disentanglement", VAE_2D, {}),  # the page shows its sprites models, whichever model is picked
    (ELBO, VAE_2D, {}),
    (ELBO, BINARISED, {}),
    (TRAIN, VAE_2D, {}),
    (INFERENCE, VAE_2D, {}),
    (INFERENCE, BINARISED, {"inference_source": INFERENCE_OWN}),
    (ANOMALY, VAE_2D, SMALL_STUDY),
    (ANOMALY, BINARISED, SMALL_STUDY),
    (CONDITIONAL, VAE_2D, {}),
    ("home", VAE_2D, {}),  # no settings in the URL: nothing may be bound
]
# Openings as for a conv model (no browser decoder), after the page's others: Interpolation's t is a bound slider
# only where the walk decodes on the server (an MLP's walk keeps its t in the browser, out of the URL).
# The same goes for the strip's steps and the β page's samples per β, whose sliders an MLP's component draws itself
# (ui.widgets.bound.browser_slider_value keeps them in the URL; tests/app/test_decoded_rows.py checks that).
SERVER_SIDE_OPENINGS: list[tuple[str, str, dict[str, str]]] = [
    (INTERPOLATION, VAE_2D, {}),
    ("beta_tradeoff", VAE_2D, {}),
]


def assert_recorded_as_drawn(record: UrlBinding, drawn) -> None:
    """The record ui.widgets.bound made for a widget holds what the widget was drawn with."""
    assert record.widget == drawn.type, (record, drawn.type)
    if record.widget in {"slider", "number_input"}:
        assert (record.min_value, record.max_value) == (drawn.min, drawn.max), record
        assert type(drawn.value) is record.value_type, (record, drawn.value)
        if record.widget == "slider":
            assert record.step == pytest.approx(drawn.proto.step), (record, drawn.proto.step)
    elif record.widget == "toggle":
        assert record.value_type is bool
    else:  # a choice: the URL holds one of its labels
        assert record.labels == tuple(drawn.options), record
        assert type(record.default) is record.value_type


def assert_declared_as_drawn(declared: UrlParam, record: UrlBinding) -> None:
    """The lesson's declaration (ui.shell.lessons), which the shell checks a link against before the page runs, is
    the widget's type, holds the widget's bounds as drawn (the declaration: the widest any data set gives), and has
    the slider's step (a value between steps is refused)."""
    if record.widget in {"slider", "number_input"}:
        assert declared.kind == record.value_type.__name__, (declared, record)
        assert declared.min_value is not None and declared.max_value is not None, declared
        assert declared.min_value <= record.min_value and record.max_value <= declared.max_value, (declared, record)
        if record.step is None:  # a number input takes any value in its bounds
            assert declared.step is None, (declared, record)
        else:
            assert declared.step == pytest.approx(record.step), (declared, record)
        if declared.step is not None:  # the widget's own bounds lie on the declared steps
            assert declared.admits(record.min_value) and declared.admits(record.max_value), (declared, record)
    elif record.widget == "toggle":
        assert declared.kind == "bool", declared
    else:
        assert declared.kind == "choice", declared
        assert all(declared.accepts(label) for label in record.labels), (declared, record.labels)


@pytest.mark.parametrize("page", sorted({page for page, _, _ in OPENINGS}))
def test_the_list_of_a_pages_settings_is_what_the_page_binds(
    app_env, navigation_only, more_models, monkeypatch, request, page
):
    """Every key a lesson lists (ui.shell.lessons) is a widget its page binds to the URL, and every widget the page
    binds is listed (the reset control resets exactly those). Each bound widget was recorded (ui.widgets.bound) with
    the default it opens with (where the opening's URL did not set it), its type and its bounds or labels, and the
    lesson declares it with that type, bounds that hold its own and its step."""
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(more_models))
    listed = set(LESSONS[page].url_keys)
    seen: set[str] = set()
    openings = [o for o in OPENINGS if o[0] == page]
    for number, (_, model, params) in enumerate(openings + [o for o in SERVER_SIDE_OPENINGS if o[0] == page]):
        if number == len(openings):  # from here on, decoded on the server
            request.getfixturevalue("server_side_decoding")
        at = opened(page, model=model, **params)
        bound = bound_keys(at)
        assert bound <= listed, f"bound on {page} but not listed: {bound - listed}"
        records = {}  # AppTest's session state has no .get; a page that binds nothing records nothing
        if RECORDS_KEY in at.session_state:
            records = at.session_state[RECORDS_KEY]
        for key in bound:
            drawn = widget(at, key)
            assert drawn.proto.query_param_key == key
            assert_recorded_as_drawn(records[key], drawn)
            assert_declared_as_drawn(URL_PARAMS[key], records[key])
            if key not in params:
                assert drawn.value == records[key].default, f"{key}: the page opens with another default"
        seen |= bound
    assert seen == listed, f"listed for {page} but never drawn: {listed - seen}"


def test_every_lesson_is_opened_above():
    assert {page for page, _, _ in OPENINGS} == set(LESSONS)


def test_widgets_are_bound_only_through_the_recorder():
    # A widget bound any other way would have no record: "Reset this page" would miss it.
    calls = []
    for path in sorted([*(APP_FILE.parent / "pages").glob("*.py"), *(APP_FILE.parent / "ui").rglob("*.py")]):
        if path.name == "bound.py" and path.parent.name == "widgets":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "bind" for k in node.keywords):
                calls.append(f"{path.name}:{node.lineno}")
    assert not calls, calls


def test_reset_also_clears_a_setting_this_session_never_drew(app_env, navigation_only):
    # A 2-D model: the seed of the samples (a larger latent's widget) is in the link but not on the page.
    at = opened(GRID, model=VAE_2D, grid_n="9", grid_seed="5")
    at.sidebar.button(key=RESET_KEY).click().run()
    assert not at.exception, at.exception
    assert at.slider(key="grid_n").value == 15
    assert not {"grid_n", "grid_seed"} & set(at.query_params)
    at.sidebar.selectbox(key=MODEL_KEY).set_value(VAE_4D).run()
    assert at.number_input(key="grid_seed").value == 0, "the link's seed is gone with the reset"


@needs_browser
def test_in_a_browser_a_fragments_slider_and_the_reset_update_the_address(app_env):
    from playwright.sync_api import expect, sync_playwright

    def params(page) -> dict[str, list[str]]:
        return parse_qs(urlsplit(page.url).query)

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, f"{url}/decoder_grid?model={AE_2D}&grid_n=9")
        assert params(page)["grid_n"] == ["9"] and params(page)[MODEL_PARAM] == [AE_2D]
        slider = page.get_by_role("slider", name="Cells per side")  # drawn in the grid's fragment
        assert slider.input_value() == "9"
        slider.focus()
        page.keyboard.press("ArrowRight")
        wait_for_idle(page)
        page.wait_for_function("() => location.search.includes('grid_n=10')", timeout=10_000)
        assert params(page)[MODEL_PARAM] == [AE_2D], "the sidebar's parameters stay"
        page.get_by_role("button", name="Reset this page").click()
        wait_for_idle(page)
        page.wait_for_function("() => !location.search.includes('grid_n')", timeout=10_000)
        # the address can change before the fragment's slider is drawn again: wait for the slider itself
        expect(slider).to_have_value("15", timeout=10_000)
        assert params(page)[MODEL_PARAM] == [AE_2D]
        slider.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => location.search.includes('grid_n=14')", timeout=10_000)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Interpolation").click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Interpolation")')
        wait_for_idle(page)
        assert "grid_n" not in params(page), "the grid's settings leave with the grid"
        assert params(page)[MODEL_PARAM] == [AE_2D]
        assert not page.locator('[data-testid="stException"]').count()


@needs_browser
def test_in_a_browser_the_train_forms_fields_are_bound_before_the_form_is_sent(app_env):
    """st.form widgets bind too: a link fills the form, and an edit reaches the address before Train is clicked
    (the page's Python sees it only on submit, as with any form)."""
    from playwright.sync_api import sync_playwright

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, f"{url}/train?dataset=digits&train_beta=4&train_latent=8")
        beta = page.get_by_label("β (VAE only)")
        page.wait_for_function(
            "() => [...document.querySelectorAll('input')].some(i => i.value === '4.00')", timeout=10_000
        )
        assert beta.input_value() == "4.00"
        assert parse_qs(urlsplit(page.url).query)["train_latent"] == ["8"]
        beta.fill("2.5")
        beta.press("Enter")
        page.wait_for_function("() => location.search.includes('train_beta=2.5')", timeout=10_000)
        assert not page.locator('[data-testid="stException"]').count()
