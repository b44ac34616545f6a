"""Figure builders: what each trace holds, checked against the numbers that went in."""

import numpy as np
import plotly.graph_objects as go
import pytest

from ui.figures.beta import iso_elbo_levels, kl_heatmap_figure, rate_distortion_figure
from ui.figures.latent import add_path, latent_scatter, selected_index, shared_range
from ui.figures.training import training_curves
from vae_core.engine.results import EpochRecord, TermMeans
from vae_core.lessons.sweeps import SweepPoint


def scatter_traces(fig):
    """The point clouds (they carry test-set indices), not the prior circles."""
    return [t for t in fig.data if isinstance(t, go.Scattergl) and t.customdata is not None]


def test_latent_scatter_has_every_point_once_with_its_index():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 2)).astype(np.float32)
    labels = rng.integers(0, 10, size=300)
    fig = latent_scatter(points, labels, [str(d) for d in range(10)])
    traces = scatter_traces(fig)
    assert len(traces) == len(np.unique(labels))
    seen = np.concatenate([np.asarray(t.customdata) for t in traces])
    assert sorted(seen.tolist()) == list(range(300))
    for trace in traces:
        idx = np.asarray(trace.customdata)
        np.testing.assert_allclose(trace.x, points[idx, 0])
        np.testing.assert_allclose(trace.y, points[idx, 1])
        assert set(labels[idx]) == {int(trace.name)}
    assert not [t for t in fig.data if (t.name or "").startswith("prior")]


def test_prior_circles_have_radius_one_and_two_around_the_centre():
    points = np.zeros((4, 2), np.float32)
    fig = latent_scatter(
        points, np.array([0, 1, 0, 1]), ["a", "b"], prior_centre=(0.5, -1.0), axis_range=((-3, 3), (-4, 2))
    )
    circles = [t for t in fig.data if (t.name or "").startswith("prior")]
    assert [t.name for t in circles] == ["prior 1σ", "prior 2σ"]
    for trace, radius in zip(circles, (1.0, 2.0), strict=False):
        np.testing.assert_allclose(np.hypot(np.asarray(trace.x) - 0.5, np.asarray(trace.y) + 1.0), radius)
    assert list(fig.layout.xaxis.range) == [-3, 3] and list(fig.layout.yaxis.range) == [-4, 2]


def test_add_path_draws_the_path_its_ends_and_the_current_point():
    fig = go.Figure()
    path = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    add_path(fig, path, current_point=(1.0, 1.0))
    line, ends, current = fig.data
    np.testing.assert_allclose(line.x, path[:, 0])
    np.testing.assert_allclose(ends.x, [0.0, 2.0])
    assert list(ends.text) == ["A", "B"]
    assert (current.x[0], current.y[0]) == (1.0, 1.0)


def test_add_path_extends_a_figure_dict_too():
    fig = latent_scatter(np.zeros((2, 2)), np.array([0, 1]), ["a", "b"]).to_dict()
    n_before = len(fig["data"])
    add_path(fig, np.array([[0.0, 0.0], [1.0, 2.0]]))
    assert len(fig["data"]) == n_before + 2
    assert fig["data"][-2]["name"] == "path" and list(fig["data"][-1]["text"]) == ["A", "B"]
    go.Figure(fig)  # still a valid figure


def test_shared_range_holds_all_sets_and_the_prior():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[-10.0, 5.0], [10.0, 6.0]])
    (x0, x1), (y0, y1) = shared_range([a, b], include_prior=True)
    assert x0 < -9.9 and x1 > 9.9 and y0 < -2.0 and y1 > 5.9


@pytest.mark.parametrize("custom", [17, [17], 17.0])
def test_selected_index_reads_customdata(custom):
    event = {"selection": {"points": [{"curve_number": 3, "point_index": 2, "customdata": custom}]}}
    assert selected_index(event) == 17


def test_selected_index_ignores_empty_and_non_scatter_selections():
    assert selected_index(None) is None
    assert selected_index({"selection": {"points": []}}) is None
    assert selected_index({"selection": {"points": [{"curve_number": 11, "point_index": 4}]}}) is None


def sweep(betas_recon_kl):
    return [SweepPoint(f"m{b}", b, r, k, (k * 0.75, k * 0.25, 0.0), None, b == 2.0, 5) for b, r, k in betas_recon_kl]


