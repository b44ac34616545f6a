"""vae_core.lessons.autoencoders.toy_data: seeded manifolds whose clean points, tangents and noise are what
they claim."""

from __future__ import annotations

import math

import pytest
import torch

from vae_core.lessons.autoencoders.toy_data import (
    MANIFOLD_DIMS,
    TOY_MANIFOLDS,
    grid_2d,
    make_toy_manifold,
    manifold_normal,
)


@pytest.mark.parametrize("name", TOY_MANIFOLDS)
def test_shapes_and_seeding(name):
    a = make_toy_manifold(name, n_points=300, noise=0.05, seed=3)
    b = make_toy_manifold(name, n_points=300, noise=0.05, seed=3)
    c = make_toy_manifold(name, n_points=300, noise=0.05, seed=4)
    d = MANIFOLD_DIMS[name]
    assert a.points.shape == a.clean.shape == a.tangent.shape == (300, d) and a.t.shape == (300,)
    assert a.points.dtype == torch.float32 and len(a) == 300 and a.dim == d
    assert torch.equal(a.points, b.points)
    assert not torch.equal(a.points, c.points)


def test_clean_points_lie_on_the_named_manifolds():
    curve = make_toy_manifold("curve", 400, noise=0.0)
    x, y = curve.clean[:, 0], curve.clean[:, 1]
    assert torch.allclose(y, 0.8 * torch.sin(1.5 * x), atol=1e-5)
    assert x.min() >= -2 and x.max() <= 2
    spiral = make_toy_manifold("spiral", 400, noise=0.0)
    radius = spiral.clean.norm(dim=1)
    assert torch.allclose(radius, spiral.t / 3, atol=1e-5)  # Archimedes: r grows linearly with the angle
    roll = make_toy_manifold("swiss-roll", 400, noise=0.0)
    assert torch.allclose(roll.clean[:, [0, 2]].norm(dim=1), roll.t / 3, atol=1e-5)
    assert roll.clean[:, 1].min() >= 0 and roll.clean[:, 1].max() <= 2
    assert torch.equal(curve.points, curve.clean)  # noise 0 adds nothing


@pytest.mark.parametrize("name", TOY_MANIFOLDS)
def test_tangents_follow_neighbouring_points(name):
    manifold = make_toy_manifold(name, 4000, noise=0.0, seed=1)
    order = manifold.t.argsort()
    clean, tangent = manifold.clean[order].double(), manifold.tangent[order].double()
    if name == "swiss-roll":  # neighbours in t differ in height too: compare within the (x, z) plane
        clean, tangent = clean[:, [0, 2]], tangent[:, [0, 2]]
    step = clean[1:] - clean[:-1]
    keep = step.norm(dim=1) > 1e-6  # float32 t can repeat: no direction between equal points
    step, tangent = step[keep], tangent[:-1][keep]
    cosine = (step * tangent).sum(1) / (step.norm(dim=1) * tangent.norm(dim=1))
    assert torch.allclose(manifold.tangent.norm(dim=1), torch.ones(4000), atol=1e-5)
    assert cosine.median() > 0.999


@pytest.mark.parametrize("name", TOY_MANIFOLDS)
def test_noise_has_the_requested_spread(name):
    manifold = make_toy_manifold(name, 5000, noise=0.1, seed=2)
    residual = manifold.points - manifold.clean
    assert residual.std().item() == pytest.approx(0.1, rel=0.05)
    assert residual.mean().abs().item() < 0.01


@pytest.mark.parametrize("name", TOY_MANIFOLDS)
def test_normal_is_a_unit_vector_across_the_tangent(name):
    manifold = make_toy_manifold(name, 200, noise=0.0)
    normal = manifold_normal(manifold)
    assert torch.allclose(normal.norm(dim=1), torch.ones(200), atol=1e-5)
    assert (normal * manifold.tangent).sum(1).abs().max() < 1e-5


def test_grid_covers_the_points_with_a_margin():
    points = torch.tensor([[0.0, 0.0], [2.0, 1.0]])
    grid = grid_2d(points, steps=5, margin=0.5)
    assert grid.shape == (25, 2)
    assert grid[:, 0].min().item() == pytest.approx(-1.0) and grid[:, 0].max().item() == pytest.approx(3.0)
    assert grid[:, 1].min().item() == pytest.approx(-0.5) and grid[:, 1].max().item() == pytest.approx(1.5)
    assert torch.equal(grid[1], torch.tensor([0.0, -0.5]))  # x varies fastest


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown toy manifold"):
        make_toy_manifold("torus")
    with pytest.raises(ValueError, match="n_points"):
        make_toy_manifold("curve", n_points=1)
    with pytest.raises(ValueError, match="noise"):
        make_toy_manifold("curve", noise=-1)
    assert math.isfinite(make_toy_manifold("spiral", 2).points.sum().item())
