"""vae_core.lessons.conditional: the same z as every class, style transfer, codes and the KL comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_core.engine.models import build_model
from vae_core.lessons.conditional import (
    compare_kl,
    decode_every_class,
    label_predictability,
    posterior_means,
    prior_codes,
    style_transfer,
)


@pytest.fixture(scope="module")
def models(tiny_config):
    torch.manual_seed(0)
    return build_model(tiny_config(kind="cvae")).eval(), build_model(tiny_config(kind="vae")).eval()


def test_decode_every_class_rows_share_z(models):
    cvae, _ = models
    z = prior_codes(3, 2, seed=0)
    grid = decode_every_class(cvae, z)
    assert grid.shape == (3, 10, 8, 8)
    with torch.no_grad():
        expected = cvae.decode(torch.as_tensor(z[1:2]).repeat(10, 1), torch.arange(10))[:, 0].numpy()
    np.testing.assert_allclose(grid[1], expected, rtol=1e-6)
    assert np.array_equal(prior_codes(3, 2, seed=0), z)


def test_style_transfer_keeps_the_code(models, digits_test):
    cvae, _ = models
    image, label = digits_test.images[0, 0].numpy(), int(digits_test.labels[0])
    out = style_transfer(cvae, image, label)
    assert out.shape == (10, 8, 8)
    with torch.no_grad():
        z = cvae.embed(digits_test.images[:1], digits_test.labels[:1])
        own = cvae.decode(z, digits_test.labels[:1])[0, 0].numpy()
    np.testing.assert_allclose(out[label], own, rtol=1e-6)


def test_codes_and_kl_comparison(models, digits_test):
    cvae, vae = models
    x, y = digits_test.images[:50], digits_test.labels[:50]
    assert posterior_means(cvae, x, y).shape == posterior_means(vae, x, y).shape == (50, 2)
    result = compare_kl(cvae, vae, x, y, batch_size=20)
    with torch.no_grad():
        cvae_terms, vae_terms = cvae.loss(x, y), vae.loss(x, y)
    np.testing.assert_allclose(result.cvae_kl_per_dim, cvae_terms.kl_per_dim.numpy(), rtol=1e-5)
    np.testing.assert_allclose(result.vae_kl_per_dim, vae_terms.kl_per_dim.numpy(), rtol=1e-5)
    assert result.cvae_kl == pytest.approx(float(cvae_terms.kl), rel=1e-5)


def test_label_predictability_tells_clusters_from_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    clustered = rng.normal(0, 0.1, (200, 2)) + np.stack([labels, labels], 1) * 3.0
    assert label_predictability(clustered, labels) == 1.0
    assert label_predictability(rng.normal(0, 1, (200, 2)), labels) < 0.5
