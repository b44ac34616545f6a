"""β-sweep table and the configs of an extra β point."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from vae_core.engine.registry import ModelEntry, beta_sweeps, scan_registry
from vae_core.engine.results import EvaluationReport
from vae_core.engine.vocabulary import SOURCE_SHIPPED, SOURCE_USER
from vae_core.lessons.sweeps import (
    extra_point_configs,
    informative_dims,
    kl_matrix,
    metrics_complete,
    reference_entry,
    sweep_point,
)


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


# --- the story the β page tells: computed from the sweep's own numbers -----------------------------------------
from vae_core.lessons.sweeps import SweepPoint, describe_sweep, short_of_sweep, sweep_epochs  # noqa: E402


def points_of(
    neg_elbos: dict[float, float], epochs: int = 10, here: dict[float, int] | None = None
) -> list[SweepPoint]:
    points = [SweepPoint(f"b{b}", b, v - 10.0, 10.0, (10.0,), None, False, epochs) for b, v in neg_elbos.items()]
    points += [SweepPoint(f"here{b}", b, 50.0, 1.0, (1.0,), None, True, e) for b, e in (here or {}).items()]
    return points


def test_the_story_names_the_lowest_bound_even_when_it_is_not_beta_one():
    # the old shipped MNIST sweep (grey-level training, 10 epochs): β = 0.5 beat β = 1
    text = describe_sweep(points_of({0.25: 105.9, 0.5: 104.67, 1.0: 104.86, 2.0: 107.0}))
    assert text.startswith("Lowest −ELBO in this sweep: β = 0.5, 104.7 nats per image after 10 epochs.")
    assert "β = 1, the only point whose training objective is the bound itself, has 104.9: 0.2 nats worse" in text


def test_the_story_says_beta_one_is_lowest_when_it_is():
    # the retrained digits sweep (binarised): β 0.5: 23.96, 1: 23.45, 2: 24.90
    text = describe_sweep(points_of({0.5: 23.96, 1.0: 23.45, 2.0: 24.90}, epochs=150))
    assert text.startswith("Lowest −ELBO in this sweep: β = 1, 23.4 nats per image after 150 epochs.")
    assert "(the next best, β = 0.5, is 0.5 nats higher)" in text


def test_a_difference_below_the_shown_precision_is_a_tie():
    text = describe_sweep(points_of({0.5: 104.60, 1.0: 104.64}))
    assert "within 0.1 nats of it: a tie at this precision" in text


def test_points_with_fewer_epochs_than_the_sweep_are_off_its_curve_and_not_compared():
    points = points_of({0.5: 30.0, 1.0: 29.0}, epochs=10, here={2.0: 3, 4.0: 10})
    assert sweep_epochs(points) == 10
    assert [p.beta for p in points if short_of_sweep(p, 10)] == [2.0]
    shorter = points_of({1.0: 29.0}, epochs=10, here={0.1: 3})
    shorter[-1] = dataclasses.replace(shorter[-1], recon=1.0, kl=1.0)  # a lower -ELBO, but after 3 epochs
    assert "β = 1," in describe_sweep(shorter)


SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"


@pytest.mark.parametrize("dataset", ["digits", "mnist"])
def test_the_shipped_sweeps_kl_per_dimension_matches_an_independent_computation(dataset):
    """What the β page's heatmap shows (the stored kl_per_dim) against the closed-form Gaussian KL computed here
    from each shipped sweep model's encoder on the test split, measured as the model's protocol says."""
    import torch

    from vae_core.engine.checkpoints import load_checkpoint
    from vae_core.engine.data import is_available, load_dataset, measured_inputs
    from vae_core.engine.protocol import protocol_of

    if not is_available(dataset):
        pytest.skip(f"needs {dataset}'s files")
    registry = scan_registry(((SOURCE_SHIPPED, str(SHIPPED)),))
    sweeps = beta_sweeps(list(registry.entries), dataset)
    if not sweeps:
        pytest.skip(f"no shipped {dataset} sweep")
    test = load_dataset(dataset, "test")
    points = []
    for entry in next(iter(sweeps.values())):
        model, info = load_checkpoint(entry.path)
        images = measured_inputs(test.images, protocol_of(info.train_config, info.model_config))
        with torch.no_grad():
            mean, logvar = model.encode(images)
        kl_per_dim = (0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar)).double().mean(0)
        np.testing.assert_allclose(info.metrics.kl_per_dim, kl_per_dim.numpy(), atol=2e-3, rtol=2e-3)
        points.append(sweep_point(entry, info.metrics))
    best = min(points, key=lambda p: p.recon + p.kl)
    assert describe_sweep(points).startswith(f"Lowest −ELBO in this sweep: β = {best.beta:g},")


@pytest.mark.parametrize("betas", [[0.1, 0.25, 0.5, 1.0, 2.0, 4.0], [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0], [2, 4]])
def test_the_suggested_beta_is_new_and_inside_the_sweep(betas):
    from vae_core.lessons.sweeps import suggested_beta

    beta = suggested_beta(betas)
    assert beta not in betas and min(betas) < beta < max(betas), beta
    assert suggested_beta([*betas, beta]) not in [*betas, beta], "a second extra point is new too"


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["digits", "mnist"])
def test_one_more_point_with_the_pages_defaults_lands_between_its_neighbours(dataset):
    """The β page's defaults (suggested_beta, the sweep's epochs) train a model that has not collapsed: several
    dimensions carry KL (the closed form, computed here from its encoder) and its total KL lies between the
    neighbouring shipped points'. Digits: about 20 s; MNIST: minutes, and needs the training split."""
    import torch

    from vae_core.engine.data import is_available, load_dataset, measured_inputs
    from vae_core.engine.protocol import protocol_of
    from vae_core.engine.training import fit
    from vae_core.lessons.sweeps import suggested_beta

    if not is_available(dataset):
        pytest.skip(f"needs {dataset}'s files")
    registry = scan_registry(((SOURCE_SHIPPED, str(SHIPPED)),))
    members = next(iter(beta_sweeps(list(registry.entries), dataset).values()))
    reference = reference_entry(members)
    beta = suggested_beta([e.beta for e in members])
    model_config, train_config = extra_point_configs(reference, beta, reference.info.train_config.epochs)
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    model = fit(model_config, train_config, train_data=train, test_data=test).model.eval()
    images = measured_inputs(test.images, protocol_of(train_config, model_config))
    with torch.no_grad():
        mean, logvar = model.encode(images)
    kl_per_dim = (0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar)).double().mean(0)
    assert int((kl_per_dim > 0.1).sum()) >= 2, kl_per_dim
    below = max((e for e in members if e.beta < beta), key=lambda e: e.beta).info.metrics.kl
    above = min((e for e in members if e.beta > beta), key=lambda e: e.beta).info.metrics.kl
    assert above < float(kl_per_dim.sum()) < below, (above, float(kl_per_dim.sum()), below)
