"""The ELBO page (AppTest): it runs, its widgets change what it shows, and every number it shows equals an
independent computation.

The expectations are rebuilt from the checkpoint file with the model's encoder and decoder networks and
torch.distributions (Bernoulli log-probabilities, the closed-form Normal KL, direct importance sampling with the
stated seeds), not through vae_core.lessons.elbo_report or model.loss, so a slip in the page's plumbing (wrong input,
grey instead of binarised, wrong seed, wrong K, wrong beta, stale values) shows up as a mismatch.

Two zoos: `binarised_zoo` (here) mirrors the shipped one, every model trained on dynamically binarised digits;
`tiny_zoo` (tests/conftest.py) is grey-level, the case where the page must not speak of -log p(x).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch.distributions import Bernoulli, Normal, kl_divergence

from tests.conftest import train_tiny_checkpoint
from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset
from vae_core.lessons.elbo_report import BINARIZATION_SEEDS, IW_SEEDS, RECON_SAMPLES, decimals_for
from vae_core.serving.preprocess import preprocess_bytes, to_data_url

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_FILE = REPO_ROOT / "app.py"
PAGE = LESSONS["elbo_breakdown"].script


# --- a binarised zoo, like the shipped one ------------------------------------------------------------------------
def train_binarised(path: Path, *, kind: str, latent_dim: int, role: str | None, group: str | None) -> Path:
    return train_tiny_checkpoint(
        path, kind=kind, latent_dim=latent_dim, role=role, group=group, epochs=3, binarized=True
    )


@pytest.fixture(scope="module")
def binarised_zoo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("binarised_zoo")
    family = dict(role="family-2d", group="digits-family-2d")
    train_binarised(folder / "digits-vae-z2.safetensors", kind="vae", latent_dim=2, **family)
    train_binarised(folder / "digits-ae-z2.safetensors", kind="ae", latent_dim=2, **family)
    train_binarised(folder / "digits-vae-z4.safetensors", kind="vae", latent_dim=4, role="default", group=None)
    train_binarised(folder / "digits-ae-z4.safetensors", kind="ae", latent_dim=4, role="default", group=None)
    return folder


@pytest.fixture
def page(binarised_zoo, tmp_path, monkeypatch, navigation_only):
    """The ELBO page on the binarised zoo (digits only), run once with its defaults."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(binarised_zoo))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "no_data"))
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    no_exception(at)
    return at


@pytest.fixture
def grey_page(open_page):
    """The ELBO page on the grey-level tiny zoo."""
    at = open_page(PAGE)
    no_exception(at)
    return at


# --- independent computations -------------------------------------------------------------------------------------
def binarised(grey: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.bernoulli(grey, generator=torch.Generator().manual_seed(seed))


def posterior(model, x) -> Normal:
    with torch.no_grad():
        mean, logvar = model.encode(x)
    return Normal(mean[0].double(), (0.5 * logvar[0].double()).exp())


def log_px_z(model, x, z) -> torch.Tensor:
    with torch.no_grad():
        logits = model.decode_params(z.float()).double().flatten(1)
    return Bernoulli(logits=logits, validate_args=False).log_prob(x.double().flatten().expand(len(z), -1)).sum(1)


def expected(model, x: torch.Tensor, *, seed: int, k: int | None, beta: float) -> dict[str, float]:
    """The page's numbers for x, from the networks and torch.distributions."""
    q = posterior(model, x)
    kl = float(kl_divergence(q, Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean))).sum())
    eps = torch.randn((RECON_SAMPLES, 1, q.mean.numel()), generator=torch.Generator().manual_seed(seed))[:, 0]
    recon = float(-log_px_z(model, x, q.mean + q.stddev * eps.double()).mean())
    want = {"Reconstruction": recon, "KL": kl, "−ELBO": recon + kl, "β·KL": beta * kl, "Objective": recon + beta * kl}
    if k is not None:
        iw = np.mean([direct_iw_nll(model, x, k=k, seed=s) for s in range(seed, seed + IW_SEEDS)])
        want.update({"IW, K=": iw, "Gap": recon + kl - iw})
    return want


