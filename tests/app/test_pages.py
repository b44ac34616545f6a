"""AppTest of every page: it runs without exception, and its key widgets change what is shown.

Numbers on the pages are checked against independent computations where there is one (the number of points
in a scatter, a model's stored metrics, a decoded image).
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.hostile_files import write_checkpoint
from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoint_info import FORMAT_NAME, FORMAT_VERSION
from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig, config_to_dict
from vae_core.engine.data import load_dataset
from vae_core.engine.literal_text import WORD_JOINER
from vae_core.engine.models import build_model
from vae_core.engine.results import EpochRecord

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"
MY_PAGES = [
    LESSONS["home"].script,
    LESSONS["latent_space"].script,
    LESSONS["decoder_grid"].script,
    LESSONS["interpolation"].script,
    LESSONS["beta_tradeoff"].script,
    LESSONS["train"].script,
]
N_DIGITS_TEST = 360
JOB_TIMEOUT_S = 120


# --- helpers ----------------------------------------------------------------------------------------------
def chart_specs(at) -> dict[str, dict]:
    """key -> the plotly figure (data, layout) of every st.plotly_chart on the page."""
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def chart_title(spec: dict) -> str:
    """A chart's title text ('' when it has none)."""
    title = spec["layout"].get("title", "")
    return str(title.get("text", "") if isinstance(title, dict) else title)


def values(array_or_typed) -> np.ndarray:
    """Plotly's JSON holds arrays either as lists or as typed arrays ({'dtype', 'bdata'})."""
    if isinstance(array_or_typed, dict) and "bdata" in array_or_typed:
        return np.frombuffer(base64.b64decode(array_or_typed["bdata"]), dtype=np.dtype(array_or_typed["dtype"]))
    return np.asarray(array_or_typed)


def image_urls(at) -> list[str]:
    return [url for image in at.image for url in image.value]


def image_captions(at) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def plain(text: str) -> str:
    """Text as read on the page: literal() escapes Markdown and breaks addresses with word joiners."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")


def pick_model(at, name: str, source: str = "shipped"):
    """Choose a model in the sidebar (the picker's values are entry keys; its options show labels)."""
    return at.sidebar.selectbox(key="sidebar_model").set_value(f"{source}/{name}").run()


def wait_for_job(at, done) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
    raise AssertionError("the training job did not finish in time")


def png_of_digit(seven: bool = True) -> bytes:
    """A hand-made picture: a dark '7' on white paper, 64x64."""
    pixels = np.full((64, 64), 255, np.uint8)
    pixels[12:18, 14:50] = 0
    for row in range(18, 54):
        col = 48 - (row - 18) // 2
        pixels[row, col - 3 : col + 3] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --- every page -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", MY_PAGES)
def test_every_page_runs_without_exception(open_page, page):
    at = open_page(page)
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert at.title, "each page opens with its title"
    assert at.markdown[0].value, "and a sentence of what to look at"


def test_home_writes_out_the_elbo_and_the_sidebar_opens_on_the_2d_vae(open_page):
    at = open_page()
    assert any("ELBO" in latex.value and "KL" in latex.value for latex in at.latex)
    # Every data set is offered (MNIST's and Fashion-MNIST's test splits ship); the session opens on the first with
    # a model, digits here: the tiny zoo has digits models only.
    picker = at.sidebar.selectbox(key="sidebar_dataset")
    assert picker.options == ["MNIST", "Fashion-MNIST", "digits (8×8, small offline set)"]
    assert picker.value == "digits"
    assert at.sidebar.selectbox(key="sidebar_model").value == "shipped/digits-vae-z2"
    assert at.sidebar.radio(key="sidebar_device").options[0] == "CPU"
    assert at.session_state["app_selection"].entry.info.name == "digits-vae-z2"


def test_every_page_says_how_to_get_a_model_when_there_is_none(open_page, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "empty"))
    at = open_page()
    assert "python -m vae_core zoo" in texts(at.sidebar.info)
    for page in MY_PAGES[1:-1]:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert "python -m vae_core zoo" in texts(at.info), page
    at.switch_page(LESSONS["train"].script).run()
    assert not at.exception and at.button  # training is how one gets a model


