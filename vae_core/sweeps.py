"""The β sweep as a table: one point per model, with the terms the β page plots (no Streamlit here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vae_core.config import ModelConfig, TrainConfig

from vae_core.registry import ModelEntry

ACTIVE_KL_NATS = 0.01  # a dimension whose average KL is below this carries (almost) no information


@dataclass(frozen=True)
class SweepPoint:
    """One β model's test-set terms, in nats per image."""

    name: str
    beta: float
    recon: float  # E_q[-log p(x|z)]: the distortion
    kl: float  # KL(q(z|x) || p(z)): the rate
    kl_per_dim: tuple[float, ...]
    active_units: int | None  # from the variance of the posterior means (Burda et al.), when evaluated
    trained_here: bool  # trained in the app (user folder) rather than shipped
    epochs: int

    @property
    def neg_elbo(self) -> float:
        return self.recon + self.kl


def metrics_complete(metrics: Mapping[str, Any], latent_dim: int) -> bool:
    """True when stored metrics hold what the β page needs (recon, kl and a kl_per_dim of the right size)."""
    per_dim = metrics.get("kl_per_dim")
    return (isinstance(metrics.get("recon"), (int, float)) and isinstance(metrics.get("kl"), (int, float))
            and isinstance(per_dim, (list, tuple)) and len(per_dim) == latent_dim)


def sweep_point(entry: ModelEntry, metrics: Mapping[str, Any]) -> SweepPoint:
    """A SweepPoint from an entry and its test-set metrics (EvaluationReport.to_dict())."""
    assert metrics_complete(metrics, entry.latent_dim), f"{entry.info.name}: incomplete metrics"
    active = metrics.get("active_units")
    return SweepPoint(
        name=entry.info.name, beta=entry.beta, recon=float(metrics["recon"]), kl=float(metrics["kl"]),
        kl_per_dim=tuple(float(v) for v in metrics["kl_per_dim"]),
        active_units=int(active) if isinstance(active, int) else None,
        trained_here=entry.source == "user",
        epochs=int(entry.info.metadata.get("epochs_run", entry.info.train_config.epochs)),
    )


def reference_entry(members: list[ModelEntry]) -> ModelEntry:
    """The sweep member a new β point copies its architecture and training from: shipped, β nearest 1."""
    return min(members, key=lambda e: (e.source != "shipped", abs(e.beta - 1.0), e.info.name))


def extra_point_configs(reference: ModelEntry, beta: float, epochs: int,
                        device: str = "cpu") -> tuple[ModelConfig, TrainConfig]:
    """Configs for one more β point: the reference's model and training, with a new β and fewer epochs.

    One torch thread on CPU, so that training in one browser session leaves cores for the others.
    """
    if beta < 0:
        raise ValueError(f"β must be non-negative, got {beta}")
    model_config = dataclasses.replace(reference.info.model_config, beta=float(beta))
    train_config = dataclasses.replace(reference.info.train_config, epochs=int(epochs), device=device,
                                       num_threads=1 if device == "cpu" else 0, eval_each_epoch=False,
                                       kl_warmup_epochs=min(reference.info.train_config.kl_warmup_epochs, int(epochs)))
    return model_config, train_config


def kl_matrix(points: list[SweepPoint]) -> list[list[float]]:
    """KL per dimension as rows = latent dimensions, columns = the points (in the given order)."""
    latent_dim = len(points[0].kl_per_dim)
    assert all(len(p.kl_per_dim) == latent_dim for p in points), "points differ in latent size"
    return [[p.kl_per_dim[d] for p in points] for d in range(latent_dim)]


def informative_dims(point: SweepPoint, threshold: float = ACTIVE_KL_NATS) -> int:
    """Dimensions whose average KL exceeds threshold nats (the others have collapsed onto the prior)."""
    return sum(v > threshold for v in point.kl_per_dim)
