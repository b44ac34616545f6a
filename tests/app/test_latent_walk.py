"""Interpolation's walk from A to B: for an MLP decoder the page sends it precomputed to a client-side component
(ui/widgets/latent_pad.latent_walk); without a browser decoder it keeps the server-side t slider and plotly charts.

AppTest runs no JavaScript: these tests check the data the browser gets against the model's own codes. What the
browser draws with it is tested in test_latent_walk_browser.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.test_latent_pad import components
from tests.app.test_pages import chart_specs, codes_of, pick_model, texts
from ui.figures.latent import CURRENT_COLOUR, CURRENT_COLOUR_NAME
from ui.shell.lessons import LESSONS
from vae_core.engine.data import load_dataset
from vae_core.lessons.latent_paths import prior_mean_norm


def first_of_class(codes: np.ndarray, label: int) -> np.ndarray:
    labels = load_dataset("digits", "test").labels.numpy()
    return codes[np.flatnonzero(labels == label)[0]]


def test_an_mlp_model_gets_the_walk_precomputed_for_every_t(open_page, app_env):
    at = open_page(LESSONS["interpolation"].script)
    assert not at.exception
    (walk,) = components(at, "latent_walk")
    assert not [s for s in at.slider if s.key == "interp_t"], "no server-side t slider"
    assert not {"interp_scatter", "interp_norms"} & set(chart_specs(at)), "no plotly redraw of the walk"
    codes = codes_of(app_env.vae_2d)
    a, b = first_of_class(codes, 1), first_of_class(codes, 7)  # the page's default digits
    ts = np.array(walk["ts"])
    assert len(ts) == 21 and ts[[0, -1]].tolist() == [0.0, 1.0] and walk["ts"][walk["start"]] == 0.5
    z = np.array(walk["z"])
    # linear: z(t) = (1 − t) z_A + t z_B at every t of the grid; a 2-D picture shows the codes themselves
    np.testing.assert_allclose(z, (1 - ts)[:, None] * a + ts[:, None] * b, atol=1e-4)
    np.testing.assert_allclose(walk["points"], z, atol=1e-4)
    np.testing.assert_allclose(walk["norms"], np.linalg.norm(z, axis=1), rtol=1e-4)
    fine_ts = np.array(walk["fine_ts"])
    slerp_closed = (1 - fine_ts) * np.linalg.norm(a) + fine_ts * np.linalg.norm(b)  # slerp's norm is linear in t
    np.testing.assert_allclose(walk["slerp_norms"], slerp_closed, rtol=1e-4)
    assert walk["code_norm"] == pytest.approx(np.linalg.norm(codes, axis=1).mean(), rel=1e-4)
    assert walk["prior_norm"] == pytest.approx(prior_mean_norm(2)) and walk["prior_centre"] == [0.0, 0.0]
    (x0, x1), (y0, y1) = walk["range"]
    assert x0 < min(a[0], b[0]) and x1 > max(a[0], b[0]), "the path is in view"
    assert x0 <= -2 <= 2 <= x1 and y0 <= -2 <= 2 <= y1, "so is the prior's 2σ circle"
    assert set(walk["blobs"]) == {walk["decoder"], walk["codes"]} and walk["blobs"][walk["codes"]]
    # The decoder travels once per session: with the strip drawn above the walk (the same model's decoder), in
    # the strip's data (ui/widgets/js/mlp_decoder.js's vleRemember serves every component of the page).
    (strip,) = components(at, "decoded_rows")
    fp = walk["decoder"]
    assert (strip["blobs"].get(fp) or walk["blobs"][fp])["fingerprint"] == fp, "the decoder is sent in this run"
    assert walk["blobs"][walk["codes"]]["n"] == len(load_dataset("digits", "test"))  # tiny split: every code
    assert f"{CURRENT_COLOUR_NAME} star" in walk["caption"] and walk["colours"]["current"] == CURRENT_COLOUR
    assert "what it keeps is not one norm but a straight line of norms" in texts(at.caption)

    at.radio(key="interp_method").set_value("spherical").run()
    assert not at.exception
    (spherical,) = components(at, "latent_walk")
    assert spherical["method"] == "spherical" and "spherical path" in spherical["caption"]
    assert all(v is None for v in spherical["blobs"].values()), "the decoder and backdrop travel once"
    np.testing.assert_allclose(spherical["z"][-1], b, atol=1e-4)
    np.testing.assert_allclose(spherical["norms"], (1 - ts) * np.linalg.norm(a) + ts * np.linalg.norm(b), rtol=1e-4)
    assert not np.allclose(spherical["z"][10], walk["z"][10], atol=1e-4)


def test_a_larger_latent_walks_in_d_dimensions_and_is_drawn_in_its_principal_components(open_page, app_env):
    at = pick_model(open_page(LESSONS["interpolation"].script), "digits-vae-z4")
    assert not at.exception
    (walk,) = components(at, "latent_walk")
    codes = codes_of(app_env.vae_4d)
    a, b = first_of_class(codes, 1), first_of_class(codes, 7)
    z = np.array(walk["z"])
    assert z.shape == (21, 4)
    np.testing.assert_allclose(z[[0, -1]], [a, b], atol=1e-4)
    # The picture is the test codes' PCA: centred codes onto two orthonormal directions, so the path's
    # ends in the picture are z_A and z_B projected, and their distance there is at most their distance in 4-D.
    points = np.array(walk["points"])
    assert points.shape == (21, 2)
    np.testing.assert_allclose(walk["fine_points"][0], points[0], atol=1e-5)
    np.testing.assert_allclose(walk["fine_points"][-1], points[-1], atol=1e-5)
    assert np.linalg.norm(points[-1] - points[0]) <= np.linalg.norm(b - a) + 1e-5
    assert walk["axis_titles"] == ["PC 1", "PC 2"] and "principal components" in walk["caption"]
    np.testing.assert_allclose(walk["norms"], np.linalg.norm(z, axis=1), rtol=1e-4)


def test_without_a_browser_decoder_the_walk_stays_on_the_server(open_page, server_side_decoding):
    at = open_page(LESSONS["interpolation"].script)
    assert not at.exception and not components(at, "latent_walk")
    (t,) = [s for s in at.slider if s.key == "interp_t"]
    assert t.value == 0.5 and t.proto.query_param_key == "interp_t", "bound to the URL as before"
    assert {"interp_scatter", "interp_norms"} <= set(chart_specs(at))
    assert "what it keeps is not one norm but a straight line of norms" in texts(at.caption)
