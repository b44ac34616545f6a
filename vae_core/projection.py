"""2-D views of latent codes (PCA or t-SNE), which can also place new codes (paths, the prior) in the picture.

The one home of projections: PCA is scikit-learn's, and its basis is kept, so an interpolation path or the
prior's circles can be drawn in the same coordinates as the points. t-SNE has no such map. scikit-learn is
imported when a projection is fitted, not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vocabulary import dim_name

PROJECTIONS = ("pca", "tsne")


@dataclass(frozen=True)
class Projection2D:
    """A fitted map from D-dimensional codes to the plane (None for t-SNE, which cannot map new codes)."""

    method: str  # "identity" (D <= 2), "pca" or "tsne"
    mean: np.ndarray | None  # (D,) centre subtracted before PCA
    components: np.ndarray | None  # (2, D) orthonormal rows (PCA)
    latent_dim: int

    @property
    def can_transform(self) -> bool:
        return self.method in ("identity", "pca")

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """(N, D) codes -> (N, 2) points in the fitted view."""
        codes = np.asarray(codes, dtype=np.float64).reshape(-1, self.latent_dim)
        if self.method == "identity":
            return codes if self.latent_dim == 2 else np.concatenate([codes, np.zeros_like(codes)], axis=1)
        if self.method == "pca":
            assert self.mean is not None and self.components is not None  # set by fit for PCA
            return (codes - self.mean) @ self.components.T
        raise ValueError("a t-SNE view cannot place new codes; use PCA")

    @property
    def axis_titles(self) -> tuple[str, str]:
        if self.method == "identity":
            return (dim_name(0), dim_name(1)) if self.latent_dim == 2 else (dim_name(0), "")
        if self.method == "pca":
            return "PC 1", "PC 2"
        return "t-SNE 1", "t-SNE 2"

    @property
    def shows_prior(self) -> bool:
        """True when the prior N(0, I) stays N(centre, I) in this view: identity, or PCA (orthonormal rows)."""
        return self.can_transform and self.latent_dim >= 2


def fit_projection(codes: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[Projection2D, np.ndarray]:
    """(the fitted projection, the (N, 2) points of codes); D <= 2 keeps the codes themselves (1-D gets a zero
    second axis). t-SNE is seeded: the same codes and seed give the same points."""
    codes = np.asarray(codes, dtype=np.float64)
    latent_dim = codes.shape[1]
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(PROJECTIONS)}")
    if latent_dim <= 2:
        projection = Projection2D("identity", None, None, latent_dim)
        return projection, projection.transform(codes)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(codes)
        projection = Projection2D("pca", pca.mean_, pca.components_, latent_dim)
        return projection, projection.transform(codes)
    from sklearn.manifold import TSNE

    points = TSNE(n_components=2, random_state=seed, init="pca").fit_transform(codes)
    return Projection2D("tsne", None, None, latent_dim), points