def test_rate_distortion_points_sit_at_kl_and_recon_with_consistent_iso_lines():
    points = sweep([(4.0, 60.0, 3.0), (0.5, 40.0, 12.0), (1.0, 45.0, 8.0), (2.0, 52.0, 5.0)])
    fig = rate_distortion_figure(points)
    markers = [t for t in fig.data if t.mode == "markers+text"]
    shipped = next(t for t in markers if t.name == "shipped")
    here = next(t for t in markers if t.name == "trained here")
    np.testing.assert_allclose(shipped.x, [12.0, 8.0, 3.0])  # sorted by beta: 0.5, 1, 4
    np.testing.assert_allclose(shipped.y, [40.0, 45.0, 60.0])
    assert list(shipped.text) == ["β=0.5", "β=1", "β=4"]
    assert (here.x[0], here.y[0]) == (5.0, 52.0)
    iso = [t for t in fig.data if (t.name or "").startswith("−ELBO")]
    assert len(iso) >= 2
    for trace in iso:
        level = float(trace.name.split("=")[1])
        np.testing.assert_allclose(np.asarray(trace.x) + np.asarray(trace.y), level)


def test_iso_levels_cover_the_points():
    points = sweep([(0.5, 40.0, 12.0), (4.0, 60.0, 3.0)])  # -ELBO 52 and 63
    levels = iso_elbo_levels(points)
    assert levels[0] <= 52.0 and levels[-1] >= 63.0
    assert np.allclose(np.diff(levels), levels[1] - levels[0])


def test_kl_heatmap_holds_kl_per_dimension_by_beta():
    points = sweep([(4.0, 60.0, 3.0), (0.5, 40.0, 12.0)])
    heat = kl_heatmap_figure(points).data[0]
    assert list(heat.x) == ["β=0.5", "β=4"]
    assert list(heat.y) == ["z₁", "z₂", "z₃"]
    np.testing.assert_allclose(np.asarray(heat.z), [[9.0, 2.25], [3.0, 0.75], [0.0, 0.0]])
    assert (heat.zmin, heat.zmax) == (0.0, 9.0)  # 0 nats is always the palest colour


def test_training_curves_plot_recon_and_kl_per_epoch():
    history = [
        EpochRecord(
            epoch=e,
            beta=1.0,
            seconds=1.0,
            train=TermMeans(objective=0.0, recon=10.0 / e, kl=float(e), regularizer=0.0),
            test=TermMeans(objective=0.0, recon=11.0 / e, kl=e + 0.5, regularizer=0.0),
        )
        for e in (1, 2, 3)
    ]
    fig = training_curves(history, "vae")
    by_name_axis = {(t.name, t.xaxis): t for t in fig.data}
    np.testing.assert_allclose(by_name_axis[("train", "x")].y, [10.0, 5.0, 10.0 / 3])
    np.testing.assert_allclose(by_name_axis[("test", "x2")].y, [1.5, 2.5, 3.5])
    sparse = training_curves(
        [
            EpochRecord(
                epoch=1,
                beta=0.0,
                seconds=1.0,
                test=None,
                train=TermMeans(objective=3.2, recon=3.0, kl=0.0, regularizer=0.2),
            )
        ],
        "sae",
    )
    assert [t.name for t in sparse.data] == ["train", "train"] and sparse.data[1].y[0] == 0.2
    titles = [a.text for a in sparse.layout.annotations]
    assert "nats" not in titles[1] and "no unit" in titles[1]  # a weighted L1 penalty is not a log-likelihood
    plain = training_curves(
        [
            EpochRecord(
                epoch=1,
                beta=0.0,
                seconds=1.0,
                test=None,
                train=TermMeans(objective=3.0, recon=3.0, kl=0.0, regularizer=0.0),
            )
        ],
        "ae",
    )
    assert len(plain.data) == 1  # no second panel for a kind without a second term


