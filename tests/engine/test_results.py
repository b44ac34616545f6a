"""vae_core.engine.results: stored metrics and histories read back typed; anything odd is refused, never a crash."""

from __future__ import annotations

import pytest

from vae_core.engine.checkpoint_info import CheckpointInfo
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.results import EpochRecord, EvaluationReport, TermMeans

STORED_VAE = {  # what EvaluationReport.to_dict() wrote in format 1, `extra` included
    "n_images": 360,
    "recon": 20.5,
    "kl": 4.5,
    "neg_elbo": 25.0,
    "kl_per_dim": [4.0, 0.5],
    "regularizer": 0.0,
    "active_units": 2,
    "latent_variance": [0.9, 0.1],
    "iw_nll": 24.0,
    "iw_samples": 100,
    "binarized": True,
    "mse": 0.02,
    "extra": {},
}
STORED_AE = {**STORED_VAE, "kl": 0.0, "neg_elbo": None, "kl_per_dim": [0.0, 0.0], "iw_nll": None, "iw_samples": 0}


def info_with(metrics) -> CheckpointInfo:
    return CheckpointInfo(
        path=None, model_config=ModelConfig(), train_config=TrainConfig(), metadata={"metrics": metrics}
    )


def test_terms_computed_in_memory_are_taken_by_name():
    names = ("objective", "neg_elbo", "recon", "kl", "regularizer")  # vae_core.engine.losses.SCALAR_TERMS
    terms = TermMeans.from_named(names, [5.0, 4.5, 4.0, 0.5, 0.25])
    assert terms == TermMeans(objective=5.0, recon=4.0, kl=0.5, regularizer=0.25)
    with pytest.raises(ValueError):  # one value per name
        TermMeans.from_named(names, [5.0, 4.5])


def test_stored_reports_read_back_typed_and_round_trip():
    report = EvaluationReport.from_dict(STORED_VAE)
    assert report.kl_per_dim == (4.0, 0.5) and report.active_units == 2 and report.iw_nll == 24.0
    assert EvaluationReport.from_dict(report.to_dict()) == report
    assert "extra" not in report.to_dict()


def test_the_headline_is_the_elbo_for_a_vae_and_the_reconstruction_for_an_autoencoder():
    vae, ae = EvaluationReport.from_dict(STORED_VAE), EvaluationReport.from_dict(STORED_AE)
    assert vae.is_variational and vae.headline == 25.0 and vae.format_headline() == "−ELBO 25.0 nats"
    assert not ae.is_variational and ae.neg_elbo is None and ae.headline == 20.5
    assert ae.format_headline(decimals=2) == "reconstruction NLL 20.50 nats"


def test_grey_level_reports_are_never_headlined_as_likelihoods():
    """A file written before the protocol was recorded, measured on grey levels: its numbers are cross-entropies."""
    vae = EvaluationReport.from_dict({**STORED_VAE, "binarized": False})
    ae = EvaluationReport.from_dict({**STORED_AE, "binarized": False})
    assert vae.data_protocol is DataProtocol.GREY_BERNOULLI
    assert vae.format_headline() == "cross-entropy + KL 25.0 nats"
    assert ae.format_headline() == "reconstruction cross-entropy 20.5 nats"
    recorded = EvaluationReport.from_dict({**STORED_VAE, "protocol": "gaussian", "binarized": False})
    assert recorded.data_protocol is DataProtocol.GAUSSIAN and recorded.headline_name == "−ELBO"
    with pytest.raises(ValueError, match="protocol"):
        EvaluationReport.from_dict({**STORED_VAE, "protocol": "grey"})


@pytest.mark.parametrize(
    "odd",
    [
        None,
        {},
        {"neg_elbo": 1.0},
        [1.0, 2.0],
        "metrics",
        3.0,
        {**STORED_VAE, "recon": "20"},
        {**STORED_VAE, "kl_per_dim": "4 0.5"},
        {**STORED_VAE, "kl_per_dim": [4.0, None]},
        {**STORED_VAE, "kl": True},
        {**STORED_VAE, "active_units": 1.5},
        {**STORED_VAE, "neg_elbo": float("nan")},
    ],
)
def test_odd_stored_metrics_are_no_metrics(odd):
    with pytest.raises(ValueError):
        EvaluationReport.from_dict(odd)
    assert info_with(odd).metrics is None


def test_missing_optional_fields_take_their_defaults():
    minimal = {key: STORED_VAE[key] for key in ("n_images", "recon", "kl", "neg_elbo", "kl_per_dim")}
    report = info_with(minimal).metrics
    assert report is not None and report.active_units is None and report.iw_nll is None and report.mse == 0.0


def test_epoch_records_round_trip_and_read_older_histories():
    older = {
        "epoch": 2,
        "beta": 0.5,
        "seconds": 1.25,  # older files also stored neg_elbo per epoch
        "train": {"objective": 3.0, "neg_elbo": 3.5, "recon": 2.0, "kl": 1.5, "regularizer": 0.0},
        "test": None,
    }
    record = EpochRecord.from_dict(older)
    assert record.train == TermMeans(objective=3.0, recon=2.0, kl=1.5, regularizer=0.0) and record.test is None
    assert EpochRecord.from_dict(record.to_dict()) == record
    with pytest.raises(ValueError):
        EpochRecord.from_dict({**older, "train": [3.0, 2.0]})