def direct_iw_nll(model, x, *, k: int, seed: int, drawn: int | None = None) -> float:
    """One seed's -IW_K: the first K rows of randn((drawn, D)) seeded with seed (the page draws max K once)."""
    q = posterior(model, x)
    eps = torch.randn((drawn or k, q.mean.numel()), generator=torch.Generator().manual_seed(seed))[:k].double()
    z = q.mean + q.stddev * eps
    log_w = log_px_z(model, x, z) + Normal(0.0, 1.0).log_prob(z).sum(1) - q.log_prob(z).sum(1)
    return float(-(torch.logsumexp(log_w, 0) - math.log(k)))


# --- reading the page ---------------------------------------------------------------------------------------------
def metric_text(at, label_start: str) -> str:
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert len(found) == 1, f"expected one metric '{label_start}…', found {[m.label for m in at.metric]}"
    return found[0].value


def metric(at, label_start: str) -> float:
    """The number shown by the metric whose label starts with label_start (a Monte Carlo one's value, without its
    "± standard error")."""
    return float(metric_text(at, label_start).split(" ± ")[0].replace("−", "-"))


def shown_error(at, label_start: str) -> float:
    """The standard error a Monte Carlo metric shows after its value ("0.4 ± 0.2" -> 0.2)."""
    _value, error = metric_text(at, label_start).split(" ± ")
    return float(error)


def shown_decimals(at, label_start: str) -> int:
    text = metric_text(at, label_start).split(" ± ")[0]
    return len(text.split(".")[1]) if "." in text else 0


def model_for(at, folder: Path, key: str):
    """The checkpoint behind a picker value such as 'shipped/digits-vae-z2', loaded afresh from its file."""
    name = at.selectbox(key=key).value.split("/", 1)[1]
    return load_checkpoint(Path(folder) / f"{name}.safetensors").model


def assert_numbers(at, want: dict[str, float]) -> None:
    """Each metric equals the independent number to the digits it shows (half a unit of its last digit)."""
    for label, value in want.items():
        tolerance = 0.5 * 10 ** -shown_decimals(at, label) + 2e-3
        assert metric(at, label) == pytest.approx(value, abs=tolerance), label


def values(data) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or plotly's typed array {"dtype", "bdata"}."""
    if isinstance(data, dict):
        import base64

        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data)


def chart(at, title_part: str) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    found = [s for s in specs if title_part in json.dumps(s["layout"].get("title", ""), ensure_ascii=False)]
    assert len(found) == 1, f"one chart titled '{title_part}'"
    return found[0]


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


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


def digits_test_image(index: int) -> torch.Tensor:
    return load_dataset("digits", "test").images[index : index + 1]


# --- the binarised zoo: what the shipped models get -------------------------------------------------------------
def test_page_measures_the_binarised_image_and_matches_independent_numbers(page, binarised_zoo):
    assert page.title[0].value == "ELBO breakdown"
    assert "Watch which latent dimensions" in page.markdown[0].value, "the page opens with what to look at"
    vae = model_for(page, binarised_zoo, "elbo_vae")
    grey = digits_test_image(0)
    want = expected(vae, binarised(grey, 0), seed=0, k=1000, beta=1.0)
    assert_numbers(page, want)
    as_grey = expected(vae, grey, seed=0, k=None, beta=1.0)
    assert as_grey["−ELBO"] != pytest.approx(want["−ELBO"], abs=0.05), "the grey image would give other numbers"
    text = captions(page)
    assert "trained on binarised images, so it is measured on a binarised copy" in text and "(seed 0)" in text
    assert any("Binarised, seed 0" in str(e.proto) for e in page.get("image")), "the binarised copy is shown"


