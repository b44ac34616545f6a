"""vae_core.lessons.walk: the Interpolation page's walk, precomputed for the browser."""

from __future__ import annotations

import numpy as np
import pytest

from vae_core.lessons.walk import picture_range, plan_walk


def test_the_walk_holds_z_t_its_picture_and_both_paths_norms():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=5), rng.normal(size=5)
    components = np.linalg.qr(rng.normal(size=(5, 2)))[0].T  # two orthonormal rows, like a PCA's

    def project(codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) @ components.T

    ts, fine_ts = np.linspace(0, 1, 21), np.linspace(0, 1, 41)
    walk = plan_walk(z_a, z_b, "spherical", ts, fine_ts, project)
    assert walk.codes.shape == (21, 5) and walk.points.shape == (21, 2) and walk.fine_points.shape == (41, 2)
    np.testing.assert_allclose(walk.codes[[0, -1]], [z_a, z_b], atol=1e-6)
    np.testing.assert_allclose(walk.points, project(walk.codes), atol=1e-9)
    # slerp's norm goes linearly from ‖z_A‖ to ‖z_B‖; lerp's is the chord's, never above it
    line = (1 - ts) * np.linalg.norm(z_a) + ts * np.linalg.norm(z_b)
    np.testing.assert_allclose(walk.norms, line, rtol=1e-5)
    np.testing.assert_allclose(walk.slerp_norms, np.interp(fine_ts, ts, line), rtol=1e-5)
    chord = np.linalg.norm((1 - fine_ts)[:, None] * z_a + fine_ts[:, None] * z_b, axis=1)
    np.testing.assert_allclose(walk.lerp_norms, chord, rtol=1e-6)
    assert np.all(walk.lerp_norms <= walk.slerp_norms + 1e-9)
    linear = plan_walk(z_a, z_b, "linear", ts, fine_ts, project)
    np.testing.assert_allclose(linear.norms, np.interp(ts, fine_ts, chord), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown interpolation"):
        plan_walk(z_a, z_b, "cubic", ts, fine_ts, project)


def test_the_picture_holds_the_cloud_the_whole_path_and_the_prior_circle():
    cloud = np.random.default_rng(1).normal(size=(2000, 2)) * 0.5
    far_path = np.array([[0.0, 0.0], [9.0, -7.0]])  # an upload far from every test code
    (x0, x1), (y0, y1) = picture_range(cloud, far_path)
    assert x1 > 9.0 and y0 < -7.0 and x0 < np.quantile(cloud[:, 0], 0.01)
    (x0, x1), (y0, y1) = picture_range(cloud, far_path[:1], prior_centre=(0.5, 0.0))
    assert x0 < -1.5 and x1 > 2.5 and y0 < -2.0 and y1 > 2.0
    with_outlier = np.concatenate([cloud, [[50.0, 50.0]]])
    assert picture_range(with_outlier, far_path[:1])[0][1] < 5.0, "one far code does not shrink the cloud"
