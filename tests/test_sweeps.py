"""β-sweep table and the configs of an extra β point."""

import dataclasses

import pytest

from vae_core.registry import ModelEntry, beta_sweeps, scan_registry
from vae_core.results import EvaluationReport
from vae_core.sweeps import (
    extra_point_configs,
    informative_dims,
    kl_matrix,
    metrics_complete,
    reference_entry,
    sweep_point,
)
from vae_core.vocabulary import SOURCE_SHIPPED, SOURCE_USER


def sweep_members(tiny_zoo, tmp_path) -> list[ModelEntry]:
    registry = scan_registry(((SOURCE_SHIPPED, str(tiny_zoo.folder)), (SOURCE_USER, str(tmp_path))))
    return beta_sweeps(list(registry.entries), "digits")[tiny_zoo.sweep_group]


def test_sweep_points_carry_the_stored_test_metrics(tiny_zoo, tmp_path):
    members = sweep_members(tiny_zoo, tmp_path)
    for entry in members:
        metrics = entry.info.metrics
        assert metrics_complete(metrics, entry.latent_dim)
        point = sweep_point(entry, metrics)
        assert point.beta == entry.beta and not point.trained_here
        assert point.neg_elbo == pytest.approx(metrics.recon + metrics.kl)
        assert point.active_units == metrics.active_units and point.kl_per_dim == metrics.kl_per_dim
        assert sum(point.kl_per_dim) == pytest.approx(point.kl, rel=1e-5)
        assert point.epochs == 2


def test_metrics_complete_rejects_missing_or_wrong_sized_terms():
    assert not metrics_complete(None, 2)
    report = EvaluationReport(n_images=10, recon=1.0, kl=1.0, neg_elbo=2.0, kl_per_dim=(1.0,))
    assert not metrics_complete(report, 2)
    assert metrics_complete(dataclasses.replace(report, kl_per_dim=(0.5, 0.5)), 2)


def test_extra_point_copies_the_reference_with_a_new_beta(tiny_zoo, tmp_path):
    members = sweep_members(tiny_zoo, tmp_path)
    reference = reference_entry(members)
    assert reference.beta == 1.0
    model_config, train_config = extra_point_configs(reference, 2.5, epochs=1)
    assert model_config.beta == 2.5
    assert model_config.latent_dim == reference.latent_dim
    assert model_config.hidden_dims == reference.info.model_config.hidden_dims
    assert train_config.epochs == 1 and train_config.num_threads == 1
    assert train_config.lr == reference.info.train_config.lr and train_config.dataset == "digits"
    with pytest.raises(ValueError):
        extra_point_configs(reference, -1.0, epochs=1)


def test_kl_matrix_and_informative_dims(tiny_zoo, tmp_path):
    points = [sweep_point(e, e.info.metrics) for e in sweep_members(tiny_zoo, tmp_path)]
    matrix = kl_matrix(points)
    assert len(matrix) == 3 and all(len(row) == len(points) for row in matrix)
    for j, point in enumerate(points):
        assert [row[j] for row in matrix] == list(point.kl_per_dim)
        assert informative_dims(point) == sum(v > 0.01 for v in point.kl_per_dim)
    assert informative_dims(points[0], threshold=-1.0) == 3 and informative_dims(points[0], threshold=1e9) == 0
