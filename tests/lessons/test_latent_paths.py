"""Grids, interpolation paths, slices and slider ranges, checked against independent computations."""

from statistics import NormalDist

import numpy as np
import pytest

from vae_core.lessons.latent_paths import (
    circle,
    code_box,
    code_density,
    gaussian_quantile_axis,
    gaussian_smooth,
    grid_axes,
    grid_codes,
    interpolate,
    lerp,
    linear_axis,
    prior_mean_norm,
    slerp,
    slice_codes,
    slider_ranges,
    to_cell_units,
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


def test_slerp_changes_the_norm_linearly_and_lerp_stays_below():
    """Closed forms: ‖slerp(t)‖ = (1 − t)‖a‖ + t‖b‖; ‖lerp(t)‖² = (1 − t)²‖a‖² + t²‖b‖² + 2t(1 − t) a·b."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=8), 3.0 * rng.normal(size=8)
    ts = np.linspace(0, 1, 21)
    np.testing.assert_allclose(
        np.linalg.norm(slerp(a, b, ts), axis=1), (1 - ts) * np.linalg.norm(a) + ts * np.linalg.norm(b), rtol=1e-5
    )
    lerp_norms = np.linalg.norm(lerp(a, b, ts), axis=1)
    np.testing.assert_allclose(
        lerp_norms, np.sqrt((1 - ts) ** 2 * (a @ a) + ts**2 * (b @ b) + 2 * ts * (1 - ts) * (a @ b)), rtol=1e-5
    )
    assert np.all(lerp_norms <= np.linalg.norm(slerp(a, b, ts), axis=1) + 1e-5)


def test_prior_mean_norm_is_the_chi_mean():
    assert prior_mean_norm(2) == pytest.approx(np.sqrt(np.pi / 2))  # Rayleigh mean: 1.2533
    samples = np.random.default_rng(0).normal(size=(200_000, 50))
    assert prior_mean_norm(50) == pytest.approx(np.linalg.norm(samples, axis=1).mean(), abs=0.01)
    assert prior_mean_norm(50) < np.sqrt(50)


def test_code_box_spans_the_central_codes_and_the_prior():
    codes = np.stack([np.linspace(0, 100, 10_001), np.linspace(-1, 1, 10_001)], axis=1)
    (x_lo, x_hi), (y_lo, y_hi) = code_box(codes)
    assert (x_lo, x_hi) == pytest.approx((0.5, 99.5)) and (y_lo, y_hi) == pytest.approx((-0.99, 0.99))
    (x_lo, x_hi), (y_lo, y_hi) = code_box(codes, prior_sigma=3.0)
    assert (x_lo, x_hi) == pytest.approx((-3.0, 99.5)) and (y_lo, y_hi) == pytest.approx((-3.0, 3.0))
    (x_lo, x_hi), _ = code_box(codes, scale=2.0)
    assert (x_lo, x_hi) == pytest.approx((50 - 99.0, 50 + 99.0))


def test_grid_axes_fit_each_model():
    rng = np.random.default_rng(0)
    codes = rng.normal(loc=(10.0, -5.0), scale=(4.0, 0.5), size=(50_000, 2))
    n = 9
    expected = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    x, y = grid_axes(codes, variational=True, n=n, kind="quantiles")
    np.testing.assert_allclose(x, expected, atol=1e-6) and np.testing.assert_allclose(y, expected, atol=1e-6)
    x, y = grid_axes(codes, variational=False, n=n, kind="quantiles")
    np.testing.assert_allclose(x, 10 + 4 * expected, atol=0.1)
    np.testing.assert_allclose(y, -5 + 0.5 * expected, atol=0.02)
    x, _ = grid_axes(codes, variational=False, n=n, kind="linear")
    assert x[[0, -1]] == pytest.approx([10 - 4 * 2.5758, 10 + 4 * 2.5758], abs=0.15)  # central 99%
    with pytest.raises(ValueError):
        grid_axes(codes, True, n, "hexagonal")


def test_to_cell_units_maps_the_axis_to_indices_and_extrapolates():
    axis = np.array([-2.0, -0.5, 0.0, 3.0])
    np.testing.assert_allclose(to_cell_units(axis, axis), [0, 1, 2, 3])
    np.testing.assert_allclose(to_cell_units([-0.25, -3.5, 6.0], axis), [1.5, -1.0, 4.0])


def test_code_density_outline_of_a_gaussian_is_the_closed_form_disc():
    """For codes from N(0, I) the densest region holding 95% is the disc of radius √(−2 ln 0.05) = 2.45; on an
    equal-mass grid the cells well inside it are inside the outline and those well outside are not."""
    codes = np.random.default_rng(0).normal(size=(200_000, 2))
    n = 15
    axis = gaussian_quantile_axis(n).astype(np.float64)
    density = code_density(codes, axis, axis, mass=0.95)
    radius = np.sqrt(-2 * np.log(0.05))
    centres = grid_codes(axis, axis)
    norms = np.linalg.norm(centres, axis=1).reshape(n, n)
    assert density.cell_inside[norms < radius - 0.25].all()
    assert not density.cell_inside[norms > radius + 0.25].any()
    # on a grid that holds the whole region, the bins above the level hold 95% of the codes
    wide = code_density(codes, linear_axis(15, 4.5), linear_axis(15, 4.5), mass=0.95)
    assert wide.density[wide.density >= wide.level].sum() == pytest.approx(0.95, abs=0.005)
    assert density.density[density.density >= density.level].sum() < 0.95  # the equal-mass grid shows part of it


@pytest.mark.parametrize(("shape", "sigma"), [((525, 400), 3.0), ((40, 33), 1.7), ((3, 50), 9.0), ((6, 6), 0.0)])
def test_gaussian_smooth_is_scipys_gaussian_filter_with_zeros_beyond_the_edges(shape, sigma):
    from scipy.ndimage import gaussian_filter  # the reference the outline was first drawn with

    values = np.random.default_rng(1).random(shape)
    np.testing.assert_allclose(
        gaussian_smooth(values, sigma), gaussian_filter(values, sigma, mode="constant"), rtol=0, atol=1e-12
    )


def test_drawing_the_outline_does_not_import_scipy():
    import subprocess
    import sys

    script = (
        "import sys, numpy as np\n"
        "from vae_core.lessons.latent_paths import code_density, linear_axis\n"
        "code_density(np.random.default_rng(0).normal(size=(500, 2)), linear_axis(5, 2.0), linear_axis(5, 2.0))\n"
        "print('scipy' in sys.modules)"
    )
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"


def test_the_spherical_path_is_polar_and_whites_slerp_differs_when_the_norms_do():
    from vae_core.lessons.latent_paths import white_slerp

    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 3.0])  # orthogonal, norms 1 and 3
    ts = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(np.linalg.norm(slerp(z0, z1, ts), axis=1), 1.0 + 2.0 * ts, rtol=1e-6)
    # White's slerp of the codes at t = ½, Ω = π/2: (z0 + z1)·sin(π/4), norm √((1 + 9)/2), not the linear 2
    np.testing.assert_allclose(white_slerp(z0, z1, [0.5])[0], (z0 + z1) * np.sin(np.pi / 4), rtol=1e-6)
    assert np.linalg.norm(white_slerp(z0, z1, [0.5])) == pytest.approx(np.sqrt(5.0), rel=1e-6)
    # with equal norms the two are one path
    w1 = np.array([0.0, 1.0])
    np.testing.assert_allclose(white_slerp(z0, w1, ts), slerp(z0, w1, ts), atol=1e-6)
