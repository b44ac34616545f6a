"""What a VAE's KL curve did during training: the early dip a small VAE goes through (the Train page's chart).

A small VAE often spends its first epochs drawing the average image with its codes nearly unused (KL close to 0)
before the codes start to pay for themselves and its KL rises again; a KL warm-up does not prevent it (on digits'
defaults the KL dips from epoch 4 to 12 with the 10-epoch warm-up, and about as long without). A KL that stays
near 0 to the end is posterior collapse, which the job panel warns about; a dip is followed by a recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DIP_SHARE = 0.2  # an epoch is in the dip when its KL is below this share of the final KL
FINAL_EPOCHS = 3  # the final KL: the mean over the last few epochs


@dataclass(frozen=True)
class KlDip:
    """The first run of epochs, after the KL has once been above DIP_SHARE of the final KL, whose KL fell below it
    and then rose above it again."""

    first_epoch: int  # 1-based, as the chart's x axis
    last_epoch: int
    lowest_kl: float  # nats per image, the dip's lowest epoch
    final_kl: float  # nats per image, the mean of the last FINAL_EPOCHS epochs


def find_kl_dip(kl_per_epoch: Sequence[float]) -> KlDip | None:
    """The KL dip in a per-epoch KL curve (epoch 1 first), or None when there is none: no epoch below
    DIP_SHARE of the final KL, a curve still below it at its end (collapse, not a dip), or too short a curve."""
    values = [float(v) for v in kl_per_epoch]
    if len(values) <= FINAL_EPOCHS:
        return None
    final = sum(values[-FINAL_EPOCHS:]) / FINAL_EPOCHS
    floor = DIP_SHARE * final
    if final <= 0.0:
        return None
    # a dip comes after the KL has been up: the first epoch's low KL (codes not yet learnt) is no dip
    risen = next((i for i, v in enumerate(values) if v >= floor), None)
    if risen is None:
        return None
    low = [i for i, v in enumerate(values) if i > risen and v < floor]
    if not low:
        return None
    first = low[0]
    last = first
    while last + 1 < len(values) and values[last + 1] < floor:
        last += 1
    if last + 1 >= len(values):  # never rose again
        return None
    return KlDip(first + 1, last + 1, min(values[first : last + 1]), final)
