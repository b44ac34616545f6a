"""AppTests of what a student reads against what is drawn (issue 20, section 2): axes that are said to be shared
are shared and hold every point, counts in captions match the figure's cells, Monte Carlo figures carry their
spread, and sentences fit the settings they are shown at. The data set is chosen explicitly (digits, offline)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from ui.shell.lessons import LESSONS
from ui.shell.sidebar import DATASET_LABELS

DIGITS = DATASET_LABELS["digits"]


def chart_specs(at) -> dict[str, dict]:
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def chart_configs(at) -> dict[str, dict]:
    return {chart.key: json.loads(chart.proto.config) for chart in at.get("plotly_chart")}


def values(array_or_typed) -> np.ndarray:
    if isinstance(array_or_typed, dict) and "bdata" in array_or_typed:
        return np.frombuffer(base64.b64decode(array_or_typed["bdata"]), dtype=np.dtype(array_or_typed["dtype"]))
    return np.asarray(array_or_typed, dtype=float)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def on_digits(at):
    at.sidebar.selectbox(key="sidebar_dataset").set_value(DIGITS).run()
    assert not at.exception, at.exception
    return at


# --- Home (item 17) ---------------------------------------------------------------------------------------
def test_home_writes_the_kl_of_a_vector_with_the_identity_covariance(open_page):
    at = on_digits(open_page())
    (kl,) = [latex.value for latex in at.latex if r"\sum_{d}" in latex.value]
    assert r"\mathcal{N}(0,I)" in kl and r"\mathcal{N}(0,1)" not in kl, kl


# --- Latent space (item 3, item 17) -----------------------------------------------------------------------
def test_same_axes_share_range_and_scale_and_hold_every_point(open_page):
    at = on_digits(open_page(LESSONS["latent_space"].script))
    specs = {k: v for k, v in chart_specs(at).items() if k.startswith("latent_chart_") and not k.endswith("_own")}
    assert len(specs) == 2
    layouts = [spec["layout"] for spec in specs.values()]
    for axis in ("xaxis", "yaxis"):
        assert layouts[0][axis]["range"] == layouts[1][axis]["range"]
        # the range given is the range drawn: equal scales shrink the plot area, not widen one range
        assert all(layout[axis].get("constrain") == "domain" for layout in layouts)
    # the same legend beside both panels, so the same plot area and, on one range, the same pixels per unit
    legends = [
        [d.get("name") for d in spec["data"] if d.get("showlegend", True) is not False] for spec in specs.values()
    ]
    assert legends[0] == legends[1]
    (x0, x1), (y0, y1) = layouts[0]["xaxis"]["range"], layouts[0]["yaxis"]["range"]
    for spec in specs.values():
        for trace in spec["data"]:
            if "customdata" in trace:  # the test codes: none is cut off
                xs, ys = values(trace["x"]), values(trace["y"])
                assert x0 < xs.min() and xs.max() < x1 and y0 < ys.min() and ys.max() < y1
    # a 2-D latent is not a PCA projection: its file is not called one
    for key, config in chart_configs(at).items():
        if key.startswith("latent_chart_"):
            assert "pca" not in config["toImageButtonOptions"]["filename"], config


def test_one_panel_has_no_same_axes_switch(open_page):
    at = on_digits(open_page(LESSONS["latent_space"].script))
    at.sidebar.selectbox(key="sidebar_model").set_value("shipped/digits-vae-z4").run()
    assert not at.exception, at.exception
    assert len([k for k in chart_specs(at) if k.startswith("latent_chart_")]) == 1
    assert not [t for t in at.toggle if t.key == "latent_same_axes"]


# --- β trade-off (items 4 and 5), on the shipped digits sweep --------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.fixture
def shipped_digits(open_page, monkeypatch):
    """open_page on the shipped checkpoints (digits only: the data folder is empty)."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(SHIPPED))
    return open_page


def shipped_sweep() -> list:
    from vae_core.engine.checkpoint_info import read_checkpoint_info

    infos = [read_checkpoint_info(p) for p in sorted(SHIPPED.glob("digits-vae-z8-beta*.safetensors"))]
    return sorted(infos, key=lambda info: info.model_config.beta)


def mean_kl_per_dim(name: str) -> np.ndarray:
    """Test-set mean KL(q(z_d|x) ‖ N(0, 1)) per dimension, from the encoder and torch.distributions, on the test
    set's fixed binarisation (the models' protocol)."""
    import torch
    from torch.distributions import Normal, kl_divergence

    from vae_core.engine.checkpoints import load_checkpoint
    from vae_core.engine.data import load_dataset, measured_inputs
    from vae_core.engine.protocol import protocol_of

    model, info = load_checkpoint(SHIPPED / f"{name}.safetensors")
    images = measured_inputs(load_dataset("digits", "test").images, protocol_of(info.train_config, info.model_config))
    with torch.no_grad():
        mean, logvar = model.encode(images)
    q = Normal(mean.double(), (0.5 * logvar.double()).exp())
    return kl_divergence(q, Normal(0.0, 1.0)).mean(0).numpy()


