"""Adam for the training loop: torch.optim.Adam(fused=True)'s arithmetic, without its per-step bookkeeping.

torch.optim.Adam's step spends a fixed ~0.2-0.3 ms in Python (parameter groups, state dicts, profiler hooks,
grouping tensors by device) before it reaches the one fused kernel that does the update. For the 784-400-20
VAE that is 4-7% of a whole training step on two CPU cores, so fit() calls the same kernel directly and hands
it the gradients that torch.autograd.grad returned. tests/test_optim.py checks it step for step against
torch.optim.Adam.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


# Adam's running averages of parameters whose gradient is zero for many steps in a row (the weights of
# pixels that are almost always blank) decay geometrically until they become denormal floats, and x86 CPUs
# handle denormals with microcode assists: after 3 MNIST epochs 83k of them made a whole training step 40%
# slower (7.7 vs 5.5 ms). Every FLUSH_EVERY steps, averages below TINY are set to 0. From TINY the first
# moment needs ~170 steps at beta1 = 0.9 to reach the denormal range, so none ever gets there, and the update
# changes by at most lr * TINY / eps = 1e-25, far below float32 resolution.
FLUSH_EVERY = 50
TINY = 1e-30


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction, no weight decay; `lr` may be changed between steps."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("Adam needs at least one parameter")
        if len({(p.device, p.dtype) for p in self.params}) > 1:
            raise ValueError("Adam updates all parameters in one kernel call: they must share device and dtype")
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        with torch.no_grad():
            self.exp_avg = [torch.zeros_like(p) for p in self.params]
            self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.step_count = 0
        # The kernel wants one step tensor per parameter; they always step together, so all are one tensor
        # (torch.optim keeps one each and increments them one by one: ~25 us per parameter on a CPU).
        self._step = torch.zeros((), dtype=torch.float32, device=self.params[0].device)

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor]) -> None:
        """Update every parameter in place from its gradient (same order as the parameters)."""
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradients, got {len(grads)}")
        self.step_count += 1
        self._step.fill_(self.step_count)
        torch._fused_adam_(self.params, list(grads), self.exp_avg, self.exp_avg_sq, [], [self._step] * len(grads),
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0, eps=self.eps,
                           amsgrad=False, maximize=False)
        if self.step_count % FLUSH_EVERY == 0:
            for state in (*self.exp_avg, *self.exp_avg_sq):
                state.masked_fill_(state.abs() < TINY, 0.0)
