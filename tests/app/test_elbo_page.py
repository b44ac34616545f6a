"""The ELBO page (AppTest): it runs, its widgets change what it shows, and every number equals vae_core's.

The expected numbers are recomputed here from the checkpoint file with vae_core alone (model.loss,
model.iw_log_likelihood, seeded generators), not through vae_core.elbo_report, so a slip in the page's plumbing (wrong
input, wrong seed, wrong K, wrong beta, stale values) shows up as a mismatch.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vae_core.checkpoints import load_checkpoint
from vae_core.data import load_dataset
from vae_core.elbo_report import RECON_SAMPLES
from vae_core.preprocess import preprocess_bytes, to_data_url

REPO_ROOT = Path(__file__).resolve().parents[2]
# The page's path relative to app.py, wherever the pages folder is (app.py lists the folder it uses).
PAGE = str(next(p for p in REPO_ROOT.glob("*/6_elbo_breakdown.py")).relative_to(REPO_ROOT))


# --- helpers ----------------------------------------------------------------------------------------------
def metric(at, label_start: str) -> float:
    """The number shown by the metric whose label starts with label_start."""
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert len(found) == 1, f"expected one metric '{label_start}…', found {[m.label for m in at.metric]}"
    return float(found[0].value.replace("−", "-"))


def model_for(at, zoo, key: str):
    """The checkpoint behind a picker value such as 'shipped/digits-vae-z2', loaded afresh from its file."""
    name = at.selectbox(key=key).value.split("/", 1)[1]
    return load_checkpoint(Path(zoo.folder) / f"{name}.pt").model


def expected(model, x: torch.Tensor, *, seed: int, k: int, beta: float) -> dict[str, float]:
    """The page's numbers, computed with vae_core only."""
    with torch.no_grad():
        terms = model.loss(x, beta=beta, n_samples=RECON_SAMPLES, generator=torch.Generator().manual_seed(seed))
        iw = model.iw_log_likelihood(x, k, generator=torch.Generator().manual_seed(seed))
    recon, kl = float(terms.recon), float(terms.kl)
    return {"Reconstruction": recon, "KL": kl, "−ELBO": recon + kl, "IW, K=": -float(iw[0]),
            "Gap": recon + kl + float(iw[0]), "β·KL": beta * kl, "Objective": float(terms.objective)}


def assert_numbers(at, want: dict[str, float], decimals: int = 2) -> None:
    for label, value in want.items():
        # the page rounds to 2 decimals; allow the rounding plus float32 noise
        assert metric(at, label) == pytest.approx(value, abs=0.5 * 10**-decimals + 1e-3), label


def digit_png(size: int = 280, ink: int = 0, paper: int = 255) -> bytes:
    image = Image.new("L", (size, size), paper)
    pen = ImageDraw.Draw(image)
    pen.ellipse((90, 40, 190, 140), outline=ink, width=20)
    pen.line((180, 90, 150, 250), fill=ink, width=20)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def page(open_page):
    at = open_page(PAGE)
    no_exception(at)
    return at


# --- tests ------------------------------------------------------------------------------------------------
def test_page_opens_with_a_lesson_and_matches_vae_core(page, app_env):
    assert page.title[0].value == "ELBO breakdown"
    assert "Watch which latent dimensions" in page.markdown[0].value, "the page opens with what to look at"
    vae = model_for(page, app_env, "elbo_vae")
    x = load_dataset("digits", "test").images[0:1]
    assert_numbers(page, expected(vae, x, seed=0, k=1000, beta=1.0))
    ae = model_for(page, app_env, "elbo_ae")
    with torch.no_grad():
        assert metric(page, "AE reconstruction") == pytest.approx(float(ae.loss(x).recon), abs=0.006)
        mse = float((ae.reconstruct(x) - x).pow(2).mean())
    assert metric(page, "AE mean squared error") == pytest.approx(mse, abs=6e-5)
    assert not ae.config.is_variational and vae.config.is_variational


def test_widgets_change_the_numbers_and_they_stay_exact(page, app_env):
    vae = model_for(page, app_env, "elbo_vae")
    images = load_dataset("digits", "test").images
    before = metric(page, "−ELBO")

    page.number_input(key="elbo_test_index").set_value(7).run()
    no_exception(page)
    assert metric(page, "−ELBO") != before
    assert_numbers(page, expected(vae, images[7:8], seed=0, k=1000, beta=1.0))

    page.select_slider(key="elbo_k").set_value(10).run()
    page.number_input(key="elbo_seed").set_value(5).run()
    no_exception(page)
    assert any("K=10" in m.label for m in page.metric)
    assert_numbers(page, expected(vae, images[7:8], seed=5, k=10, beta=1.0))

    page.button(key="elbo_new_draws").click().run()  # seed 5 -> 6
    assert page.number_input(key="elbo_seed").value == 6
    assert_numbers(page, expected(vae, images[7:8], seed=6, k=10, beta=1.0))

    recon, kl = metric(page, "Reconstruction"), metric(page, "KL")
    page.select_slider(key="elbo_beta").set_value(4.0).run()
    no_exception(page)
    assert (metric(page, "Reconstruction"), metric(page, "KL")) == (recon, kl), "β re-weighs, it does not re-encode"
    assert_numbers(page, expected(vae, images[7:8], seed=6, k=10, beta=4.0))


