"""The data protocol of a model and the names its numbers may carry (vae_core.engine.protocol), and the images as a
model is measured on them (vae_core.engine.data)."""

import pytest
import torch

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import binarization_spread, binary_entropy_floor, measured_inputs
from vae_core.engine.protocol import DataProtocol, metric_names, protocol_of


@pytest.mark.parametrize(
    ("binarized", "likelihood", "expected"),
    [
        (True, "bernoulli", DataProtocol.BINARIZED),
        (False, "bernoulli", DataProtocol.GREY_BERNOULLI),
        (False, "gaussian", DataProtocol.GAUSSIAN),
    ],
)
def test_protocol_is_read_from_the_configs(binarized, likelihood, expected):
    train = TrainConfig(dynamic_binarization=binarized)
    model = ModelConfig(likelihood=likelihood)
    assert protocol_of(train, model) is expected


@pytest.mark.parametrize("variational", [True, False])
def test_grey_bernoulli_numbers_are_never_called_a_likelihood(variational):
    names = metric_names(DataProtocol.GREY_BERNOULLI, variational)
    for label in (names.recon, names.neg_elbo, names.iw):
        assert label is None or "log p(x" not in label
    assert names.iw is None
    assert names.caveat and "not −log p(x)" in names.caveat


def test_binarised_vae_numbers_are_bounds_on_the_likelihood():
    names = metric_names(DataProtocol.BINARIZED, variational=True)
    assert "upper bound on −log p(x)" in names.neg_elbo
    assert "−log p(x)" in names.iw
    assert names.caveat is None
    assert metric_names(DataProtocol.BINARIZED, variational=False).neg_elbo is None


def test_entropy_floor_matches_torch_distributions():
    images = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    images[0, 0, 0, 0] = 0.0  # entropy 0 at the ends, where the log needs care
    images[1, 0, 0, 0] = 1.0
    expected = torch.distributions.Bernoulli(probs=images.double()).entropy().flatten(1).sum(1).mean()
    assert binary_entropy_floor(images) == pytest.approx(float(expected), rel=1e-12)


def test_entropy_floor_bounds_every_bernoulli_cross_entropy():
    images = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    floor = binary_entropy_floor(images)
    for _ in range(5):
        logits = torch.randn(images.shape)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, images, reduction="none")
        assert float(ce.flatten(1).sum(1).mean()) >= floor


def test_entropy_floor_is_zero_for_binary_images():
    assert binary_entropy_floor(torch.randint(0, 2, (4, 1, 3, 3)).float()) == 0.0


def test_measured_inputs_binarise_once_and_reproducibly():
    images = torch.rand(50, 1, 5, 5, generator=torch.Generator().manual_seed(2))
    first = measured_inputs(images, DataProtocol.BINARIZED)
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, measured_inputs(images, DataProtocol.BINARIZED))
    assert not torch.equal(first, measured_inputs(images, DataProtocol.BINARIZED, seed=1))
    assert measured_inputs(images, DataProtocol.GREY_BERNOULLI) is images


def test_binarization_spread_over_seeds():
    images = torch.full((1, 1, 10, 10), 0.5)
    mean, std = binarization_spread(lambda x: x.sum(), images, range(40))
    # Binomial(100, 0.5): mean 50, standard deviation 5
    assert mean == pytest.approx(50, abs=3)
    assert std == pytest.approx(5, rel=0.35)