def test_binarisation_seed_and_average(page, binarised_zoo):
    vae = model_for(page, binarised_zoo, "elbo_vae")
    grey = digits_test_image(0)
    page.number_input(key="elbo_binarize_seed").set_value(3).run()
    no_exception(page)
    assert_numbers(page, expected(vae, binarised(grey, 3), seed=0, k=1000, beta=1.0))
    page.toggle(key="elbo_binarize_average").set_value(True).run()
    no_exception(page)
    values = [expected(vae, binarised(grey, s), seed=0, k=None, beta=1.0)["−ELBO"] for s in range(BINARIZATION_SEEDS)]
    label = f"−ELBO, mean of {BINARIZATION_SEEDS}"
    assert metric(page, label) == pytest.approx(np.mean(values), abs=0.5 * 10 ** -shown_decimals(page, label) + 2e-3)
    assert f"{np.std(values, ddof=1):.1f} nats" in captions(page)


def test_iw_curve_shows_seeds_and_their_spread(page, binarised_zoo):
    vae = model_for(page, binarised_zoo, "elbo_vae")
    x = binarised(digits_test_image(0), 0)
    page.select_slider(key="elbo_k").set_value(100).run()
    no_exception(page)
    ks = [1, 5, 10, 50, 100]
    table = np.array([[direct_iw_nll(vae, x, k=k, seed=s, drawn=100) for k in ks] for s in range(IW_SEEDS)])
    figure = chart(page, "against K")
    mean_trace = next(t for t in figure["data"] if t["name"].startswith(f"mean of {IW_SEEDS} seeds"))
    np.testing.assert_allclose(values(mean_trace["x"]), ks)
    np.testing.assert_allclose(values(mean_trace["y"]), table.mean(0), atol=2e-3)
    np.testing.assert_allclose(values(mean_trace["error_y"]["array"]), table.std(0, ddof=1), atol=2e-3)
    seed_lines = [t for t in figure["data"] if t["name"].startswith("seed ")]
    assert len(seed_lines) == IW_SEEDS
    np.testing.assert_allclose(values(seed_lines[2]["y"]), table[2], atol=2e-3)
    # the estimate is shown to the digits the noise of a mean of IW_SEEDS draws supports
    assert shown_decimals(page, "IW, K=100") == decimals_for(table[:, -1].std(ddof=1) / math.sqrt(IW_SEEDS))
    assert metric(page, "IW, K=100") == pytest.approx(
        table[:, -1].mean(), abs=0.5 * 10 ** -shown_decimals(page, "IW, K=100") + 2e-3
    )
    rising = int(sum(np.any(np.diff(row) > 0) for row in table))
    text = captions(page)
    claim = f"{rising} of {IW_SEEDS} seeds' estimates rise" if rising else "every seed's estimate falls"
    assert claim in text
    gap_help = next(m for m in page.metric if m.label == "Gap").help
    assert "KL(q(z|x) ‖ p(z|x)) − (log p(x) − IW_K)" in gap_help and "lower estimate" in gap_help
    k_help = page.select_slider(key="elbo_k").help
    assert "expectation" in k_help and "tightens" not in k_help


def test_kl_plot_colours_are_the_ones_the_caption_names(page, binarised_zoo):
    from ui.figures.elbo import COLOUR_NAMES

    vae = model_for(page, binarised_zoo, "elbo_vae")
    q = posterior(vae, binarised(digits_test_image(0), 0))
    kl_per_dim = kl_divergence(q, Normal(0.0, 1.0)).numpy()
    bars = chart(page, "KL per dimension")["data"][0]
    np.testing.assert_allclose(values(bars["y"]), kl_per_dim, rtol=1e-4, atol=1e-6)
    text = captions(page)
    colours = set(bars["marker"]["color"])
    for colour in colours:
        assert COLOUR_NAMES[colour] in text, f"the caption names the bars' colour {colour}"
    informative = int((kl_per_dim >= 0.05).sum())
    assert f"{informative} of {kl_per_dim.size} dimensions are informative" in text
    ticks = chart(page, "grey band: prior")["layout"]["xaxis"]["ticktext"]
    assert ticks == [f"z{chr(0x2080 + d)}" for d in range(1, kl_per_dim.size + 1)]
    assert "active unit" not in text and "nats about" not in text


