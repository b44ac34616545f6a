"""The disentanglement metrics against known answers and the published definitions, on hand-built codes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from vae_core.engine.config import ModelConfig
from vae_core.engine.models import build_model
from vae_core.lessons.disentanglement import (
    MI_BINS,
    DisentanglementReport,
    discretize,
    entropy,
    factor_vae_score,
    mig,
    mig_per_factor,
    mutual_information,
    normalized_mi_matrix,
    report_from_codes,
    traversal_images,
)

RNG = np.random.default_rng(0)


def grid_factors(sizes=(3, 5, 6)) -> np.ndarray:
    """Every combination of factor values, as indices, repeated 4 times: (4 * prod(sizes), len(sizes))."""
    mesh = np.meshgrid(*(np.arange(n) for n in sizes), indexing="ij")
    rows = np.stack([m.ravel() for m in mesh], axis=1)
    return np.repeat(rows, 4, axis=0)


# --- the MI estimator ----------------------------------------------------------------------------------------------


def test_a_code_that_copies_a_factor_carries_its_whole_entropy():
    factor = RNG.integers(0, 12, size=20_000)
    code = factor.astype(float) * 0.37 - 2.0  # any affine copy: equal-width bins keep 12 values apart
    binned = discretize(code[:, None])[:, 0]
    assert mutual_information(factor, binned) == pytest.approx(entropy(factor), abs=1e-12)
    assert entropy(factor) == pytest.approx(math.log(12), abs=0.01)  # near uniform over 12 values


def test_a_code_that_mixes_two_factors_shares_them_as_the_closed_form_says():
    # z = a + b with a, b fair coins: z in {0, 1, 2} with p = 1/4, 1/2, 1/4; I(z; a) = H(z) - H(z|a) = 1.5 - 1 bit.
    a = np.tile([0, 0, 1, 1], 5000)
    b = np.tile([0, 1, 0, 1], 5000)
    z = discretize((a + b).astype(float)[:, None])[:, 0]
    assert mutual_information(a, z) == pytest.approx(0.5 * math.log(2), abs=1e-12)
    assert mutual_information(b, z) == pytest.approx(0.5 * math.log(2), abs=1e-12)
    # z = a + 2b keeps both: each factor's full bit
    z2 = discretize((a + 2 * b).astype(float)[:, None])[:, 0]
    assert mutual_information(a, z2) == pytest.approx(math.log(2), abs=1e-12)


def test_independent_noise_carries_about_nothing():
    factor = RNG.integers(0, 10, size=40_000)
    noise = discretize(RNG.normal(size=(40_000, 1)))[:, 0]
    # the plug-in estimate's bias is about (bins - 1)(values - 1) / 2N = 0.002 nats
    assert mutual_information(factor, noise) < 0.01


def test_mutual_information_agrees_with_sklearn():
    a = RNG.integers(0, 7, size=3000)
    b = (a + RNG.integers(0, 3, size=3000)) % 9
    assert mutual_information(a, b) == pytest.approx(mutual_info_score(a, b), abs=1e-12)


def test_discretize_uses_equal_width_bins_over_each_dimension():
    codes = np.stack([np.linspace(0, 1, 101), np.linspace(-5, 15, 101), np.zeros(101)], axis=1)
    binned = discretize(codes)
    assert binned.min() == 0 and binned[:, :2].max() == MI_BINS - 1
    # Locatello et al.'s discretisation (disentanglement_lib's _histogram_discretize), 0-based
    for j in range(2):
        edges = np.histogram(codes[:, j], MI_BINS)[1][:-1]
        assert np.array_equal(binned[:, j], np.digitize(codes[:, j], edges) - 1)
    assert np.all(binned[:, 2] == 0)  # a constant dimension: one bin


# --- MIG and the FactorVAE score on hand-built codes ---------------------------------------------------------------


def test_a_perfect_code_has_mig_one_and_a_full_factor_vae_score():
    factors = grid_factors()
    codes = factors * np.array([1.0, -0.5, 3.0]) + 0.25  # each factor in one dimension, at any scale and sign
    codes = np.concatenate([codes, np.zeros((len(codes), 2))], axis=1)  # two dead dimensions
    matrix = normalized_mi_matrix(codes, factors)
    assert mig(matrix) == pytest.approx(1.0, abs=1e-9)
    assert factor_vae_score(codes, factors) == 1.0


def test_an_entangled_code_scores_low():
    # Many values per factor and a little noise: a mix of few-valued factors can stay one-to-one after binning.
    factors = RNG.integers(0, 12, size=(20_000, 3))
    mixing = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 0.0, -2.0]])  # every dimension mixes factors
    codes = factors @ mixing + RNG.normal(scale=0.3, size=factors.shape)
    assert mig(normalized_mi_matrix(codes, factors)) < 0.3
    assert factor_vae_score(codes, factors) < 0.9


def test_a_code_that_puts_one_factor_in_two_dimensions_has_no_gap_for_it():
    factors = grid_factors()
    codes = np.concatenate([factors, factors[:, :1]], axis=1).astype(float)
    gaps = mig_per_factor(normalized_mi_matrix(codes, factors))
    assert gaps == pytest.approx([0.0, 1.0, 1.0], abs=1e-9)
    assert mig(normalized_mi_matrix(codes, factors)) == pytest.approx(2 / 3, abs=1e-9)


def test_mig_is_the_published_formula_on_a_hand_matrix():
    # rows are I(v_k; z_j) / H(v_k): MIG = mean_k (top - second)
    matrix = np.array([[0.9, 0.2, 0.1], [0.3, 0.3, 0.8], [0.05, 0.4, 0.0]])
    assert mig_per_factor(matrix) == pytest.approx([0.7, 0.5, 0.35])
    assert mig(matrix) == pytest.approx((0.7 + 0.5 + 0.35) / 3)


def test_permuting_and_rescaling_the_dimensions_changes_nothing():
    factors = grid_factors()
    codes = np.concatenate([factors + RNG.normal(scale=0.4, size=factors.shape), RNG.normal(size=(len(factors), 1))], 1)
    order = [3, 1, 0, 2]
    moved = codes[:, order] * np.array([2.0, -1.0, 0.5, 3.0]) + 7.0
    a = report_from_codes(codes, factors, ("a", "b", "c"))
    b = report_from_codes(moved, factors, ("a", "b", "c"))
    assert a.mig == pytest.approx(b.mig, abs=1e-12)
    assert b.matrix() == pytest.approx(a.matrix()[:, order], abs=1e-12)
    assert a.factor_vae_score == pytest.approx(b.factor_vae_score, abs=0.02)  # the votes' draws differ with order


def test_factor_vae_score_of_a_code_without_active_dimensions_is_zero():
    factors = grid_factors()
    assert factor_vae_score(np.zeros((len(factors), 4)), factors) == 0.0


def test_the_report_round_trips_through_its_dict():
    factors = grid_factors()
    report = report_from_codes(factors.astype(float), factors, ("a", "b", "c"))
    assert DisentanglementReport.from_dict(report.to_dict()) == report
    with pytest.raises(ValueError, match="fields"):
        DisentanglementReport.from_dict({**report.to_dict(), "extra": 1})


# --- traversals --------------------------------------------------------------------------------------------------


def test_traversals_sweep_one_dimension_per_row_and_decode_it():
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", input_shape=(1, 8, 8), latent_dim=3, hidden_dims=(16,)))
    image = torch.rand(1, 8, 8)
    rows = traversal_images(model, image, dims=[2, 0], steps=5)
    assert rows.shape == (2, 5, 8, 8)
    code = model.embed(image.unsqueeze(0))[0].detach()
    expected = code.clone()
    expected[2] = -3.0
    assert rows[0, 0] == pytest.approx(model.decode(expected[None]).detach()[0, 0].numpy(), abs=1e-6)
    expected = code.clone()
    expected[0] = 1.5
    assert rows[1, 3] == pytest.approx(model.decode(expected[None]).detach()[0, 0].numpy(), abs=1e-6)
