"""Typed results: the per-epoch terms of training and the evaluation report, as stored in a checkpoint.

A checkpoint stores these as plain dicts (`to_dict`) in its JSON document, which the metadata reader reads
back. `from_dict` is the only code that reads such a dict: everything else gets the dataclass.
A stored dict that is not what `to_dict` writes (a list, a string, a number missing or of the wrong type) is
refused with ValueError by `from_dict`; CheckpointInfo.metrics turns that into None, so an odd file never
crashes a page. No torch here: the sidebar reads metrics before torch has loaded.

Units: nats per image (summed over an image's pixels, averaged over images).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vae_core.engine.protocol import DataProtocol, MetricNames, metric_names
from vae_core.engine.vocabulary import INFORMATIVE_MEAN_KL


@dataclass(frozen=True)
class TermMeans:
    """The scalar terms of the objective, averaged over a split or an epoch's batches (nats per image)."""

    objective: float  # recon + beta * kl + regularizer: what training minimises
    recon: float  # E_q[-log p(x|z)] (VAE) or -log p(x|x_hat) (AE family)
    kl: float  # KL(q(z|x) || p(z)); 0 for the AE family
    regularizer: float  # the AE family's penalty; 0 for VAEs

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_named(cls, names: Sequence[str], values: Sequence[float]) -> TermMeans:
        """From means computed in memory, values[i] being names[i] (vae_core.engine.losses.SCALAR_TERMS order);
        names that are not fields (neg_elbo) are left out. Unchecked: from_dict is the reader of stored files."""
        named = dict(zip(names, values, strict=True))
        return cls(objective=named["objective"], recon=named["recon"], kl=named["kl"], regularizer=named["regularizer"])

    @classmethod
    def from_dict(cls, data: Any) -> TermMeans:
        """Read what to_dict wrote (other keys, such as the neg_elbo older files store, are ignored)."""
        values = _mapping(data, cls.__name__)
        return cls(**{f.name: _number(values, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch of training."""

    epoch: int  # 1-based
    beta: float  # the beta used this epoch (ramps up during KL warm-up)
    seconds: float
    train: TermMeans  # batch-size-weighted means over the epoch
    test: TermMeans | None  # means over the test split after the epoch, if it was evaluated

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "beta": self.beta,
            "seconds": self.seconds,
            "train": self.train.to_dict(),
            "test": self.test.to_dict() if self.test is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Any) -> EpochRecord:
        values = _mapping(data, cls.__name__)
        test = values.get("test")
        return cls(
            epoch=int(_number(values, "epoch")),
            beta=_number(values, "beta"),
            seconds=_number(values, "seconds"),
            train=TermMeans.from_dict(values.get("train")),
            test=None if test is None else TermMeans.from_dict(test),
        )


@dataclass(frozen=True)
class EvaluationReport:
    """Averages over a split, in nats per image (vae_core.engine.evaluation.evaluate makes them)."""

    n_images: int
    recon: float  # E_q[-log p(x|z)] (VAE) or reconstruction NLL (AE)
    kl: float  # KL(q(z|x) || p(z)); 0 for AEs
    neg_elbo: float | None  # recon + kl for VAEs; None for the AE family, which has no ELBO
    kl_per_dim: tuple[float, ...]  # sums to kl
    regularizer: float = 0.0  # AE-family penalty at evaluation
    active_units: int | None = None  # Burda et al. (2015), see vae_core.engine.vocabulary.ACTIVE_UNIT_VARIANCE
    latent_variance: tuple[float, ...] = field(default=())  # Var_x of the deterministic code per dimension
    iw_nll: float | None = None  # -IW_K, an estimate (upper bound) of -log p(x)
    iw_samples: int = 0
    binarized: bool = False  # evaluated on a fixed stochastic binarisation of the split
    mse: float = 0.0  # mean squared error of the deterministic reconstruction, per pixel
    protocol: str = ""  # a vae_core.engine.protocol.DataProtocol value; "" in files written before it was recorded
    entropy_floor: float | None = None  # grey-level Bernoulli only: sum of per-pixel binary entropies, nats

    @property
    def data_protocol(self) -> DataProtocol:
        """What these numbers are (older files that did not record it: read from `binarized`)."""
        if self.protocol:
            return DataProtocol(self.protocol)
        return DataProtocol.BINARIZED if self.binarized else DataProtocol.GREY_BERNOULLI

    @property
    def names(self) -> MetricNames:
        """The label each of these numbers may carry (vae_core.engine.protocol.metric_names)."""
        return metric_names(self.data_protocol, self.is_variational)

    @property
    def is_variational(self) -> bool:
        return self.neg_elbo is not None

    @property
    def headline(self) -> float:
        """The one number a model is judged by: -ELBO for a VAE, the reconstruction NLL for the AE family."""
        return self.neg_elbo if self.neg_elbo is not None else self.recon

    @property
    def headline_name(self) -> str:
        if not self.data_protocol.is_likelihood:
            return "cross-entropy + KL" if self.is_variational else "reconstruction cross-entropy"
        return "−ELBO" if self.is_variational else "reconstruction NLL"

    @property
    def informative_dims(self) -> int | None:
        """How many dimensions are informative (vocabulary.INFORMATIVE_MEAN_KL); None for the AE family."""
        if not self.is_variational or not self.kl_per_dim:
            return None
        return sum(v > INFORMATIVE_MEAN_KL for v in self.kl_per_dim)

    def format_headline(self, decimals: int = 1) -> str:
        """E.g. '−ELBO 97.3 nats' or 'reconstruction NLL 41.0 nats'."""
        return f"{self.headline_name} {self.headline:.{decimals}f} nats"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kl_per_dim"], out["latent_variance"] = list(self.kl_per_dim), list(self.latent_variance)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> EvaluationReport:
        """Read what to_dict wrote; ValueError for anything else. Unknown keys (e.g. an old `extra`) are ignored."""
        values = _mapping(data, cls.__name__)
        kl_per_dim = _numbers(values, "kl_per_dim")
        neg_elbo = _optional_number(values, "neg_elbo")
        active = values.get("active_units")
        if active is not None and (isinstance(active, bool) or not isinstance(active, int) or active < 0):
            raise ValueError(f"active_units must be a non-negative integer, got {active!r}")
        return cls(
            n_images=int(_number(values, "n_images")),
            recon=_number(values, "recon"),
            kl=_number(values, "kl"),
            neg_elbo=neg_elbo,
            kl_per_dim=kl_per_dim,
            regularizer=_number(values, "regularizer", default=0.0),
            active_units=active,
            latent_variance=_numbers(values, "latent_variance", default=()),
            iw_nll=_optional_number(values, "iw_nll"),
            iw_samples=int(_number(values, "iw_samples", default=0)),
            binarized=bool(values.get("binarized", False)),
            mse=_number(values, "mse", default=0.0),
            protocol=_protocol(values.get("protocol", "")),
            entropy_floor=_optional_number(values, "entropy_floor"),
        )


# --- reading stored values -----------------------------------------------------------------------------------------
_MISSING = object()


def _protocol(value: Any) -> str:
    if value == "":
        return ""
    try:
        return DataProtocol(value).value
    except ValueError:
        raise ValueError(f"protocol must be one of {[p.value for p in DataProtocol]}, got {value!r}") from None


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"a stored {what} must be a dict, got {type(data).__name__}")
    return data


def _number(values: Mapping[str, Any], key: str, default: Any = _MISSING) -> float:
    value = values.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{key} must be a number, got {value!r:.40}")
    return float(value)


def _optional_number(values: Mapping[str, Any], key: str) -> float | None:
    return None if values.get(key) is None else _number(values, key)


def _numbers(values: Mapping[str, Any], key: str, default: Any = _MISSING) -> tuple[float, ...]:
    value = values.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key} is missing")
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key} must be a list of numbers, got {type(value).__name__}")
    return tuple(_number({key: v}, key) for v in value)