def test_training_curves_draw_the_step_curve_when_there_is_one():
    from vae_core.serving.jobs import CurvePoint

    curve = [CurvePoint(epochs=s / 4, recon=20.0 - s, kl=0.5 * s, regularizer=0.0) for s in range(1, 9)]
    history = [
        EpochRecord(
            epoch=e,
            beta=1.0,
            seconds=1.0,
            train=TermMeans(0.0, 1.0, 1.0, 0.0),
            test=TermMeans(0.0, 15.0 / e, 2.0 * e, 0.0),
        )
        for e in (1, 2)
    ]
    fig = training_curves(history, "vae", curve)
    by_name_axis = {(t.name, t.xaxis): t for t in fig.data}
    np.testing.assert_allclose(by_name_axis[("train", "x")].x, [s / 4 for s in range(1, 9)])  # 4 points per epoch
    np.testing.assert_allclose(by_name_axis[("train", "x2")].y, [0.5 * s for s in range(1, 9)])
    np.testing.assert_allclose(by_name_axis[("test", "x")].y, [15.0, 7.5])


def test_training_curves_show_the_beta_each_point_was_trained_with():
    from vae_core.serving.jobs import CurvePoint

    warm_up = [CurvePoint(epochs=s / 2, recon=10.0, kl=1.0, regularizer=0.0, beta=min(1.0, s / 2)) for s in (1, 2, 3)]
    history = [
        EpochRecord(
            epoch=e, beta=b, seconds=1.0, train=TermMeans(0.0, 1.0, 1.0, 0.0), test=TermMeans(0.0, 9.0, 1.0, 0.0)
        )
        for e, b in ((1, 0.5), (2, 1.0))
    ]
    fig = training_curves(history, "vae", warm_up)
    by_name_axis = {(t.name, t.xaxis): t for t in fig.data}
    for axis in ("x", "x2"):
        np.testing.assert_allclose(by_name_axis[("train", axis)].customdata, [0.5, 1.0, 1.0])
        np.testing.assert_allclose(by_name_axis[("test", axis)].customdata, [0.5, 1.0])
        assert "β %{customdata" in by_name_axis[("train", axis)].hovertemplate
    stored = training_curves(history, "vae")  # no curve: the per-epoch means, each with its epoch's beta
    np.testing.assert_allclose(stored.data[0].customdata, [0.5, 1.0])
    autoencoder = training_curves(history, "ae")  # no KL term: beta means nothing there
    assert all(t.customdata is None and "β" not in t.hovertemplate for t in autoencoder.data)


def test_q_is_drawn_at_the_mass_levels_of_p_contours():
    """Issue 20 item 11: q's 1σ/2σ ellipses (39 % and 86 % of a 2-D Gaussian's mass) were drawn against p's
    50/90/99 % regions. Each drawn q ellipse must hold its named mass: draws from q by torch.distributions,
    counted inside the drawn ellipse (its vertices' Mahalanobis radius under q)."""
    import torch

    from ui.figures.inference import MASS_FRACTIONS, posterior_figure
    from vae_core.lessons.posterior import DiagonalGaussian, PosteriorGrid

    axis = torch.linspace(-4, 4, 81, dtype=torch.float64)
    z1, z2 = torch.meshgrid(axis, axis, indexing="ij")
    grid = PosteriorGrid(axis, axis, -0.5 * (z1**2 / 0.5 + z2**2), 0.0, 1e-3, 0.0, 81)
    mean, std = torch.tensor([0.3, -0.2]), torch.tensor([0.4, 0.9])
    q = DiagonalGaussian(mean, torch.log(std**2))
    drawn = [
        t
        for t in posterior_figure(grid, q).data
        if t.type == "scatter" and t.legendgroup == "q(z|x)" and t.mode == "lines"
    ]
    assert len(drawn) == len(MASS_FRACTIONS)
    torch.manual_seed(0)
    draws = torch.distributions.MultivariateNormal(mean.double(), torch.diag(std.double() ** 2)).sample((200_000,))
    draw_radius = (((draws - mean.double()) / std.double()) ** 2).sum(1).sqrt().numpy()
    m, s_ = mean.numpy(), std.numpy()
    for mass, trace in zip(MASS_FRACTIONS, drawn, strict=True):
        vertex_radius = np.hypot((np.asarray(trace.x) - m[0]) / s_[0], (np.asarray(trace.y) - m[1]) / s_[1])
        assert vertex_radius == pytest.approx(np.full_like(vertex_radius, vertex_radius[0]), rel=1e-6)
        assert float(np.mean(draw_radius < vertex_radius[0])) == pytest.approx(mass, abs=0.004), mass