def test_pickers_start_from_the_sidebar_and_the_ae_matches_the_vae(page, binarised_zoo):
    assert page.selectbox(key="elbo_vae").value == page.selectbox(key="sidebar_model").value
    assert page.selectbox(key="elbo_ae").value.endswith("digits-ae-z2"), "the AE with the VAE's latent size"
    page.selectbox(key="sidebar_model").set_value("shipped/digits-vae-z4").run()
    no_exception(page)
    assert page.selectbox(key="elbo_vae").value == "shipped/digits-vae-z4"
    assert page.selectbox(key="elbo_ae").value == "shipped/digits-ae-z4"
    page.selectbox(key="sidebar_model").set_value("shipped/digits-ae-z2").run()
    assert (page.selectbox(key="elbo_vae").value, page.selectbox(key="elbo_ae").value) == (
        "shipped/digits-vae-z2",
        "shipped/digits-ae-z2",
    )
    page.selectbox(key="elbo_ae").set_value("shipped/digits-ae-z4").run()
    no_exception(page)
    assert any("Not a like-for-like comparison" in w.value and "4-D code" in w.value for w in page.warning)


def test_the_ae_text_says_what_its_numbers_say(page, binarised_zoo):
    vae = model_for(page, binarised_zoo, "elbo_vae")
    ae = model_for(page, binarised_zoo, "elbo_ae")
    x = binarised(digits_test_image(0), 0)
    with torch.no_grad():
        ae_recon = float(-log_px_z(ae, x, ae.encode(x).mean.double())[0])
    vae_at_mean = float(-log_px_z(vae, x, posterior(vae, x).mean[None])[0])
    assert metric(page, "AE reconstruction") == pytest.approx(ae_recon, abs=0.006)
    text = next(m.value for m in page.markdown if "On this image the AE's reconstruction costs" in m.value)
    assert f"{ae_recon:.1f} nats" in text and f"{vae_at_mean:.1f}" in text
    if ae_recon < vae_at_mean - 1:
        assert "The AE rebuilds this image better" in text
    elif ae_recon > vae_at_mean + 1:
        assert "the VAE rebuilds the image better" in text
    else:
        assert "about equally well" in text
    assert "usually sharper" not in text


def test_widgets_change_the_numbers_and_they_stay_exact(page, binarised_zoo):
    vae = model_for(page, binarised_zoo, "elbo_vae")
    before = metric(page, "KL")
    page.number_input(key="elbo_test_index").set_value(7).run()
    no_exception(page)
    assert metric(page, "KL") != before
    x = binarised(digits_test_image(7), 0)
    assert_numbers(page, expected(vae, x, seed=0, k=1000, beta=1.0))

    page.select_slider(key="elbo_k").set_value(10).run()
    page.number_input(key="elbo_seed").set_value(5).run()
    no_exception(page)
    assert any("K=10" in m.label for m in page.metric)
    assert_numbers(page, expected(vae, x, seed=5, k=10, beta=1.0))

    page.button(key="elbo_new_draws").click().run()  # seed 5 -> 6
    assert page.number_input(key="elbo_seed").value == 6
    assert_numbers(page, expected(vae, x, seed=6, k=10, beta=1.0))

    recon, kl = metric(page, "Reconstruction"), metric(page, "KL")
    page.select_slider(key="elbo_beta").set_value(4.0).run()
    no_exception(page)
    assert (metric(page, "Reconstruction"), metric(page, "KL")) == (recon, kl), "β re-weighs, it does not re-encode"
    assert_numbers(page, expected(vae, x, seed=6, k=10, beta=4.0))


def test_upload_is_binarised_too(page, binarised_zoo):
    page.radio(key="elbo_source").set_value("upload").run()
    png = digit_png()
    page.file_uploader(key="elbo_upload").upload("seven.png", png, "image/png").run()
    no_exception(page)
    assert not page.error
    expander = next(e for e in page.expander if "How the image was prepared" in e.label)
    assert len(expander.caption) == 6, "greyscale, ink on black, crop, fit, centre, downsample to 8x8"
    vae = model_for(page, binarised_zoo, "elbo_vae")
    grey = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 1, 8, 8)
    assert_numbers(page, expected(vae, binarised(grey, 0), seed=0, k=1000, beta=1.0))
    assert "measured on a binarised copy" in captions(page)