def test_broken_checkpoints_are_reported_and_left_out_of_the_picker(open_page, app_env, tmp_path):
    user = tmp_path / "user_checkpoints"
    user.mkdir()
    (user / "truncated.safetensors").write_bytes(b"PK\x03\x04 cut short")
    # Readable metadata, weights of another shape: the scan lists it, loading fails, the picker drops it.
    model = build_model(ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(8,)))
    wrong = ModelConfig(input_shape=(1, 8, 8), latent_dim=3, hidden_dims=(8,))
    write_checkpoint(
        user / "a-mismatch.safetensors",
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model_config": config_to_dict(wrong),
            "train_config": config_to_dict(TrainConfig()),
            "metadata": {},
        },
        model.state_dict(),
    )
    at = open_page()
    picker = at.sidebar.selectbox(key="sidebar_model")
    assert not any("truncated" in option for option in picker.options)  # its metadata cannot be read
    # The home page lists models without loading them; the first page that needs the model finds out.
    picker.set_value("user/a-mismatch").run()
    assert not at.exception, at.exception
    at.switch_page(LESSONS["decoder_grid"].script).run()
    assert not at.exception, at.exception
    picker = at.sidebar.selectbox(key="sidebar_model")
    assert not any("a-mismatch" in option for option in picker.options)
    assert not any("truncated" in option for option in picker.options)
    warnings = plain(texts(at.sidebar.warning))
    assert "truncated.safetensors" in warnings and "a-mismatch.safetensors" in warnings
    assert picker.value == "shipped/digits-vae-z2"  # fell back to the data set's natural model


def test_a_model_for_another_input_shape_is_not_offered(open_page, tmp_path):
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden_dims=(8,)))
    save_checkpoint(tmp_path / "user_checkpoints" / "mnist-shaped.safetensors", model, TrainConfig(dataset="mnist"))
    at = open_page()
    # MNIST's test split ships, so the app may open on MNIST; the tiny zoo's models are digits models
    at.sidebar.selectbox(key="sidebar_dataset").set_value("digits").run()
    options = at.sidebar.selectbox(key="sidebar_model").options
    assert len(options) == 6 and not any("mnist-shaped" in o for o in options)


# --- latent space -----------------------------------------------------------------------------------------
def test_latent_space_shows_ae_and_vae_on_shared_axes_with_the_prior_on_the_vae(open_page, app_env):
    at = open_page(LESSONS["latent_space"].script)
    specs = chart_specs(at)
    # chart keys are digests (ui.widgets.keys): each panel is found by its title
    ae_key = next(k for k, spec in specs.items() if chart_title(spec).startswith("Autoencoder:"))
    vae_key = next(k for k, spec in specs.items() if chart_title(spec).startswith("VAE:"))
    for key in (ae_key, vae_key):
        points = [d for d in specs[key]["data"] if d["type"] == "scattergl" and "customdata" in d]
        assert sum(len(values(d["x"])) for d in points) == N_DIGITS_TEST  # every test image, once
        assert sorted(np.concatenate([values(d["customdata"]) for d in points]).tolist()) == list(range(N_DIGITS_TEST))
    prior_names = lambda key: [d.get("name") for d in specs[key]["data"] if str(d.get("name", "")).startswith("prior")]
    assert prior_names(vae_key) == ["prior 1σ", "prior 2σ"] and prior_names(ae_key) == []
    assert specs[ae_key]["layout"]["xaxis"]["range"] == specs[vae_key]["layout"]["xaxis"]["range"]

    # The VAE panel's points are the posterior means of the test images (an independent encoding).
    model, _ = load_checkpoint(app_env.vae_2d)
    test = load_dataset("digits", "test")
    with torch.no_grad():
        means = model.encode(test.images).mean.numpy()
    trace = next(d for d in specs[vae_key]["data"] if d["type"] == "scattergl" and "customdata" in d)
    idx = values(trace["customdata"]).astype(int)
    np.testing.assert_allclose(values(trace["x"]), means[idx, 0], atol=1e-5)

    at.toggle(key="latent_same_axes").set_value(False).run()
    specs = chart_specs(at)
    # Both choices stay on the page once drawn (the browser then need not redraw them); the shared one is hidden.
    own_ae = next(
        k
        for k, spec in specs.items()
        if chart_title(spec).startswith("Autoencoder:") and "range" not in spec["layout"]["xaxis"]
    )
    assert "range" not in specs[own_ae]["layout"]["xaxis"] and ae_key in specs
    styles = "\n".join(str(h.proto.body) for h in at.get("html"))
    assert ".st-key-latent_axes_shared {height: 0 !important" in styles