def test_another_vae_changes_the_posterior_plot(page, app_env):
    assert any("z=4" in label for label in page.selectbox(key="elbo_vae").options)
    page.selectbox(key="elbo_vae").set_value(f"shipped/{app_env.vae_4d.stem}").run()  # values are entry keys
    no_exception(page)
    vae = model_for(page, app_env, "elbo_vae")
    assert vae.config.latent_dim == 4
    charts = [c for c in page.get("plotly_chart")]
    posterior = next(c for c in charts if "grey band: prior" in c.proto.spec)
    assert json.loads(posterior.proto.spec)["layout"]["xaxis"]["ticktext"] == ["z₁", "z₂", "z₃", "z₄"]
    x = load_dataset("digits", "test").images[0:1]
    assert_numbers(page, expected(vae, x, seed=0, k=1000, beta=1.0))


def test_upload_shows_the_steps_and_the_numbers_of_the_prepared_image(page, app_env):
    page.radio(key="elbo_source").set_value("upload").run()
    no_exception(page)
    assert any("Upload a picture" in i.value for i in page.info) or page.file_uploader
    png = digit_png()
    page.file_uploader(key="elbo_upload").upload("seven.png", png, "image/png").run()
    no_exception(page)
    assert not page.error
    expander = next(e for e in page.expander if "How the image was prepared" in e.label)
    captions = [c.value for c in expander.caption]
    assert len(captions) == 6, "greyscale, ink on black, crop, fit, centre, downsample to 8x8"
    vae = model_for(page, app_env, "elbo_vae")
    x = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 1, 8, 8)
    want = expected(vae, x, seed=0, k=1000, beta=1.0)
    assert_numbers(page, want)


@pytest.mark.parametrize("bad,words", [
    (b"", "empty"),
    (b"GIF89a but not really", "not an image"),
    (None, "only 1×1"),
])
def test_bad_upload_gets_a_message_and_loses_nothing(page, app_env, bad, words):
    if bad is None:
        buffer = io.BytesIO()
        Image.new("L", (1, 1), 0).save(buffer, "PNG")
        bad = buffer.getvalue()
    page.radio(key="elbo_source").set_value("upload").run()
    page.file_uploader(key="elbo_upload").upload("good.png", digit_png(), "image/png").run()
    good = metric(page, "−ELBO")
    page.file_uploader(key="elbo_upload").upload("bad.png", bad, "image/png").run()
    no_exception(page)
    assert len(page.error) == 1 and words in page.error[0].value and "previous image" in page.error[0].value
    assert metric(page, "−ELBO") == good, "the last good image is still the one measured"


def test_drawing_is_measured_and_clear_forgets_it(page, app_env):
    page.radio(key="elbo_source").set_value("draw").run()
    no_exception(page)
    assert any("draw" in i.value.lower() for i in page.info)
    png = digit_png(ink=0, paper=255)
    # What the browser's canvas sends when a stroke ends: its component state {"image": data URL}.
    page.session_state["elbo_canvas"] = {"image": to_data_url(png)}
    page.run()
    no_exception(page)
    vae = model_for(page, app_env, "elbo_vae")
    x = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 1, 8, 8)
    assert_numbers(page, expected(vae, x, seed=0, k=1000, beta=1.0))
    # a drawing that arrives damaged: a message, and the previous drawing stays
    page.session_state["elbo_canvas"] = {"image": "data:image/png;base64,@@@"}
    page.run()
    no_exception(page)
    assert "damaged" in page.error[0].value
    assert metric(page, "KL") == pytest.approx(expected(vae, x, seed=0, k=1000, beta=1.0)["KL"], abs=0.006)


def test_input_survives_switching_sources(page, app_env):
    page.radio(key="elbo_source").set_value("upload").run()
    page.file_uploader(key="elbo_upload").upload("d.png", digit_png(), "image/png").run()
    uploaded = metric(page, "−ELBO")
    page.radio(key="elbo_source").set_value("test").run()
    assert metric(page, "−ELBO") != uploaded
    page.radio(key="elbo_source").set_value("upload").run()
    no_exception(page)
    assert metric(page, "−ELBO") == uploaded


