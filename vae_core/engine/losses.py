"""Every ELBO term's one home, plus the importance-weighted bound.

Units: all terms are in nats per image: summed over the pixels of an image, averaged over the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)
SCALAR_TERMS = ("objective", "neg_elbo", "recon", "kl", "regularizer")  # the order of LossTerms.scalars()


@dataclass(frozen=True)
class LossTerms:
    """The terms of one objective evaluation, each in nats per image (batch mean)."""

    recon: Tensor  # E_q[-log p(x|z)] for VAEs; -log p(x|x_hat) (BCE or Gaussian NLL) for AEs
    kl: Tensor  # KL(q(z|x) || p(z)); zero for autoencoders
    kl_per_dim: Tensor  # (latent_dim,), sums to kl
    beta: float  # weight on kl in the objective
    regularizer: Tensor  # sparsity or contractive penalty of the AE family; zero for VAEs
    objective: Tensor  # recon + beta * kl + regularizer: what training minimises

    @property
    def neg_elbo(self) -> Tensor:
        """-ELBO = recon + KL (beta = 1), an upper bound on -log p(x) for VAEs."""
        return self.recon + self.kl

    def scalars(self) -> Tensor:
        """The scalar terms as one detached vector, in SCALAR_TERMS order (cheap to accumulate over batches)."""
        return torch.stack([getattr(self, name) for name in SCALAR_TERMS]).detach()


def gaussian_kl_per_dim(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent dimension, shape (B, D).

    Closed form from Kingma & Welling (2014), Appendix B.
    """
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


class BernoulliNLL(torch.autograd.Function):
    """-log Bernoulli(x; sigmoid(logits)) per pixel, for any logit and any target x in [0, 1].

    max(l, 0) - x*l + log(1 + e^-|l|): the formula of F.binary_cross_entropy_with_logits, whose CPU kernel
    calls the scalar (not vectorised) log1p, which made it the slowest op of a training step after the matmuls
    (benchmarks/train_speed.py --choices). log(1 + e) in place of log1p(e) loses a little where e is tiny and
    1 + e rounds: under 1e-6 nats per pixel (tests/engine/test_losses.py), so under 1e-3 per MNIST image and about
    1e-4 on average, far below any digit a page shows. The backward is the textbook (sigmoid(l) - x) * grad, in
    differentiable ops, so double backward works too.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor) -> Tensor:
        ctx.save_for_backward(logits, target)
        # In place on one fresh temporary: each pass over the batch's pixels is one elementwise kernel.
        softplus_rest = logits.abs().neg_().exp_().add_(1.0).log_()  # log(1 + e^-|l|)
        return softplus_rest.add_(logits.clamp_min(0)).sub_(logits * target)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        logits, target = ctx.saved_tensors
        grad_logits = (torch.sigmoid(logits) - target) * grad if ctx.needs_input_grad[0] else None
        grad_target = -logits * grad if ctx.needs_input_grad[1] else None
        return grad_logits, grad_target


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(target | logits) per pixel under a Bernoulli decoder; logits and target broadcast together."""
    logits, target = torch.broadcast_tensors(logits, target)
    return BernoulliNLL.apply(logits, target)


def reconstruction_nll(x_params: Tensor, x: Tensor, likelihood: str, gaussian_sigma: float) -> Tensor:
    """-log p(x | decoder output) per image, shape (B,), summed over pixels.

    bernoulli: x_params are logits and the BCE is taken from them, which stays finite for any logit.
    gaussian: x_params are means and sigma is fixed, so the NLL is a scaled squared error plus a constant.
    """
    if likelihood == "bernoulli":
        per_pixel = bernoulli_nll(x_params, x)
    elif likelihood == "gaussian":
        per_pixel = 0.5 * ((x - x_params) / gaussian_sigma).pow(2) + 0.5 * LOG_2PI + math.log(gaussian_sigma)
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    return per_pixel.flatten(1).sum(1)


def mean_reconstruction_nll(x_params: Tensor, x: Tensor, likelihood: str, gaussian_sigma: float) -> Tensor:
    """reconstruction_nll(...).mean(), for the Bernoulli decoder in one reduction over the whole batch.

    Summing everything at once instead of per image and then averaging saves several passes over the
    batch's pixels in the forward and the backward pass (part of benchmarks/train_speed.py's figure).
    """
    if likelihood == "bernoulli":
        return bernoulli_nll(x_params, x).sum() / x.shape[0]
    # The Gaussian decoder is not on the benchmarked path: its formula keeps one home, reconstruction_nll.
    return reconstruction_nll(x_params, x, likelihood, gaussian_sigma).mean()


def elbo_terms(recon: Tensor, mean: Tensor, logvar: Tensor, beta: float) -> LossTerms:
    """Combine a reconstruction NLL, per image (B,) or already their mean (a 0-d tensor), and a
    diagonal-Gaussian posterior into the VAE's terms."""
    kl_per_dim = gaussian_kl_per_dim(mean, logvar).mean(0)
    recon = recon.mean()
    kl = kl_per_dim.sum()
    zero = recon.new_zeros(())
    return LossTerms(
        recon=recon, kl=kl, kl_per_dim=kl_per_dim, beta=float(beta), regularizer=zero, objective=recon + beta * kl
    )


def autoencoder_terms(recon: Tensor, latent_dim: int, regularizer: Tensor | None = None) -> LossTerms:
    """The AE family's terms: a reconstruction NLL, per image (B,) or their mean (0-d), plus an optional
    penalty; no KL."""
    recon = recon.mean()
    reg = recon.new_zeros(()) if regularizer is None else regularizer
    return LossTerms(
        recon=recon,
        kl=recon.new_zeros(()),
        kl_per_dim=recon.new_zeros(latent_dim),
        beta=0.0,
        regularizer=reg,
        objective=recon + reg,
    )


def log_normal(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / logvar.exp()).sum(-1)


def log_mean_exp(values: Tensor, dim: int) -> Tensor:
    """log(mean(exp(values))) along dim without overflow."""
    return torch.logsumexp(values, dim) - math.log(values.shape[dim])


def iw_log_likelihood(
    x: Tensor,
    mean: Tensor,
    logvar: Tensor,
    decode_params: Callable[[Tensor], Tensor],
    likelihood: str,
    gaussian_sigma: float,
    k: int,
    chunk_size: int = 500,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Importance-weighted lower bound IW_K <= log p(x), per image, shape (B,) in nats (Burda et al. 2015).

    IW_K = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x). K = 1 is the ELBO; the bound rises
    with K. The K samples are drawn chunk_size at a time so memory stays flat for K in the thousands.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    batch, latent_dim = mean.shape
    std = (0.5 * logvar).exp()
    log_weights = []  # (n, B) per chunk: log p(x|z_k) + log p(z_k) - log q(z_k|x)
    for start in range(0, k, chunk_size):
        n = min(chunk_size, k - start)
        eps = torch.randn((n, batch, latent_dim), generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + std * eps  # (n, B, D)
        x_params = decode_params(z.reshape(n * batch, latent_dim))
        x_rep = x.unsqueeze(0).expand(n, *x.shape).reshape(n * batch, *x.shape[1:])
        log_px_z = -reconstruction_nll(x_params, x_rep, likelihood, gaussian_sigma).view(n, batch)
        log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = log_normal(z, mean, logvar)
        log_weights.append(log_px_z + log_pz - log_qz)
    return log_mean_exp(torch.cat(log_weights), dim=0)
