"""vae_core.optim.Adam against torch.optim.Adam, the independent reference it must reproduce step for step."""

from __future__ import annotations

import pytest
import torch

from vae_core.optim import FLUSH_EVERY, TINY, Adam


def problem(dtype=torch.float64):
    """A few parameters of different shapes and a loss with curvature, so Adam's moments matter."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(5, 3, generator=gen, dtype=dtype), torch.randn(3, generator=gen, dtype=dtype),
              torch.randn(2, 2, 2, generator=gen, dtype=dtype)]
    target = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in params]

    def loss(ps):
        return sum(((p - t) ** 2 * (1 + i)).sum() + (p ** 4).sum() * 0.1 for i, (p, t) in enumerate(zip(ps, target)))

    return params, loss


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_torch_optim_adam_step_for_step(dtype):
    start, loss = problem(dtype)
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    adam = Adam(ours, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    reference = torch.optim.Adam(theirs, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for step in range(1, 41):
        if step == 25:  # a learning-rate change between steps, as fit's lr decay makes
            adam.lr = 0.01
            reference.param_groups[0]["lr"] = 0.01
        adam.step(torch.autograd.grad(loss(ours), ours))
        reference.zero_grad()
        loss(theirs).backward()
        reference.step()
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        for a, b in zip(ours, theirs):
            assert torch.allclose(a, b, rtol=tol, atol=tol), f"step {step}"
    assert adam.step_count == 40
    assert not torch.equal(ours[0], start[0])


def test_tiny_moments_are_flushed_before_they_become_denormal():
    param = torch.zeros(4, requires_grad=True)
    adam = Adam([param], lr=1e-3)
    adam.exp_avg[0].copy_(torch.tensor([1e-31, -1e-31, 1e-3, 0.0]))
    adam.exp_avg_sq[0].copy_(torch.tensor([1e-31, 1e-3, 1e-31, 0.0]))
    zero = torch.zeros(4)
    for _ in range(FLUSH_EVERY - 1):
        adam.step([zero])
    # Zero gradients only decay the moments (by beta1 and beta2 each step); nothing is flushed yet ...
    assert (adam.exp_avg[0][:2].abs() > 0).all() and adam.exp_avg_sq[0][0] > 0
    adam.step([zero])
    # ... and at the flush step everything below TINY is exactly 0, the rest untouched.
    assert TINY > 1e-31
    assert torch.equal(adam.exp_avg[0][[0, 1, 3]], torch.zeros(3)) and adam.exp_avg[0][2] > 1e-7
    assert adam.exp_avg_sq[0][0] == 0 and adam.exp_avg_sq[0][1] > 1e-5 and adam.exp_avg_sq[0][2] == 0


def test_refuses_what_one_kernel_call_cannot_update():
    with pytest.raises(ValueError, match="at least one parameter"):
        Adam([])
    with pytest.raises(ValueError, match="share device and dtype"):
        Adam([torch.zeros(2, requires_grad=True), torch.zeros(2, dtype=torch.float64, requires_grad=True)])
    adam = Adam([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="expected 1 gradients, got 2"):
        adam.step([torch.zeros(2), torch.zeros(2)])
