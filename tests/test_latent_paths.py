"""Grids, interpolation paths, slices and slider ranges, checked against independent computations."""

from statistics import NormalDist

import numpy as np
import pytest

from vae_core.latent_paths import (
    circle,
    gaussian_quantile_axis,
    grid_codes,
    interpolate,
    lerp,
    linear_axis,
    slerp,
    slice_codes,
    slider_ranges,
)


def test_gaussian_quantile_axis_matches_the_inverse_normal_cdf():
    n = 7
    expected = [NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
    np.testing.assert_allclose(gaussian_quantile_axis(n), expected, atol=1e-6)


def test_gaussian_quantile_axis_puts_equal_prior_mass_between_cells():
    axis = gaussian_quantile_axis(10).astype(np.float64)
    cdf = np.array([NormalDist().cdf(v) for v in axis])
    np.testing.assert_allclose(np.diff(cdf), 0.1, atol=1e-6)
    assert gaussian_quantile_axis(1)[0] == pytest.approx(0.0, abs=1e-7)


def test_linear_axis_spans_the_range():
    np.testing.assert_allclose(linear_axis(5, 2.0), [-2, -1, 0, 1, 2])
    with pytest.raises(ValueError):
        linear_axis(5, 0.0)


def test_grid_codes_are_in_image_order():
    xs, ys = np.array([-1.0, 0.0, 1.0]), np.array([10.0, 20.0])
    codes = grid_codes(xs, ys)
    assert codes.shape == (6, 2)
    # top row first (largest y), each row left to right
    np.testing.assert_allclose(codes[:3], [[-1, 20], [0, 20], [1, 20]])
    np.testing.assert_allclose(codes[3:], [[-1, 10], [0, 10], [1, 10]])


def test_slice_codes_vary_two_dimensions_and_keep_the_rest():
    base = np.array([0.5, -1.0, 2.0, 3.0])
    codes = slice_codes(base, 2, 0, np.array([-1.0, 1.0]), np.array([5.0, 6.0]))
    assert codes.shape == (4, 4)
    np.testing.assert_allclose(codes[:, 1], -1.0)
    np.testing.assert_allclose(codes[:, 3], 3.0)
    np.testing.assert_allclose(codes[:, 2], [-1, 1, -1, 1])
    np.testing.assert_allclose(codes[:, 0], [6, 6, 5, 5])
    with pytest.raises(ValueError):
        slice_codes(base, 1, 1, np.zeros(2), np.zeros(2))


def test_lerp_hits_both_ends_and_the_midpoint():
    z0, z1 = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    path = lerp(z0, z1, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(path, [[0, 2], [2, 0], [4, -2]])


def test_slerp_keeps_the_norm_between_codes_of_equal_norm():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=16), rng.normal(size=16)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    ts = np.linspace(0, 1, 11)
    path = slerp(z0, z1, ts)
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    # the straight line dips in norm in the middle; that is the point of slerp
    assert np.linalg.norm(lerp(z0, z1, [0.5])[0]) < np.linalg.norm(path[5]) - 1e-3


def test_slerp_moves_at_constant_angular_speed():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    path = slerp(z0, z1, np.array([0.0, 1 / 3, 2 / 3, 1.0]))
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(np.diff(angles), np.pi / 6, atol=1e-5)


def test_slerp_falls_back_to_lerp_for_parallel_or_zero_codes():
    z0, z1 = np.array([1.0, 1.0]), np.array([2.0, 2.0])
    np.testing.assert_allclose(slerp(z0, z1, [0.5]), lerp(z0, z1, [0.5]))
    np.testing.assert_allclose(slerp(np.zeros(2), z1, [0.25]), lerp(np.zeros(2), z1, [0.25]))


def test_interpolate_dispatches_and_rejects_unknown_methods():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(interpolate(z0, z1, [0.5], "linear"), lerp(z0, z1, [0.5]))
    np.testing.assert_allclose(interpolate(z0, z1, [0.5], "spherical"), slerp(z0, z1, [0.5]))
    with pytest.raises(ValueError):
        interpolate(z0, z1, [0.5], "cubic")


def test_circle_has_the_radius():
    xs, ys = circle(2.0, 50)
    np.testing.assert_allclose(np.hypot(xs, ys), 2.0)
    assert (xs[0], ys[0]) == pytest.approx((xs[-1], ys[-1]))


def test_slider_ranges_use_the_prior_for_vaes_and_the_data_for_aes():
    codes = np.array([[0.0, 10.0], [2.0, 30.0]])
    assert slider_ranges(codes, variational=True) == [(-3.0, 3.0, 0.0)] * 2
    (lo0, hi0, c0), (lo1, hi1, c1) = slider_ranges(codes, variational=False)
    assert (lo0, hi0, c0) == pytest.approx((1 - 3 * 1.0, 1 + 3 * 1.0, 1.0))
    assert (lo1, hi1, c1) == pytest.approx((20 - 30.0, 20 + 30.0, 20.0))