def test_informative_counts_match_the_heat_maps_numbered_cells(shipped_digits):
    from vae_core.engine.vocabulary import INFORMATIVE_MEAN_KL

    at = on_digits(shipped_digits(LESSONS["beta_tradeoff"].script))
    heat = chart_specs(at)["beta_heatmap"]["data"][0]
    cells = np.array(heat["text"], dtype=object)  # rows: dimensions; columns: β, sorted
    caption = next(c.value for c in at.caption if "Informative dimensions" in c.value)
    assert f"exceeds {INFORMATIVE_MEAN_KL:g} nats" in caption, "the term is defined where it is used"
    sweep = shipped_sweep()
    assert cells.shape == (8, len(sweep))
    for column, info in enumerate(sweep):
        beta = info.model_config.beta
        kl = mean_kl_per_dim(info.name)
        numbered = np.array([text != "–" for text in cells[:, column]])
        clear = np.abs(kl - INFORMATIVE_MEAN_KL) > 1e-3  # float16 weights: leave cells at the threshold itself aside
        np.testing.assert_array_equal(numbered[clear], (kl > INFORMATIVE_MEAN_KL)[clear], err_msg=f"β = {beta}: {kl}")
        assert all(float(text) > 0 for text in cells[numbered, column]), (beta, cells[:, column])
        assert f"β = {beta:g}: {int(numbered.sum())}" in caption, "the caption counts the numbered cells"


def test_one_more_beta_point_starts_at_a_new_beta_and_the_sweeps_epochs(shipped_digits):
    at = on_digits(shipped_digits(LESSONS["beta_tradeoff"].script))
    sweep = shipped_sweep()
    betas = {info.model_config.beta for info in sweep}
    beta = at.number_input(key="beta_new").value
    assert beta not in betas and min(betas) < beta < max(betas), (beta, betas)
    assert at.slider(key="beta_epochs").value == max(info.train_config.epochs for info in sweep)


# --- Decoder grid (item 2), on the shipped digits models -----------------------------------------------------------
def test_the_decoder_grid_says_what_its_hole_counts_show(shipped_digits):
    """On digits the VAE's default grid has no fewer holes than the autoencoder's: the text must not claim a
    filled prior there. The independent check of where the VAE's codes sit: the share of its test codes within
    0.5σ of the origin against N(0, I)'s 1 − e^(−1/8) (no hole in the middle beyond noise)."""
    import re

    import torch

    from vae_core.engine.checkpoints import load_checkpoint
    from vae_core.engine.data import load_dataset, measured_inputs
    from vae_core.engine.protocol import protocol_of

    at = on_digits(shipped_digits(LESSONS["decoder_grid"].script))
    at.sidebar.selectbox(key="sidebar_model").set_value("shipped/digits-vae-z2").run()
    story = next(m.value for m in at.markdown if "share of samples that would land in a hole" in m.value)
    ae_holes, vae_holes = (
        int(v) for v in re.search(r"\((\d+) of 225 for the autoencoder, (\d+) of 225", story).groups()
    )
    assert ("The autoencoder leaves more of its sampler's mass in holes" in story) == (ae_holes > vae_holes)
    assert ("this grid does not show the filled prior" in story) == (ae_holes <= vae_holes)
    model, info = load_checkpoint(SHIPPED / "digits-vae-z2.safetensors")
    images = measured_inputs(load_dataset("digits", "test").images, protocol_of(info.train_config, info.model_config))
    with torch.no_grad():
        codes = model.embed(images).numpy()
    near_centre = float((np.linalg.norm(codes, axis=1) <= 0.5).mean())
    assert near_centre > 0.5 * (1 - np.exp(-1 / 8)), "the VAE's codes do reach the prior's centre"
    centre = int(re.search(r"Of the VAE's, (\d+) lie within 1σ", story).group(1))
    # The default 15 x 15 quantile grid's cells within 1σ: centres at Φ⁻¹((i + 0.5) / 15) on each axis (89 cells).
    from scipy.stats import norm

    axis = norm.ppf((np.arange(15) + 0.5) / 15)
    cells_within = int((np.hypot(*np.meshgrid(axis, axis)) <= 1.0).sum())
    assert centre <= 0.05 * cells_within, "a few holes near the centre at most: noise of 360 codes, not an empty middle"
