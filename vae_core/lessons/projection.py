"""2-D views of latent codes (PCA or t-SNE), which can also place new codes (paths, the prior) in the picture.

The one home of projections: PCA is scikit-learn's, and its basis is kept, so an interpolation path or the
prior's circles can be drawn in the same coordinates as the points. t-SNE has no such map, and may cover only
a random subset of the codes (vae_core.serving.tsne_job caps it at limits.MAX_TSNE_POINTS). scikit-learn is imported
when a projection is fitted, not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae_core.engine.vocabulary import dim_name

PROJECTIONS = ("pca", "tsne")
TSNE_ITERATIONS = 1000  # gradient steps (scikit-learn's default); vae_core.serving.tsne_job reports progress against it
# One OpenMP thread: on the 2-core machine the app is sized for, a t-SNE on every core spin-waits against the
# server and other sessions; 300 codes took 45 s that way under load, 6 s on one thread (one core, like a
# training job).
TSNE_THREADS = 1


@dataclass(frozen=True)
class Projection2D:
    """A fitted map from D-dimensional codes to the plane (None for t-SNE, which cannot map new codes)."""

    method: str  # "identity" (D <= 2), "pca" or "tsne"
    mean: np.ndarray | None  # (D,) centre subtracted before PCA
    components: np.ndarray | None  # (2, D) orthonormal rows (PCA)
    latent_dim: int
    # Which of the fitted codes the points are, in order (a capped t-SNE's random subset); None: all of them.
    indices: np.ndarray | None = None

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
    return Projection2D("tsne", None, None, latent_dim), run_tsne(codes, seed)


def run_tsne(codes: np.ndarray, seed: int, verbose: int = 0) -> np.ndarray:
    """(N, 2) t-SNE points of (N, D) codes: the one set of t-SNE settings, seeded (verbose only prints).

    Barnes-Hut t-SNE with PCA initialisation, scikit-learn's defaults otherwise (1000 iterations), on
    TSNE_THREADS OpenMP threads.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, random_state=seed, init="pca", max_iter=TSNE_ITERATIONS, verbose=verbose)
    with threadpool_limits(limits=TSNE_THREADS):
        return tsne.fit_transform(np.asarray(codes, dtype=np.float64))
