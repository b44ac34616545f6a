"""Sliders that only change a view, moved in the browser (issue #22): the β page's samples per β and Interpolation's
steps in the strip are drawn by ui/widgets/latent_pad.decoded_rows for an MLP decoder, and stay Streamlit sliders
for others (conv). Their values stay in the URL either way.

AppTest runs no JavaScript: these tests check the data the browser gets against independent computations and the
URL round trip on the Python side (the value the component sends when its slider is let go, a link, the reset).
What the browser draws with it, and the address it writes, are tested in test_decoded_rows_browser.py.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from tests.app.test_export_pages import stored_image
from tests.app.test_latent_pad import components
from tests.app.test_latent_walk import first_of_class
from tests.app.test_pages import codes_of, image_urls, texts
from tests.app.test_url_state import opened
from ui.shell.lessons import LESSONS
from ui.shell.url_state import RESET_KEY
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.serving.images import grid_png

BETA, INTERPOLATION = "beta_tradeoff", "interpolation"
VAE_2D = "shipped/digits-vae-z2"


@pytest.fixture
def media(monkeypatch):
    """One media store for every run (as tests/app/test_export_pages.py's): the PNGs st.image stored stay readable."""
    import streamlit.testing.v1.app_test as app_test_module
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storage = MemoryMediaFileStorage("/mock/media")
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", lambda endpoint: storage)
    return storage


def draws(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """What the server draws for a seed: torch's CPU generator, n codes at once."""
    return torch.randn((n, latent_dim), generator=torch.Generator().manual_seed(seed)).numpy()


def row_codes(row: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(row["codes"]), dtype="<f4").reshape(-1, row["dim"])


def the_rows(at) -> dict:
    (rows,) = components(at, "decoded_rows")
    return rows


def test_the_beta_page_sends_each_models_first_16_draws_and_the_slider_stays_in_the_browser(open_page, app_env):
    at = open_page(LESSONS[BETA].script)
    assert not at.exception, at.exception
    rows = the_rows(at)
    assert not [s for s in at.slider if s.key == "beta_n_samples"], "no Streamlit slider: no rerun to move it"
    assert rows["count"] == {"label": "Samples per β", "min": 4, "max": 16, "value": 10}
    betas = sorted(load_checkpoint(p)[1].model_config.beta for p in app_env.sweep)
    assert [r["label"] for r in rows["rows"]] == [f"β = {b:g}" for b in betas]
    for row in rows["rows"]:
        np.testing.assert_array_equal(row_codes(row), draws(16, 3, seed=0))  # the same codes for every model
        assert row["path"] is None and row["factor"] == 5  # 8-px digits at 40 px cells, as grid_png draws them
        assert row["file_stem"].endswith("_beta-tradeoff_samples-seed0")
    assert len({r["decoder"] for r in rows["rows"]}) == 3 and all(rows["blobs"].values())
    assert rows["caption"].startswith("The same {n} codes z ~ N(0, I) (seed 0) decoded by each model")
    assert not image_urls(at), "no server-side PNG"

    at.number_input(key="beta_seed").set_value(3).run()
    rows = the_rows(at)
    np.testing.assert_array_equal(row_codes(rows["rows"][0]), draws(16, 3, seed=3))
    assert all(v is None for v in rows["blobs"].values()), "the decoders travel once"
    assert "(seed 3)" in rows["caption"] and rows["rows"][0]["file_stem"].endswith("samples-seed3")


def test_the_slider_let_go_in_the_browser_goes_to_the_url_and_a_link_restores_it(open_page, app_env):
    at = open_page(LESSONS[BETA].script)
    # What the component's callback does when the slider is let go at 13 (set_browser_slider): the value it sent.
    at.session_state["beta_n_samples"] = 13
    at.run()
    assert the_rows(at)["count"]["value"] == 13 and at.query_params["beta_n_samples"] == "13"
    linked = opened(BETA, model=VAE_2D, beta_n_samples="6")
    assert the_rows(linked)["count"]["value"] == 6
    linked.sidebar.button(key=RESET_KEY).click().run()
    assert not linked.exception, linked.exception
    assert the_rows(linked)["count"]["value"] == 10 and "beta_n_samples" not in linked.query_params


@pytest.mark.parametrize("value", ["17", "3", "6.5", "x"])
def test_a_link_with_a_count_the_slider_would_not_take_opens_on_the_default(app_env, navigation_only, value):
    at = opened(BETA, model=VAE_2D, beta_n_samples=value)
    assert the_rows(at)["count"]["value"] == 10 and "beta_n_samples" not in at.query_params


def browser_slider_app() -> None:
    """A page with one browser-drawn slider's value, and what its component sent (as on_count_change passes it)."""
    import streamlit as st

    from ui.widgets import bound

    if "sent" in st.session_state:
        bound.set_browser_slider("n", st.session_state.pop("sent"))
    st.session_state["shown"] = bound.browser_slider_value("N", key="n", min_value=4, max_value=16, value=10)


@pytest.mark.parametrize("hostile", [99, 3, "12", 12.5, None, [12], True, {"n": 12}])
def test_a_value_the_slider_would_not_take_from_the_browser_is_ignored(hostile):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(browser_slider_app).run()
    at.session_state["sent"] = 12
    at.run()
    assert at.session_state["shown"] == 12 and at.query_params["n"] == "12"
    at.session_state["sent"] = hostile
    at.run()
    assert at.session_state["shown"] == 12 and at.query_params["n"] == "12"
    at.session_state["sent"] = 10  # the default: out of the address, as Streamlit's binding leaves it
    at.run()
    assert at.session_state["shown"] == 10 and "n" not in at.query_params


def test_without_a_browser_decoder_the_beta_samples_are_decoded_here_from_the_same_draws(
    open_page, app_env, media, server_side_decoding
):
    at = open_page(LESSONS[BETA].script)
    assert not at.exception and not components(at, "decoded_rows")
    slider = at.slider(key="beta_n_samples")
    assert slider.value == 10 and slider.proto.query_param_key == "beta_n_samples", "bound to the URL as before"
    slider.set_value(6).run()
    assert not at.exception
    assert "The same 6 codes z ~ N(0, I) (seed 0)" in texts(at.caption)
    # The first model's row: its decoding of the first 6 of the seed's 16 draws (what the browser's row shows).
    first = min(app_env.sweep, key=lambda p: load_checkpoint(p)[1].model_config.beta)
    model, _ = load_checkpoint(first)
    with torch.no_grad():
        decoded = model.decode(torch.from_numpy(draws(16, 3, seed=0)[:6]))
    expected = np.asarray(Image.open(io.BytesIO(grid_png(decoded, n_cols=6, cell_px=40))).convert("L"))
    shown, lossless = stored_image(media, image_urls(at)[0])
    assert lossless and shown.shape == expected.shape == (8 * 5, 6 * 41 - 1)
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1


def test_interpolation_sends_the_path_and_its_steps_slider_to_the_browser(open_page, app_env):
    at = open_page(LESSONS[INTERPOLATION].script)
    assert not at.exception, at.exception
    assert not [s for s in at.slider if s.key == "interp_steps"]
    rows = the_rows(at)
    (row,) = rows["rows"]
    codes = codes_of(app_env.vae_2d)
    np.testing.assert_allclose(row["path"]["a"], first_of_class(codes, 1), atol=1e-5)  # the page's default digits
    np.testing.assert_allclose(row["path"]["b"], first_of_class(codes, 7), atol=1e-5)
    assert row["path"]["method"] == "linear" and row["codes"] is None and row["factor"] == 7  # 8 px at 56
    assert rows["count"] == {"label": "Steps in the strip", "min": 5, "max": 15, "value": 9}
    assert row["file_stem"].endswith("_interpolation_linear-strip") and rows["file_suffix"] == "{n}steps"
    assert rows["caption"].startswith("{n} evenly spaced steps from ") and rows["downloads"]
    at.radio(key="interp_method").set_value("spherical").run()
    assert the_rows(at)["rows"][0]["path"]["method"] == "spherical"

    linked = opened(INTERPOLATION, model=VAE_2D, interp_steps="13")
    assert the_rows(linked)["count"]["value"] == 13 and linked.query_params["interp_steps"] == "13"
    linked.sidebar.button(key=RESET_KEY).click().run()
    assert the_rows(linked)["count"]["value"] == 9 and "interp_steps" not in linked.query_params