# --- the grey-level zoo: cross-entropies, not likelihoods ---------------------------------------------------------
def test_grey_models_get_the_caveat_and_no_likelihood_words(grey_page, app_env):
    at = grey_page
    vae = model_for(at, app_env.folder, "elbo_vae")
    grey = digits_test_image(0)
    assert_numbers(at, expected(vae, grey, seed=0, k=None, beta=1.0))
    p = grey.double().clamp(0, 1)
    floor = float(-(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum())
    warning = next(w.value for w in at.warning if "not −log p(x)" in w.value)
    assert f"that floor is {floor:.1f} nats" in warning
    assert not [m for m in at.metric if m.label.startswith("IW")], "no IW estimate of a non-density"
    assert all("log p(x)" not in (m.help or "") for m in at.metric if m.label in ("Reconstruction", "−ELBO"))
    assert "binarised copy" not in captions(at)


@pytest.mark.parametrize(
    "bad,words",
    [
        (b"", "empty"),
        (b"GIF89a but not really", "not an image"),
        (None, "only 1×1"),
    ],
)
def test_bad_upload_gets_a_message_and_loses_nothing(grey_page, bad, words):
    page = grey_page
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


def test_drawing_is_measured_and_clear_forgets_it(grey_page, app_env):
    page = grey_page
    page.radio(key="elbo_source").set_value("draw").run()
    no_exception(page)
    assert any("draw" in i.value.lower() for i in page.info)
    png = digit_png(ink=0, paper=255)
    # What the browser's canvas sends when a stroke ends: its component state {"image": data URL}.
    page.session_state["elbo_canvas"] = {"image": to_data_url(png)}
    page.run()
    no_exception(page)
    vae = model_for(page, app_env.folder, "elbo_vae")
    x = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 1, 8, 8)
    assert_numbers(page, expected(vae, x, seed=0, k=None, beta=1.0))
    # a drawing that arrives damaged: a message, and the previous drawing stays
    page.session_state["elbo_canvas"] = {"image": "data:image/png;base64,@@@"}
    page.run()
    no_exception(page)
    assert "damaged" in page.error[0].value
    assert metric(page, "KL") == pytest.approx(expected(vae, x, seed=0, k=None, beta=1.0)["KL"], abs=0.006)


def test_input_survives_switching_sources(page):
    page.radio(key="elbo_source").set_value("upload").run()
    page.file_uploader(key="elbo_upload").upload("d.png", digit_png(), "image/png").run()
    uploaded = metric(page, "−ELBO")
    page.radio(key="elbo_source").set_value("test").run()
    assert metric(page, "−ELBO") != uploaded
    page.radio(key="elbo_source").set_value("upload").run()
    no_exception(page)
    assert metric(page, "−ELBO") == uploaded


# --- vae_core.lessons.elbo_report on its own (no AppTest) -------------------------------------------------------------
def test_breakdown_terms_agree_with_the_closed_form(app_env):
    from vae_core.lessons import elbo_report as elbo

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
    from vae_core.lessons import elbo_report as elbo

    model = load_checkpoint(app_env.vae_2d).model
    x = load_dataset("digits", "test").images[5:6]
    neg_elbo = elbo.elbo_breakdown(model, x, beta=1.0, seed=0, n_samples=2000).neg_elbo
    assert elbo.iw_nll(model, x, k=2000, seed=0) <= neg_elbo + 0.05, "IW_K tightens the bound: -IW_K <= -ELBO"
    first = elbo.posterior_samples(model, x, n=4, seed=3)
    assert first.shape == (4, 8, 8) and first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, elbo.posterior_samples(model, x, n=4, seed=3))
    assert not np.array_equal(first, elbo.posterior_samples(model, x, n=4, seed=4))


