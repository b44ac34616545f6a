"""The Decoder grid page's default-view claim, checked on the shipped MNIST models with a proxy of its own.

The claim: on each model's equal-mass grid (the page's default: 15 × 15 cells of the Gaussian a sampler would
draw from, the prior for the VAE and the Gaussian of its own codes for the autoencoder), many more of the
autoencoder's cells are holes, codes no test image is encoded to, than the VAE's.

The proxy, independent of the page's smoothed-histogram outline: in the sampler's standard units (codes
standardised by their own mean and standard deviation for the AE; as they are for the VAE, whose sampler is
N(0, I)) both grids are the same Φ⁻¹ grid, computed here with statistics.NormalDist. A cell is a hole when
fewer than 10 test codes lie within 0.25 standard units of its centre (scikit-learn's NearestNeighbors: the
10th nearest code is farther). Measured on the retrained zoo: 20 such cells for the AE, 6 for the VAE; the
page's outline counts 24 and 3.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import torch

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import is_available, load_dataset, measured_inputs
from vae_core.engine.protocol import protocol_of
from vae_core.lessons.latent_paths import code_density, grid_axes

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
N = 15  # the page's default cells per side
HOLE_RADIUS = 0.25  # standard units
HOLE_NEIGHBOURS = 10

pytestmark = pytest.mark.skipif(not is_available("mnist"), reason="MNIST is not in the data directory")


def test_codes(name: str) -> tuple[np.ndarray, bool]:
    """(the test codes as the page encodes them: under the model's protocol, the model's variational flag)."""
    model, info = load_checkpoint(CHECKPOINTS / f"{name}.safetensors")
    images = measured_inputs(load_dataset("mnist", "test").images, protocol_of(info.train_config, info.model_config))
    with torch.no_grad():
        return model.embed(images).numpy().astype(np.float64), info.model_config.is_variational


test_codes.__test__ = False  # a helper, not a test


def knn_holes(standard_codes: np.ndarray) -> int:
    from sklearn.neighbors import NearestNeighbors

    axis = np.array([NormalDist().inv_cdf((i + 0.5) / N) for i in range(N)])
    centres = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    distances, _ = NearestNeighbors(n_neighbors=HOLE_NEIGHBOURS).fit(standard_codes).kneighbors(centres)
    return int((distances[:, -1] > HOLE_RADIUS).sum())


def test_the_autoencoder_has_more_holes_than_the_vae_on_the_default_grid():
    ae_codes, _ = test_codes("mnist-ae-z2")
    vae_codes, variational = test_codes("mnist-vae-z2")
    assert variational
    ae_holes = knn_holes((ae_codes - ae_codes.mean(0)) / ae_codes.std(0))
    vae_holes = knn_holes(vae_codes)
    assert ae_holes >= 2 * vae_holes + 5, (ae_holes, vae_holes)
    # the page's own count (cells outside the outline of 95% of the codes) tells the same story
    page_counts = {}
    for name, codes, flag in (("ae", ae_codes, False), ("vae", vae_codes, True)):
        x_axis, y_axis = grid_axes(codes, flag, N, "quantiles")
        page_counts[name] = code_density(codes, x_axis, y_axis, mass=0.95).cells_outside
    assert page_counts["ae"] >= 2 * page_counts["vae"] + 5, page_counts
