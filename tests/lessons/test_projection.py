"""vae_core.lessons.projection: 2-D views of codes; PCA that can place new codes in the same picture."""

import numpy as np
import pytest

from vae_core.lessons.projection import fit_projection


def test_two_d_codes_are_shown_as_they_are():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    projection, points = fit_projection(codes, "pca")
    assert projection.method == "identity" and projection.shows_prior
    np.testing.assert_allclose(points, codes)
    np.testing.assert_allclose(projection.transform(np.zeros((1, 2))), [[0.0, 0.0]])


def test_pca_points_are_the_top_two_principal_axes_and_new_codes_land_consistently():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(200, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1]) + 4.0
    projection, points = fit_projection(codes, "pca")
    # Against the eigenvectors of the sample covariance, computed here independently (up to each axis' sign).
    centred = codes - codes.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    expected = centred @ eigenvectors[:, ::-1][:, :2]
    for d in range(2):
        sign = np.sign(points[:, d] @ expected[:, d])
        np.testing.assert_allclose(points[:, d], sign * expected[:, d], atol=1e-8)
    np.testing.assert_allclose(points.var(0, ddof=1), eigenvalues[::-1][:2], rtol=1e-8)
    np.testing.assert_allclose(projection.transform(codes[:7]), points[:7], atol=1e-10)
    # orthonormal components: N(0, I) stays a unit circle around the image of 0
    np.testing.assert_allclose(projection.components @ projection.components.T, np.eye(2), atol=1e-10)
    # the first component follows the largest variance (dimension 0)
    assert abs(projection.components[0, 0]) > 0.95


def test_tsne_gives_points_but_cannot_place_new_codes():
    codes = np.random.default_rng(2).normal(size=(60, 3))
    projection, points = fit_projection(codes, "tsne")
    assert points.shape == (60, 2) and not projection.can_transform and not projection.shows_prior
    with pytest.raises(ValueError):
        projection.transform(codes[:1])


def test_one_d_codes_get_a_zero_second_axis_and_unknown_methods_fail():
    projection, points = fit_projection(np.array([[1.0], [2.0]]), "pca")
    np.testing.assert_allclose(points, [[1.0, 0.0], [2.0, 0.0]])
    assert not projection.shows_prior
    with pytest.raises(ValueError):
        fit_projection(np.zeros((3, 4)), "umap")


@pytest.mark.slow  # t-SNE takes seconds even on 40 points
def test_tsne_is_seeded():
    codes = np.random.default_rng(1).normal(size=(40, 3))
    _, a = fit_projection(codes, "tsne", seed=0)
    assert a.shape == (40, 2) and np.isfinite(a).all()
    assert np.allclose(a, fit_projection(codes, "tsne", seed=0)[1])