def test_autoencoder_terms_and_guards(app_env):
    from vae_core.lessons import elbo_report as elbo

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
    from vae_core.lessons.elbo_report import ElboBreakdown
    from vae_core.serving.images import enlarge, thumbnail

    terms = ElboBreakdown(
        recon=50.0,
        kl=4.0,
        kl_per_dim=np.array([3.0, 1.0, 0.0]),
        posterior_mean=np.array([1.5, -0.5, 0.0]),
        posterior_std=np.array([0.2, 0.6, 1.0]),
        beta=2.0,
        n_samples=64,
        seed=0,
    )
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


# --- issue 20: Monte Carlo figures with their spread; the averaging switch across sources --------------------------
def exact_terms(model, x, half_width: float = 6.0, n: int = 601) -> tuple[float, float]:
    """(−ELBO, −log p(x)) of a 2-D VAE by quadrature on a grid of z (no sampling): the exact numbers that the
    page's Monte Carlo figures estimate."""
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    z = torch.cartesian_prod(axis, axis)
    cell = float((axis[1] - axis[0]) ** 2)
    log_lik = torch.cat([log_px_z(model, x, chunk) for chunk in z.split(40_000)])
    log_prior = Normal(0.0, 1.0).log_prob(z).sum(1)
    neg_log_px = -float(torch.logsumexp(log_lik + log_prior, 0) + math.log(cell))
    q = posterior(model, x)
    q_mass = q.log_prob(z).sum(1).exp() * cell
    assert float(q_mass.sum()) == pytest.approx(1.0, abs=1e-3), "the grid holds q(z|x)"
    kl = float(kl_divergence(q, Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean))).sum())
    return float(-(q_mass * log_lik).sum()) + kl, neg_log_px


def test_every_monte_carlo_figure_carries_its_standard_error(page, binarised_zoo):
    vae = model_for(page, binarised_zoo, "elbo_vae")
    x = binarised(digits_test_image(0), 0)
    neg_elbo, neg_log_px = exact_terms(vae, x)
    for label in ("Reconstruction", "−ELBO", "IW, K=", "Gap", "Objective"):
        assert " ± " in metric_text(page, label), label
    assert " ± " not in metric_text(page, "KL"), "the closed-form KL is exact"
    # the shown standard errors cover the exact numbers (3 standard errors, plus half a unit of the last digit)
    for label, exact in (("−ELBO", neg_elbo), ("IW, K=", neg_log_px), ("Gap", neg_elbo - neg_log_px)):
        slack = 3 * shown_error(page, label) + 0.5 * 10 ** -shown_decimals(page, label)
        assert metric(page, label) == pytest.approx(exact, abs=slack), (label, metric_text(page, label), exact)
    # the reconstruction's error is the draws' standard deviation over √64, recomputed from the same draws
    q = posterior(vae, x)
    eps = torch.randn((RECON_SAMPLES, 1, q.mean.numel()), generator=torch.Generator().manual_seed(0))[:, 0]
    per_draw = -log_px_z(vae, x, q.mean + q.stddev * eps.double())
    stderr = float(per_draw.std(unbiased=True)) / math.sqrt(RECON_SAMPLES)
    assert shown_error(page, "Reconstruction") == pytest.approx(stderr, abs=0.5 * 10 ** -decimals_for(stderr))


def test_the_averaging_switch_shows_its_state_after_switching_to_an_upload(page):
    def switch(at):
        (toggle,) = [t for t in at.toggle if t.key == "elbo_binarize_average"]
        return toggle

    switch(page).set_value(True).run()
    page.radio(key="elbo_source").set_value("upload").run()  # no file yet: the page stops before the switch
    page.file_uploader(key="elbo_upload").upload("seven.png", digit_png(), "image/png").run()
    no_exception(page)
    assert metric_text(page, f"−ELBO, mean of {BINARIZATION_SEEDS}")  # the average is shown ...
    # ... and the browser is told the switch is on: a redrawn widget shows its proto's value, not the server's state
    assert switch(page).proto.value and switch(page).proto.set_value
    switch(page).set_value(False).run()
    assert not [m for m in page.metric if m.label.startswith("−ELBO, mean of")]
