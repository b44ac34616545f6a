"""The β sweep as a table: one point per model, with the terms the β page plots (no Streamlit here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.registry import ModelEntry
from vae_core.engine.results import EvaluationReport
from vae_core.engine.vocabulary import INFORMATIVE_MEAN_KL, SOURCE_SHIPPED, SOURCE_USER


@dataclass(frozen=True)
class SweepPoint:
    """One β model's test-set terms, in nats per image."""

    name: str
    beta: float
    recon: float  # E_q[-log p(x|z)]: the distortion
    kl: float  # KL(q(z|x) || p(z)): the rate
    kl_per_dim: tuple[float, ...]
    active_units: int | None  # Burda et al.'s, from the variance of the posterior means, when evaluated
    trained_here: bool  # trained in the app (user folder) rather than shipped
    epochs: int

    @property
    def neg_elbo(self) -> float:
        return self.recon + self.kl


def metrics_complete(report: EvaluationReport | None, latent_dim: int) -> bool:
    """True when a model's recorded metrics hold what the β page needs (a kl_per_dim of the right size)."""
    return report is not None and len(report.kl_per_dim) == latent_dim


def sweep_point(entry: ModelEntry, report: EvaluationReport) -> SweepPoint:
    """A SweepPoint from an entry and its test-set evaluation."""
    assert metrics_complete(report, entry.latent_dim), f"{entry.info.name}: incomplete metrics"
    return SweepPoint(
        name=entry.info.name,
        beta=entry.beta,
        recon=report.recon,
        kl=report.kl,
        kl_per_dim=report.kl_per_dim,
        active_units=report.active_units,
        trained_here=entry.source == SOURCE_USER,
        epochs=int(entry.info.metadata.get("epochs_run", entry.info.train_config.epochs)),
    )


def reference_entry(members: list[ModelEntry]) -> ModelEntry:
    """The sweep member a new β point copies its architecture and training from: shipped, β nearest 1."""
    return min(members, key=lambda e: (e.source != SOURCE_SHIPPED, abs(e.beta - 1.0), e.info.name))


def extra_point_configs(
    reference: ModelEntry, beta: float, epochs: int, device: str = "cpu"
) -> tuple[ModelConfig, TrainConfig]:
    """Configs for one more β point: the reference's model and training, with a new β and fewer epochs.

    One torch thread on CPU, so that training in one browser session leaves cores for the others.
    """
    if beta < 0:
        raise ValueError(f"β must be non-negative, got {beta}")
    model_config = dataclasses.replace(reference.info.model_config, beta=float(beta))
    train_config = dataclasses.replace(
        reference.info.train_config,
        epochs=int(epochs),
        device=device,
        num_threads=1 if device == "cpu" else 0,
        eval_each_epoch=False,
        kl_warmup_epochs=min(reference.info.train_config.kl_warmup_epochs, int(epochs)),
    )
    return model_config, train_config


def suggested_beta(betas: list[float]) -> float:
    """A β for one more point that the sweep lacks, where the lesson is: halfway between β = 1 (or the largest β
    below it) and the next β up, so the new point lands between two that differ in how many dimensions they keep
    (1.5 for the shipped sweeps). Never a β already in the sweep: the halving repeats until it finds a gap."""
    ordered = sorted(set(betas))
    if not ordered:
        return 1.0
    lower = max((b for b in ordered if b <= 1.0), default=ordered[0])
    upper = min((b for b in ordered if b > lower), default=2.0 * lower if lower > 0 else 1.0)
    candidate = round((lower + upper) / 2.0, 2)
    while candidate in ordered and upper - lower > 0.02:
        upper = candidate
        candidate = round((lower + upper) / 2.0, 2)
    return candidate


def kl_matrix(points: list[SweepPoint]) -> list[list[float]]:
    """KL per dimension as rows = latent dimensions, columns = the points (in the given order)."""
    latent_dim = len(points[0].kl_per_dim)
    assert all(len(p.kl_per_dim) == latent_dim for p in points), "points differ in latent size"
    return [[p.kl_per_dim[d] for p in points] for d in range(latent_dim)]


def informative_dims(point: SweepPoint, threshold: float = INFORMATIVE_MEAN_KL) -> int:
    """Informative dimensions: those whose test-set mean KL exceeds threshold nats (the others have collapsed
    onto the prior). A KL-based count, not Burda's active units (SweepPoint.active_units)."""
    return sum(v > threshold for v in point.kl_per_dim)


def sweep_epochs(points: list[SweepPoint]) -> int:
    """The epochs the shipped points were trained for (the most common count; the largest of a tie)."""
    shipped = [p.epochs for p in points if not p.trained_here] or [p.epochs for p in points]
    return max(set(shipped), key=lambda e: (shipped.count(e), e))


def short_of_sweep(point: SweepPoint, epochs: int) -> bool:
    """A point trained (in the app) for fewer epochs than the sweep's: it lies off the sweep's curve."""
    return point.trained_here and point.epochs < epochs


def describe_sweep(points: list[SweepPoint], bound_name: str = "−ELBO", decimals: int = 1) -> str:
    """What the sweep's own numbers say about β = 1 and the bound, as a sentence (computed, never prepared).

    Only the points trained like the sweep (not those short of its epochs) are compared. β = 1 is the only
    point whose training objective is the bound itself; after the sweep's epochs it need not have the lowest.
    """
    epochs = sweep_epochs(points)
    comparable = [p for p in points if not short_of_sweep(p, epochs)]
    best = min(comparable, key=lambda p: p.neg_elbo)
    ones = [p for p in comparable if p.beta == 1.0]
    lead = (
        f"Lowest {bound_name} in this sweep: β = {best.beta:g}, {best.neg_elbo:.{decimals}f} nats per image "
        f"after {epochs} epochs."
    )
    if not ones:
        return lead + " The sweep has no β = 1 point, the only one trained on the bound itself."
    one = min(ones, key=lambda p: p.neg_elbo)
    resolution = 10.0**-decimals
    if best.beta != 1.0 and one.neg_elbo - best.neg_elbo < resolution:
        return (
            lead + f" β = 1, the only point whose training objective is the bound itself, is within "
            f"{resolution:g} nats of it: a tie at this precision."
        )
    if best.beta == 1.0:
        runner_up = min((p for p in comparable if p.beta != 1.0), key=lambda p: p.neg_elbo, default=None)
        gap = (
            (
                f" (the next best, β = {runner_up.beta:g}, is {runner_up.neg_elbo - one.neg_elbo:.{decimals}f} nats "
                "higher)"
            )
            if runner_up is not None
            else ""
        )
        return (
            lead + " β = 1 is the only point whose training objective is the bound itself, and it has the "
            f"lowest{gap}: any other β buys rate or distortion at a price in the bound."
        )
    return (
        lead + f" β = 1, the only point whose training objective is the bound itself, has "
        f"{one.neg_elbo:.{decimals}f}: {one.neg_elbo - best.neg_elbo:.{decimals}f} nats worse. With the "
        f"same {epochs} epochs β = 1 has not reached the best bound it can: the points show where each "
        "objective got in that time, not the best each can do."
    )