def test_choosing_a_test_image_shows_it_and_its_reconstructions(open_page):
    at = open_page(LESSONS["latent_space"].script)
    before = image_urls(at)
    assert len(before) == 3  # original, AE, VAE
    at.number_input(key="latent_index").set_value(5).run()
    assert not at.exception
    after = image_urls(at)
    assert len(after) == 3 and set(after).isdisjoint(before)
    label = load_dataset("digits", "test").labels[5].item()
    assert f"Test image #5**, label **{label}**" in texts(at.markdown)


def test_latent_space_projects_larger_latents_with_pca_or_tsne(open_page):
    at = pick_model(open_page(LESSONS["latent_space"].script), "digits-vae-z4")
    assert not at.exception
    specs = chart_specs(at)
    assert len(specs) == 1  # no 4-D autoencoder to compare with
    (spec,) = specs.values()
    assert spec["layout"]["xaxis"]["title"]["text"] == "PC 1"
    assert any(str(d.get("name", "")).startswith("prior") for d in spec["data"])  # PCA keeps the prior a circle
    at.radio(key="latent_projection").set_value("tsne").run()
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while at.get("progress"):  # t-SNE runs in a child process (tests/app/test_latent_tsne.py)
        assert time.monotonic() < deadline, "t-SNE did not finish"
        time.sleep(0.5)
        at.run()
    assert not at.exception
    (spec,) = chart_specs(at).values()
    assert spec["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    assert not any(str(d.get("name", "")).startswith("prior") for d in spec["data"])


# --- decoder grid -----------------------------------------------------------------------------------------
def codes_of(path) -> np.ndarray:
    """The test codes of a checkpoint, computed here from the model (as measured: binarised where it is)."""
    from vae_core.engine.data import measured_inputs
    from vae_core.engine.protocol import protocol_of

    model, info = load_checkpoint(path)
    images = measured_inputs(load_dataset("digits", "test").images, protocol_of(info.train_config, info.model_config))
    with torch.no_grad():
        return model.embed(images).numpy().astype(np.float64)


def tick_values(axis: dict) -> np.ndarray:
    return np.array([float(t) for t in axis["ticktext"]])


def grid_image(spec: dict) -> np.ndarray:
    """The decoded grid drawn in a grid figure (its layout image), as a uint8 array."""
    source = spec["layout"]["images"][0]["source"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def test_decoder_grid_axes_are_each_models_own_and_labelled_in_z(open_page, app_env):
    """Default view: equal-mass grids, the prior's Φ⁻¹ for the VAE, the Gaussian of its own codes for the AE;
    the tick labels are those z values (checked with statistics.NormalDist and the codes computed here)."""
    from statistics import NormalDist

    at = open_page(LESSONS["decoder_grid"].script)
    assert [s.value for s in at.subheader] == ["Autoencoder", "VAE"]
    specs = chart_specs(at)
    n = 15
    quantiles = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    vae = specs["grid_figure_vae"]
    picks = np.asarray(vae["layout"]["xaxis"]["tickvals"], int)
    np.testing.assert_allclose(tick_values(vae["layout"]["xaxis"]), quantiles[picks], atol=0.051)
    ae_codes = codes_of(app_env.ae_2d)
    ae = specs["grid_figure_ae"]
    for d, axis in enumerate(("xaxis", "yaxis")):
        picks = np.asarray(ae["layout"][axis]["tickvals"], int)
        expected = ae_codes[:, d].mean() + ae_codes[:, d].std() * quantiles[picks]
        np.testing.assert_allclose(tick_values(ae["layout"][axis]), expected, atol=0.051)
    assert ae["layout"]["xaxis"]["title"]["text"] == "z₁" and ae["layout"]["yaxis"]["title"]["text"] == "z₂"
    # the outline is drawn, in the colour the caption names
    outline = [d for d in vae["data"] if d["type"] == "contour"][-1]
    assert outline["colorscale"][0][1] == "#F28E2B" and "orange outline" in texts(at.caption)
    assert f"of {n * n} cells lie outside" in texts(at.caption)

    at.radio(key="grid_kind").set_value("linear").run()
    ae = chart_specs(at)["grid_figure_ae"]
    low, high = np.quantile(ae_codes[:, 0], [0.005, 0.995])
    assert tick_values(ae["layout"]["xaxis"])[[0, -1]] == pytest.approx([low, high], abs=0.051)
    at.slider(key="grid_extent").set_value(2.0).run()
    ae2 = chart_specs(at)["grid_figure_ae"]
    centre, half = (low + high) / 2, (high - low) / 2
    assert tick_values(ae2["layout"]["xaxis"])[[0, -1]] == pytest.approx(
        [centre - 2 * half, centre + 2 * half], abs=0.051
    )
    assert "2× the box" in texts(at.caption)


def test_decoder_grid_cells_are_the_decoder_at_the_labelled_codes(open_page, app_env):
    """The VAE panel's bottom-left cell is the decoder at (Φ⁻¹(0.5/n), Φ⁻¹(0.5/n)), decoded here directly."""
    from statistics import NormalDist

    at = open_page(LESSONS["decoder_grid"].script)
    image = grid_image(chart_specs(at)["grid_figure_vae"])
    n = 15
    side = (image.shape[0] + 1) // n - 1  # cells are separated by one-pixel lines
    corner = NormalDist().inv_cdf(0.5 / n)
    model, _ = load_checkpoint(app_env.vae_2d)
    with torch.no_grad():
        expected = model.decode(torch.tensor([[corner, corner]], dtype=torch.float32))[0, 0].numpy()
    scale = side // expected.shape[0]
    cell = image[-side:, :side].reshape(expected.shape[0], scale, expected.shape[1], scale)[:, 0, :, 0]
    np.testing.assert_allclose(cell / 255.0, expected, atol=1 / 255 + 1e-6)


def test_decoder_grid_samples_and_slices_larger_latents(open_page, server_side_decoding):
    # Decoded on the server, as for a conv model (an MLP's samples are drawn in the browser: test_latent_pad_browser).
    at = pick_model(open_page(LESSONS["decoder_grid"].script), "digits-vae-z4")
    assert not at.exception
    (samples,) = image_urls(at)
    slice_spec = chart_specs(at)["grid_slice_figure"]
    assert tick_values(slice_spec["layout"]["xaxis"])[[0, -1]] == pytest.approx([-3.0, 3.0])  # ±3σ of the prior
    at.slider(key="grid_temperature").set_value(0.5).run()
    assert image_urls(at)[0] != samples and chart_specs(at)["grid_slice_figure"] == slice_spec
    at.number_input(key="grid_seed").set_value(3).run()
    assert "seed 3" in texts(at.caption)
    at.selectbox(key="grid_dim_y").set_value(0).run()
    assert "two different dimensions" in texts(at.main.warning)
    at.selectbox(key="grid_dim_y").set_value(2).run()
    assert not at.main.warning and "z₃" in texts(at.caption)
    assert chart_specs(at)["grid_slice_figure"]["layout"]["yaxis"]["title"]["text"] == "z₃"


# --- interpolation ----------------------------------------------------------------------------------------
def test_interpolation_moves_along_the_path_and_draws_it(open_page, server_side_decoding):
    # The server-side walk (a conv model's); an MLP's is drawn in the browser: test_latent_walk*.py.
    at = open_page(LESSONS["interpolation"].script)
    assert not at.exception
    _image_a, _image_b, strip, middle, _knobs = image_urls(at)
    spec = chart_specs(at)["interp_scatter"]
    names = [d.get("name") for d in spec["data"]]
    path = spec["data"][names.index("path")]
    assert len(values(path["x"])) == 41
    # drawn on top: WebGL traces after every class's points
    classes = [i for i, d in enumerate(spec["data"]) if d.get("customdata") is not None]
    assert path["type"] == "scattergl" and names.index("path") > max(classes) and names.index("z(t)") > max(classes)
    at.slider(key="interp_t").set_value(1.0).run()
    _, _, strip2, end, _ = image_urls(at)
    assert strip2 == strip and end != middle
    assert "decoded z(t = 1.00), linear" in image_captions(at)
    at.radio(key="interp_method").set_value("spherical").run()
    assert not at.exception
    assert "decoded z(t = 1.00), spherical" in image_captions(at)
    at.selectbox(key="interp_b_class").set_value(3).run()
    assert image_urls(at)[2] != strip


def test_interpolation_marks_z_t_and_plots_the_norms_of_both_paths(open_page, app_env, server_side_decoding):
    """z(t) on the scatter is (1 − t) z_A + t z_B with the codes computed here from the model; the norm chart's
    curves match the closed forms ‖(1 − t) a + t b‖ and (1 − t)‖a‖ + t‖b‖ (slerp's norm is linear in t)."""
    at = open_page(LESSONS["interpolation"].script)
    at.slider(key="interp_t").set_value(0.25).run()
    labels = load_dataset("digits", "test").labels.numpy()
    codes = codes_of(app_env.vae_2d)
    a, b = codes[np.flatnonzero(labels == 1)[0]], codes[np.flatnonzero(labels == 7)[0]]
    specs = chart_specs(at)
    star = next(d for d in specs["interp_scatter"]["data"] if d.get("name") == "z(t)")
    np.testing.assert_allclose([values(star["x"])[0], values(star["y"])[0]], 0.75 * a + 0.25 * b, atol=1e-4)
    curves = {d["name"]: d for d in specs["interp_norms"]["data"]}
    ts = values(curves["linear path"]["x"]).astype(float)
    lerp_closed = np.sqrt((1 - ts) ** 2 * (a @ a) + ts**2 * (b @ b) + 2 * ts * (1 - ts) * (a @ b))
    np.testing.assert_allclose(values(curves["linear path"]["y"]), lerp_closed, rtol=1e-4)
    slerp_closed = (1 - ts) * np.linalg.norm(a) + ts * np.linalg.norm(b)
    np.testing.assert_allclose(values(curves["spherical path"]["y"]), slerp_closed, rtol=1e-4)
    caption = texts(at.caption)
    assert f"from {np.linalg.norm(a):.2f} to {np.linalg.norm(b):.2f}" in caption
    # the variant drawn is named, and credited to what it is: Shoemake's slerp of the directions, a linear norm
    help_text = at.radio(key="interp_method").help
    assert "polar" in help_text and "Shoemake" in help_text and "norm changes linearly" in help_text
    assert "White (2016)" in help_text and "only when ‖z_A‖ = ‖z_B‖" in help_text
    mean_norm = np.linalg.norm(codes, axis=1).mean()
    assert f"mean norm {mean_norm:.2f}" in caption and "mean norm 1.25 of a draw from the prior" in caption


def test_latent_knobs_move_the_image_and_reset(open_page, server_side_decoding):
    at = open_page(LESSONS["interpolation"].script)
    start = image_urls(at)[-1]
    knob = at.slider[-2]  # z₁ of the 2-D model's knobs ([-1] is z₂)
    assert knob.label == "z₁"
    knob.set_value(2.5).run()
    assert image_urls(at)[-1] != start and "Moved: z₁" in texts(at.caption)
    at.button(key="interp_knob_reset").click().run()
    assert image_urls(at)[-1] == start and "Moved: nothing yet" in texts(at.caption)


def test_interpolation_accepts_an_upload_and_reports_a_bad_one(open_page):
    at = open_page(LESSONS["interpolation"].script)
    at.radio(key="interp_b_source").set_value("upload").run()
    assert "Upload a picture" in texts(at.info) and len(image_urls(at)) == 0  # waits for the file
    at.file_uploader(key="interp_b_file").upload("seven.png", png_of_digit(), "image/png").run()
    assert not at.exception and not at.error
    # A and B (the strip and z(t): the browser)
    assert len(image_urls(at)) == 2 and "your upload" in decoded_rows(at)["caption"]
    at.file_uploader(key="interp_b_file").upload("notes.png", b"not an image", "image/png").run()
    assert not at.exception
    assert "not an image" in texts(at.error)
    assert len(image_urls(at)) == 2 and "your upload" in decoded_rows(at)["caption"]  # the good upload is kept


# --- beta trade-off ---------------------------------------------------------------------------------------
def test_beta_page_plots_the_sweep_from_its_metrics(open_page, app_env):
    at = open_page(LESSONS["beta_tradeoff"].script)
    specs = chart_specs(at)
    markers = next(d for d in specs["beta_rd"]["data"] if d.get("name") == "shipped")
    infos = sorted((load_checkpoint(p).info for p in app_env.sweep), key=lambda i: i.model_config.beta)
    np.testing.assert_allclose(values(markers["x"]), [i.metrics.kl for i in infos], rtol=1e-6)
    np.testing.assert_allclose(values(markers["y"]), [i.metrics.recon for i in infos], rtol=1e-6)
    heat = specs["beta_heatmap"]["data"][0]
    z = np.array([values(row) for row in heat["z"]]) if isinstance(heat["z"], list) else values(heat["z"])
    np.testing.assert_allclose(
        np.asarray(z, dtype=float).reshape(3, 3), np.array([i.metrics.kl_per_dim for i in infos]).T, rtol=1e-5
    )
    # one row of samples per β, decoded in the browser (tests/app/test_decoded_rows.py checks what it is sent)
    assert len(decoded_rows(at)["rows"]) == 3


def decoded_rows(at) -> dict:
    """The data of the page's one row component (ui.widgets.latent_pad.decoded_rows)."""
    (rows,) = [e for e in at.get("bidi_component") if e.proto.component_name.endswith(".decoded_rows")]
    return json.loads(rows.proto.json)


def test_beta_page_trains_one_more_point_that_joins_the_sweep(open_page, tmp_path):
    at = open_page(LESSONS["beta_tradeoff"].script)
    at.number_input(key="beta_new").set_value(2.0)
    at.slider(key="beta_epochs").set_value(1)
    next(b for b in at.button if b.label == "Train this β point").click().run()
    assert not at.exception
    wait_for_job(at, lambda at: at.success)
    saved = list((tmp_path / "user_checkpoints").glob("*.safetensors"))
    assert [p.name for p in saved] == ["digits-vae-z3-beta2.safetensors"]
    info = load_checkpoint(saved[0]).info
    assert (info.metadata["role"], info.metadata["group"]) == ("beta-sweep", "digits-beta-sweep")
    assert info.model_config.beta == 2.0
    # 1 epoch against the sweep's 2: drawn apart as off the curve, and left out of the comparison
    here = next(
        d
        for d in chart_specs(at)["beta_rd"]["data"]
        if d.get("name", "").startswith("trained here, fewer epochs than the sweep's 2")
    )
    np.testing.assert_allclose(values(here["x"]), [info.metrics.kl], rtol=1e-6)
    assert "1 point(s) trained here for fewer epochs than the sweep's 2 (β = 2: 1)" in texts(at.caption)
    assert len(decoded_rows(at)["rows"]) == 4  # its samples joined too


# --- train ------------------------------------------------------------------------------------------------
def test_train_page_trains_saves_and_lists_the_model(open_page, tmp_path):
    at = open_page(LESSONS["train"].script)
    at.selectbox(key="train_kind").set_value("ae")
    at.slider(key="train_epochs").set_value(2)
    at.selectbox(key="train_size").set_value("small")
    at.text_input(key="train_name").input("class demo/1")
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    wait_for_job(at, lambda at: at.success)
    assert "class-demo-1.safetensors" in at.success[0].value
    path = tmp_path / "user_checkpoints" / "class-demo-1.safetensors"
    info = load_checkpoint(path).info
    assert info.model_config.kind == "ae" and info.metadata["epochs_run"] == 2
    options = at.sidebar.selectbox(key="sidebar_model").options
    assert any("class-demo-1 (trained here)" in o for o in options)
    curves = chart_specs(at)["train_job_curves"]
    recon = next(d for d in curves["data"] if d["name"] == "test" and d.get("xaxis", "x") == "x")
    np.testing.assert_allclose(
        values(recon["y"]), [EpochRecord.from_dict(r).test.recon for r in info.metadata["history"]], rtol=1e-6
    )


def test_train_page_can_stop_a_job(open_page, tmp_path):
    at = open_page(LESSONS["train"].script)
    at.slider(key="train_epochs").set_value(30)
    at.selectbox(key="train_size").set_value("large")
    next(b for b in at.button if b.label == "Train").click().run()
    at.button(key="train_job_stop").click().run()
    wait_for_job(at, lambda at: at.warning or at.success)
    assert not at.success, "a 30-epoch job was stopped, not finished"
    message = texts(at.warning)
    assert "Stopped" in message


def test_train_page_rejects_a_name_without_letters(open_page, tmp_path):
    at = open_page(LESSONS["train"].script)
    at.text_input(key="train_name").input("///")
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    assert "needs at least one letter or digit" in texts(at.error)
    assert not (tmp_path / "user_checkpoints").exists() or not list((tmp_path / "user_checkpoints").iterdir())


def test_the_pages_folder_does_not_put_streamlit_in_its_legacy_mode(app_env):
    """Without the navigation_only shim, every AppTest run starts like a fresh server: in the legacy mode."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_FILE), default_timeout=60).run()
    at.run()  # a rerun on a page: the legacy mode would run the home page's script alone, without the sidebar
    assert not at.exception and at.sidebar.selectbox(key="sidebar_model").value == "shipped/digits-vae-z2"
    at.switch_page(LESSONS["decoder_grid"].script).run()
    assert not at.exception and at.sidebar.selectbox(key="sidebar_dataset")
    assert at.title[0].value == "Decoder grid"


def test_the_train_form_follows_the_sidebars_data_set(open_page):
    # MNIST is offered with an empty data directory too (its test split ships): a second data set to switch to.
    at = open_page()
    at.sidebar.selectbox(key="sidebar_dataset").set_value("digits").run()
    at.switch_page(LESSONS["train"].script).run()
    assert at.selectbox(key="train_dataset").value == "digits"
    at.sidebar.selectbox(key="sidebar_dataset").set_value("mnist").run()
    assert not at.exception
    assert at.selectbox(key="train_dataset").value == "mnist"


def test_beta_page_evaluates_a_sweep_member_saved_without_metrics(open_page, app_env, tmp_path):
    from vae_core.engine.evaluation import evaluate

    model, info = load_checkpoint(app_env.sweep[0])
    bare = save_checkpoint(
        tmp_path / "user_checkpoints" / "digits-vae-z3-beta0.5-bare.safetensors",
        model,
        info.train_config,
        metadata={"role": "beta-sweep", "group": "digits-beta-sweep"},
    )  # no metrics stored
    at = open_page(LESSONS["beta_tradeoff"].script)
    assert not at.exception
    here = next(d for d in chart_specs(at)["beta_rd"]["data"] if d.get("name") == "trained here")
    expected = evaluate(load_checkpoint(bare).model, load_dataset("digits", "test"))
    np.testing.assert_allclose(values(here["x"]), [expected.kl], rtol=1e-5)
    np.testing.assert_allclose(values(here["y"]), [expected.recon], rtol=1e-5)


@pytest.mark.parametrize("odd", [[1.0, 2.0], "not metrics"])
def test_checkpoints_whose_metrics_are_not_a_mapping_are_skipped_with_a_note(open_page, app_env, tmp_path, odd):
    model, info = load_checkpoint(app_env.sweep[1])
    name = "digits-vae-z3-odd"
    save_checkpoint(
        tmp_path / "user_checkpoints" / f"{name}.safetensors",
        model,
        info.train_config,
        metadata={"role": "beta-sweep", "group": "digits-beta-sweep", "metrics": odd},
    )
    at = open_page()
    assert not at.exception
    assert f"{name}.safetensors" in plain(
        texts(at.sidebar.warning) + texts(at.sidebar.caption) + texts(at.sidebar.markdown)
    )
    for page in (LESSONS["latent_space"].script, LESSONS["decoder_grid"].script, LESSONS["beta_tradeoff"].script):
        at.switch_page(page).run()
        assert not at.exception, page


@pytest.mark.parametrize("odd", [{"neg_elbo": 1.0}, {"recon": "twenty"}])
def test_checkpoints_with_odd_stored_metrics_still_work_everywhere(open_page, app_env, tmp_path, odd):
    model, info = load_checkpoint(app_env.sweep[1])
    name = "digits-vae-z3-odd"
    save_checkpoint(
        tmp_path / "user_checkpoints" / f"{name}.safetensors",
        model,
        info.train_config,
        metadata={"role": "beta-sweep", "group": "digits-beta-sweep", "metrics": odd},
    )
    at = pick_model(open_page(), name, source="user")
    assert not at.exception
    for page in (LESSONS["latent_space"].script, LESSONS["decoder_grid"].script, LESSONS["beta_tradeoff"].script):
        at.switch_page(page).run()
        assert not at.exception, page
    here = next(d for d in chart_specs(at)["beta_rd"]["data"] if d.get("name") == "trained here")
    assert len(values(here["x"])) == 1  # the β page evaluated the model itself
