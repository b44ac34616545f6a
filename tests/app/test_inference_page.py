"""The inference page (AppTest): it runs on the offline digits zoo, and its key numbers equal independent ones.

The expectations are computed here without vae_core.lessons.posterior: log p(x) by brute-force quadrature over a wide
fixed grid with torch.distributions' Bernoulli log-probability, the ELBO by many-sample Monte Carlo with
model.loss, IW_K by model.iw_log_weights with the page's seed, the mean-field numbers from 1 − ρ² and
−½ log(1 − ρ²), the forward-KL fit from the mixture's moments written out.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from torch.distributions import Bernoulli, Normal

from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset
from vae_core.engine.losses import iw_log_likelihood
from vae_core.serving.preprocess import preprocess_bytes

PAGE = LESSONS["inference"].script
# The test zoo's models are trained on grey levels with a Bernoulli decoder (vae_core.engine.protocol's GREY_BERNOULLI),
# where the page may not call the integral log p(x).
EVIDENCE = "log ∫ p(x|z) p(z) dz"


def metric(at, label_start: str) -> float:
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert len(found) == 1, f"expected one metric '{label_start}…', found {[m.label for m in at.metric]}"
    return float(found[0].value.replace("−", "-"))


def shown_decimals(at, label_start: str) -> int:
    value = next(m.value for m in at.metric if m.label.startswith(label_start))
    return len(value.split(".")[1]) if "." in value else 0


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def brute_force_log_px(model, x: torch.Tensor, half_width: float = 6.0, n: int = 801) -> float:
    """log ∫ p(x|z) p(z) dz on a fixed (n × n) grid over [−half_width, half_width]², independent of the page.

    Grey-level pixels are scored with the Bernoulli formula as in training (validate_args=False allows them).
    """
    t = torch.linspace(-half_width, half_width, n)
    z = torch.cartesian_prod(t, t)
    with torch.no_grad():
        log_px_z = [
            Bernoulli(logits=model.decode_params(chunk).flatten(1), validate_args=False)
            .log_prob(x.flatten().expand(len(chunk), -1))
            .sum(1)
            for chunk in z.split(20000)
        ]
        log_joint = torch.cat(log_px_z).double() + Normal(0.0, 1.0).log_prob(z).sum(1).double()
    return float(torch.logsumexp(log_joint, 0)) + 2 * math.log(float(t[1] - t[0]))


@pytest.fixture
def page(open_page):
    at = open_page(PAGE)
    no_exception(at)
    return at


def test_page_numbers_equal_independent_computations(page, app_env):
    model = load_checkpoint(app_env.vae_2d).model
    index = int(page.number_input(key="inference_index").value)
    x = load_dataset("digits", "test").images[index]

    log_px = brute_force_log_px(model, x)
    rounding = 0.5 * 10 ** -shown_decimals(page, EVIDENCE)
    assert metric(page, EVIDENCE + ", quadrature") == pytest.approx(log_px, abs=rounding + 2e-3)
    with torch.no_grad():
        elbo_mc = -float(model.loss(x[None], n_samples=20000, generator=torch.Generator().manual_seed(1)).neg_elbo)
        # the page quotes the mean over its seeds 0-3 (issue 20 item 21), not seed 0's draw
        iw = (
            sum(
                float(
                    iw_log_likelihood(
                        model.iw_log_weights(x[None], k=5000, generator=torch.Generator().manual_seed(s))
                    )[0]
                )
                for s in range(4)
            )
            / 4
        )
    assert metric(page, "ELBO of q(z|x)") == pytest.approx(elbo_mc, abs=0.03)
    assert metric(page, "IW, K=5000") == pytest.approx(iw, abs=0.5 * 10 ** -shown_decimals(page, "IW, K=") + 1e-4)
    gap, kl = metric(page, f"Gap: {EVIDENCE} − ELBO"), metric(page, "KL(q ‖ p(z|x)) on the grid")
    assert gap == pytest.approx(log_px - elbo_mc, abs=0.04)
    assert kl == pytest.approx(gap, abs=0.02)
    assert metric(page, "ELBO of q(z|x)") < metric(page, "ELBO of q*") <= log_px + 0.01
    assert metric(page, "Approximation gap") + metric(page, "Amortisation gap") == pytest.approx(gap, abs=0.02)
    assert "cross-entropies, not −log p(x)" in "\n".join(c.value for c in page.caption)


def test_the_largest_gap_picker_shows_an_image_with_a_larger_gap(page):
    gap_first = metric(page, f"Gap: {EVIDENCE} − ELBO")
    page.radio(key="inference_source").set_value("largest").run()
    no_exception(page)
    top = page.selectbox(key="inference_ranked").options
    assert len(top) == 10
    ranked_gap = metric(page, f"Gap: {EVIDENCE} − ELBO")
    assert ranked_gap >= gap_first or gap_first == pytest.approx(ranked_gap, abs=0.05), (
        "the top-ranked image's exact gap should not fall short of a default image's"
    )


def test_mean_field_numbers_follow_the_closed_forms(page):
    page.slider(key="inference_rho").set_value(0.5).run()
    no_exception(page)
    assert metric(page, "Reverse-KL variance ÷ true variance") == pytest.approx(0.75, abs=5e-4)
    assert metric(page, "KL(q ‖ p) of the reverse fit") == pytest.approx(-0.5 * math.log(0.75), abs=5e-4)
    assert metric(page, "KL(p ‖ q) of the forward fit") == pytest.approx(-0.5 * math.log(0.75), abs=5e-4)
    assert any("ρ = 0.50" in m.value and "0.75" in m.value for m in page.markdown)


@pytest.mark.parametrize("dim", [1, 2])
def test_forward_fit_row_has_the_mixture_moments(page, dim):
    page.radio(key="inference_mixture_dim").set_value(dim).run()
    page.slider(key="inference_separation").set_value(4.0).run()
    page.slider(key="inference_weight").set_value(0.3).run()
    no_exception(page)
    table = page.table[0].value
    row = list(table["fit"]).index("forward (moments)")
    d, w = 4.0, 0.3
    mean = w * (-d / 2) + (1 - w) * (d / 2)
    std = math.sqrt(1.0 + w * (1 - w) * d * d)
    assert float(table["mean z₁"].iloc[row].replace("−", "-")) == pytest.approx(mean, abs=0.005)
    assert float(table["std z₁"].iloc[row]) == pytest.approx(std, abs=0.005)


def test_reverse_fit_starts_pick_their_own_modes(page):
    page.slider(key="inference_separation").set_value(10.0).run()
    page.slider(key="inference_weight").set_value(0.5).run()
    no_exception(page)
    table = page.table[0].value
    means = {fit: float(m.replace("−", "-")) for fit, m in zip(table["fit"], table["mean z₁"], strict=True)}
    assert means["reverse, from mode A"] == pytest.approx(-5.0, abs=0.01)
    assert means["reverse, from mode B"] == pytest.approx(5.0, abs=0.01)
    kl = {fit: float(v) for fit, v in zip(table["fit"], table["KL(q ‖ p), nats"], strict=True)}
    assert kl["reverse, from mode A"] == pytest.approx(math.log(2), abs=0.002)
    page.radio(key="inference_start").set_value("B").run()
    assert any("started near mode B sits on mode B" in m.value for m in page.markdown)


def test_a_binarised_model_sees_the_test_sets_fixed_binarisation(app_env, tmp_path, open_page):
    """A model trained with dynamic binarisation is shown the test set's one seeded binarisation (the model
    card's protocol), and the page may call the integral log p(x)."""
    import os

    from vae_core.engine.checkpoints import save_checkpoint
    from vae_core.engine.config import ModelConfig, TrainConfig
    from vae_core.engine.data import measured_inputs
    from vae_core.engine.protocol import DataProtocol
    from vae_core.engine.training import fit

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    result = fit(
        ModelConfig(input_shape=train.input_shape, latent_dim=2, hidden_dims=(64,)),
        TrainConfig(dataset="digits", epochs=2, lr=3e-3, dynamic_binarization=True, eval_each_epoch=False),
        train_data=train,
        test_data=test,
    )
    folder = Path(os.environ["VAE_USER_CHECKPOINT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        folder / "digits-vae-z2-bin.safetensors",
        result.model,
        TrainConfig(dataset="digits", epochs=2, dynamic_binarization=True),
    )
    at = open_page(PAGE)
    at.selectbox(key="inference_vae").set_value("user/digits-vae-z2-bin").run()
    no_exception(at)
    assert any("fixed binarisation" in c.value for c in at.caption)
    index = int(at.number_input(key="inference_index").value)
    x = measured_inputs(test.images, DataProtocol.BINARIZED)[index]
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    shown = metric(at, "log p(x), quadrature")
    rounding = 0.5 * 10 ** -shown_decimals(at, "log p(x)")
    assert shown == pytest.approx(brute_force_log_px(result.model.eval(), x), abs=rounding + 2e-3)


def test_an_upload_is_measured_like_a_test_image(page, app_env):
    """Your own image goes through the shared chooser (its preprocessing) and gets the same quadrature as a test
    image: the page's log p(x) against brute force on the prepared upload."""
    page.radio(key="inference_source").set_value("own").run()
    page.radio(key="inference_own_source").set_value("upload").run()
    png = seven_png()
    page.file_uploader(key="inference_own_upload").upload("seven.png", png, "image/png").run()
    no_exception(page)
    model = load_checkpoint(app_env.vae_2d).model
    x = torch.from_numpy(preprocess_bytes(png, (1, 8, 8)).image).reshape(1, 8, 8)  # the grey-level test zoo
    log_px = brute_force_log_px(model, x)
    rounding = 0.5 * 10 ** -shown_decimals(page, EVIDENCE)
    assert metric(page, EVIDENCE + ", quadrature") == pytest.approx(log_px, abs=rounding + 2e-3)


def seven_png(size: int = 280) -> bytes:
    """A hand-drawn-looking 7, dark ink on white paper, as a phone photo of a digit would be."""
    image = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(image)
    pen.line((60, 50, 220, 50), fill=0, width=22)
    pen.line((220, 50, 120, 250), fill=0, width=22)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_upload_path_asks_for_no_second_test_image_and_speaks_of_this_page(page):
    """Issue 20 item 17: "Upload or drawing" showed the shared chooser's own "A test image" choice (a second
    test-image picker) and its hint "…to see its ELBO" from the ELBO page."""
    page.radio(key="inference_source").set_value("own").run()
    no_exception(page)
    assert page.radio(key="inference_own_source").options == ["Upload a picture", "Draw"]
    hints = [i.value for i in page.info]
    assert any("to see its true posterior" in h for h in hints) and not any("ELBO" in h for h in hints)
    assert not any(n.key == "inference_own_test_index" for n in page.number_input)


@pytest.mark.slow
def test_the_largest_gap_list_is_ranked_by_the_exact_gap_on_mnist():
    """Issue 20 item 22: the quick ranking put mnist-vae-z2's test image 44 7th at ≈ 27 nats, whose exact gap is
    68.08 (its posterior lies outside the quick box). The shown list is ordered by exact gaps, each checked here
    against brute-force quadrature of log p(x) on a wide fixed grid minus the ELBO by many-sample Monte Carlo."""
    from vae_core.engine.data import measured_inputs
    from vae_core.engine.protocol import protocol_of
    from vae_core.lessons import posterior

    path = Path(__file__).resolve().parents[2] / "checkpoints" / "mnist-vae-z2.safetensors"
    loaded = load_checkpoint(path)
    model = loaded.model.eval()
    protocol = protocol_of(loaded.info.train_config, loaded.info.model_config)
    images = measured_inputs(load_dataset("mnist", "test").images, protocol)[:60]
    with torch.no_grad():
        means, logvars = model.encode(images)
    decoder = posterior.Decoder.from_model(model)
    quick = posterior.rank_by_gap(decoder, images, means, logvars)
    exact = posterior.rerank_exactly(decoder, images, means, logvars, quick, 10)
    assert list(exact.gaps) == sorted(exact.gaps, reverse=True)
    assert 44 in exact.indices[:3]
    gap_44 = exact.gaps[exact.indices.index(44)]
    x = images[44]
    log_px = brute_force_log_px(model, x, half_width=8.0, n=1601)
    torch.manual_seed(0)
    with torch.no_grad():
        eps = torch.randn(20000, 2)
        z = means[44] + (0.5 * logvars[44]).exp() * eps
        log_lik = Bernoulli(logits=model.decode_params(z).flatten(1)).log_prob(x.flatten().expand(len(z), -1)).sum(1)
        q = Normal(means[44], (0.5 * logvars[44]).exp()).log_prob(z).sum(1)
        elbo = float((log_lik + Normal(0.0, 1.0).log_prob(z).sum(1) - q).mean())
    assert gap_44 == pytest.approx(log_px - elbo, abs=0.1)
    assert gap_44 > 60