# --- vae_core.elbo_report on its own (no AppTest) ----------------------------------------------------------------------
def test_breakdown_terms_agree_with_the_closed_form(app_env):
    from vae_core import elbo_report as elbo

    model = load_checkpoint(app_env.vae_4d).model
    x = load_dataset("digits", "test").images[3:4]
    terms = elbo.elbo_breakdown(model, x, beta=2.0, seed=1)
    with torch.no_grad():
        mean, logvar = (t[0].double().numpy() for t in model.encode(x))
    kl_per_dim = 0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar)  # Kingma & Welling (2014), Appendix B
    np.testing.assert_allclose(terms.kl_per_dim, kl_per_dim, rtol=1e-4, atol=1e-6)
    assert terms.kl == pytest.approx(kl_per_dim.sum(), rel=1e-4)
    np.testing.assert_allclose(terms.posterior_std, np.exp(0.5 * logvar), rtol=1e-5)
    assert terms.objective == pytest.approx(terms.recon + 2.0 * terms.kl)
    assert terms.with_beta(0.5).objective == pytest.approx(terms.recon + 0.5 * terms.kl)
    np.testing.assert_allclose(terms.objective_at([0.0, 1.0]), [terms.recon, terms.neg_elbo])
    assert elbo.elbo_breakdown(model, x, beta=2.0, seed=1).recon == terms.recon, "seeded: the same numbers again"
    assert elbo.elbo_breakdown(model, x, beta=2.0, seed=2).recon != terms.recon, "another seed, other draws"


def test_iw_estimate_is_below_the_bound_and_samples_are_seeded(app_env):
    from vae_core import elbo_report as elbo

    model = load_checkpoint(app_env.vae_2d).model
    x = load_dataset("digits", "test").images[5:6]
    neg_elbo = elbo.elbo_breakdown(model, x, beta=1.0, seed=0, n_samples=2000).neg_elbo
    assert elbo.iw_nll(model, x, k=2000, seed=0) <= neg_elbo + 0.05, "IW_K tightens the bound: -IW_K <= -ELBO"
    first = elbo.posterior_samples(model, x, n=4, seed=3)
    assert first.shape == (4, 8, 8) and 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, elbo.posterior_samples(model, x, n=4, seed=3))
    assert not np.array_equal(first, elbo.posterior_samples(model, x, n=4, seed=4))


def test_autoencoder_terms_and_guards(app_env):
    from vae_core import elbo_report as elbo

    ae = load_checkpoint(app_env.ae_2d).model
    vae = load_checkpoint(app_env.vae_2d).model
    x = load_dataset("digits", "test").images[0:1]
    terms = elbo.ae_breakdown(ae, x)
    with torch.no_grad():
        x_hat = ae.reconstruct(x)
        bce = torch.nn.functional.binary_cross_entropy(x_hat.clamp(1e-7, 1 - 1e-7), x, reduction="sum")
    assert terms.recon == pytest.approx(float(bce), rel=1e-3), "Bernoulli NLL of x under the AE's reconstruction"
    assert terms.mse == pytest.approx(float((x_hat - x).pow(2).mean()), rel=1e-6)
    with pytest.raises(AssertionError):
        elbo.ae_breakdown(vae, x)
    with pytest.raises(AssertionError):
        elbo.elbo_breakdown(ae, x, beta=1.0, seed=0)


def test_figures_show_the_breakdown_they_are_given():
    from ui.figures.elbo import kl_per_dim_figure, objective_figure, posterior_figure
    from vae_core.elbo_report import ElboBreakdown
    from vae_core.images import enlarge, thumbnail

    terms = ElboBreakdown(recon=50.0, kl=4.0, kl_per_dim=np.array([3.0, 1.0, 0.0]),
                          posterior_mean=np.array([1.5, -0.5, 0.0]), posterior_std=np.array([0.2, 0.6, 1.0]),
                          beta=2.0, n_samples=64, seed=0)
    informative, idle = posterior_figure(terms).data  # KL >= 0.05 nats: dims 0 and 1; dim 2 sits on the prior
    np.testing.assert_array_equal(informative.x, [0, 1])
    np.testing.assert_allclose(informative.y, terms.posterior_mean[:2])
    np.testing.assert_allclose(informative.error_y.array, terms.posterior_std[:2])
    np.testing.assert_array_equal(idle.x, [2])
    np.testing.assert_allclose(kl_per_dim_figure(terms).data[0].y, terms.kl_per_dim)
    curve = objective_figure(terms, [0.0, 1.0, 4.0])
    np.testing.assert_allclose(curve.data[0].y, [50.0, 54.0, 66.0])
    assert (curve.data[2].x[0], curve.data[2].y[0]) == (2.0, 58.0), "the chosen β is marked on the curve"

    pixels = enlarge(np.eye(8, dtype=np.float32), 140)
    assert pixels.shape == (136, 136) and pixels.dtype == np.uint8
    assert pixels[:17, :17].min() == 255 and pixels[:17, 17:34].max() == 0, "pixels stay sharp squares"
    assert max(thumbnail(np.zeros((512, 256)), 160).shape) == 160
