"""benchmarks/train_speed.py's --choices measurements run and give a figure for every row (no time is asserted)."""

from __future__ import annotations

import math

import pytest

from benchmarks.train_speed import time_bce_formulations, time_matmul_floor, time_step_parts
from vae_core.engine.data import is_available

pytestmark = pytest.mark.skipif(not is_available("mnist"), reason="MNIST is not in the data directory")


def test_step_parts_time_every_part_of_a_fit_step():
    parts = time_step_parts(threads=1, seed=0, repeats=3)
    assert {"floor: five 128x784x400 matmuls", "a whole fit step", "  Adam step (fused)"} <= set(parts)
    assert any("fit's" in name for name in parts)  # the binarisation fit uses has its own row
    assert any("one image" in name for name in parts)  # the op and autograd overhead a step pays at any batch size
    for name, (least, median) in parts.items():
        assert math.isfinite(median) and 0 < least <= median, name


def test_matmul_floor_is_timed():
    floor = time_matmul_floor(threads=1, repeats=2)
    assert {"five 128x784x400 matmuls (torch)", "one of them in torch"} <= set(floor)
    assert all(math.isfinite(ms) and ms > 0 for ms in floor.values())


def test_every_bce_formulation_and_logarithm_is_timed():
    timed = time_bce_formulations(threads=1, repeats=2)
    assert {"vae_core bernoulli_nll", "vae_core BernoulliNLLSum (fit's)", "sum of log(1 + e) by chunk products"} <= set(
        timed
    )
    assert all(math.isfinite(ms) and ms > 0 for ms in timed.values())
