"""Every ELBO term's one home, plus the one importance-weighted estimator.

Units: all terms are in nats per image: summed over the pixels of an image, then averaged over the batch
(reduction "mean") or left per image (reduction "none").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)
SCALAR_TERMS = ("objective", "neg_elbo", "recon", "kl", "regularizer")  # the order of LossTerms.scalars()
IW_CHUNK = 500  # importance samples drawn and decoded per chunk: memory stays flat for K in the thousands

Reduction = Literal["mean", "none"]  # batch means (0-d terms) or one value per image ((B,) terms)
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


@dataclass(frozen=True)
class LossTerms:
    """The terms of one objective evaluation in nats per image: batch means (0-d tensors) with reduction "mean",
    one value per image (leading dimension B) with reduction "none"."""

    recon: Tensor  # E_q[-log p(x|z)] for VAEs; -log p(x|x_hat) (BCE or Gaussian NLL) for AEs
    kl: Tensor  # KL(q(z|x) || p(z)); zero for autoencoders
    kl_per_dim: Tensor  # (latent_dim,), or (B, latent_dim) per image; sums over its last dimension to kl
    beta: float  # weight on kl in the objective
    # sparsity or contractive penalty of the AE family; the β-TCVAE's extra (β - 1) * total_correlation; zero for
    # the plain VAE
    regularizer: Tensor
    objective: Tensor  # recon + beta * kl + regularizer: what training minimises
    # Reduction "none" only: -log p(x|z_s) for each draw z_s ~ q(z|x) and image, (n_samples, B), whose mean over
    # the draws is recon (one row for the deterministic families); the spread of a Monte Carlo recon comes from it.
    recon_draws: Tensor | None = None
    # The β-TCVAE only (Chen et al. 2018): kl split into index-code mutual information, total correlation and
    # dimension-wise KL, each estimated with the minibatch-weighted sampling of tc_decomposition; None otherwise.
    tc: TCDecomposition | None = None

    @property
    def neg_elbo(self) -> Tensor:
        """-ELBO = recon + KL (beta = 1), an upper bound on -log p(x) for VAEs."""
        return self.recon + self.kl

    def scalars(self) -> Tensor:
        """The scalar terms as one detached vector, in SCALAR_TERMS order (cheap to accumulate over batches)."""
        return torch.stack([getattr(self, name) for name in SCALAR_TERMS]).detach()


@dataclass(frozen=True)
class TCDecomposition:
    """E_q[log q(z|x) - log p(z)] = index-code MI + total correlation + dimension-wise KL (Chen et al. 2018, eq. 2),
    in nats per image, batch means or per image as the LossTerms that holds it. The three sum exactly to the Monte
    Carlo estimate of the KL from the same draws (the log q(z) and log prod_d q(z_d) terms cancel)."""

    index_code_mi: Tensor  # E[log q(z|x) - log q(z)]
    total_correlation: Tensor  # E[log q(z) - sum_d log q(z_d)]
    dimwise_kl: Tensor  # E[sum_d log q(z_d) - log p(z_d)]


def mws_log_densities(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int) -> tuple[Tensor, Tensor]:
    """Minibatch-weighted-sampling estimates (Chen et al. 2018, section 4.1) of log q(z) and sum_d log q(z_d) at
    each draw z (S, M, D), the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) stood in for by the batch's M
    posteriors N(mean, exp(logvar)), (M, D):

        log q(z_i) ~= log (1 / (N M)) sum_j q(z_i | x_j),  and the same per dimension for log q(z_i,d).

    Returns two (S, M) tensors. N (dataset_size) only shifts them by constants: -log(NM) and -D log(NM).
    """
    if dataset_size < 1:
        raise ValueError(f"dataset_size must be at least 1, got {dataset_size}")
    batch = mean.shape[0]
    assert z.dim() == 3 and z.shape[1:] == mean.shape, f"expected draws (S, {batch}, D), got {tuple(z.shape)}"
    # log q(z_i,d | x_j) for every draw i and posterior j: (S, M_i, M_j, D)
    per_dim = -0.5 * (LOG_2PI + logvar + (z.unsqueeze(2) - mean).pow(2) / logvar.exp())
    log_nm = math.log(dataset_size * batch)
    log_qz = torch.logsumexp(per_dim.sum(-1), dim=2) - log_nm
    log_prod_marginals = (torch.logsumexp(per_dim, dim=2) - log_nm).sum(-1)
    return log_qz, log_prod_marginals


def tc_decomposition(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int) -> TCDecomposition:
    """The three KL parts per image, (M,), each averaged over the S draws z (S, M, D) of q(z|x)."""
    log_qz, log_prod = mws_log_densities(z, mean, logvar, dataset_size)
    log_qz_x = log_normal(z, mean, logvar)  # (S, M)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    return TCDecomposition(
        index_code_mi=(log_qz_x - log_qz).mean(0),
        total_correlation=(log_qz - log_prod).mean(0),
        dimwise_kl=(log_prod - log_pz).mean(0),
    )


def tcvae_terms(
    recon: Tensor,
    z: Tensor,
    mean: Tensor,
    logvar: Tensor,
    beta: float,
    dataset_size: int,
    reduction: Reduction = "mean",
) -> LossTerms:
    """The β-TCVAE's terms (Chen et al. 2018, eq. 4 with alpha = gamma = 1): recon + MI + beta * TC + dim-KL.

    MI + TC + dim-KL is the KL, so the objective is recon + KL + (beta - 1) * TC: the KL in closed form (as the
    VAE's, lower variance than its Monte Carlo estimate, the same expectation) and the extra weight on the total
    correlation as the regularizer. recon as elbo_terms takes it; z: the draws (S, B, D) the reconstruction used.
    """
    base = elbo_terms(recon, mean, logvar, 1.0, reduction)
    parts = tc_decomposition(z, mean, logvar, dataset_size)
    if reduction == "mean":
        parts = TCDecomposition(
            *(part.mean() for part in (parts.index_code_mi, parts.total_correlation, parts.dimwise_kl))
        )
    regularizer = (beta - 1.0) * parts.total_correlation
    return LossTerms(
        recon=base.recon,
        kl=base.kl,
        kl_per_dim=base.kl_per_dim,
        beta=1.0,
        regularizer=regularizer,
        objective=base.objective + regularizer,
        recon_draws=base.recon_draws,
        tc=parts,
    )


def gaussian_kl_per_dim(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent dimension, shape (B, D).

    Closed form from Kingma & Welling (2014), Appendix B.
    """
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


class BatchMeanGaussianKL(torch.autograd.Function):
    """gaussian_kl_per_dim(mean, logvar).mean(0), shape (D,), with its derivative written out: d/d mean = mean and
    d/d logvar = (exp(logvar) - 1) / 2 per image, over B. One autograd node where the formula and the mean record
    seven (the training step's fast path, elbo_terms with reduction "mean"). Once differentiable.
    """

    @staticmethod
    def forward(ctx, mean: Tensor, logvar: Tensor) -> Tensor:
        ctx.save_for_backward(mean, logvar)
        return gaussian_kl_per_dim(mean, logvar).mean(0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = ctx.saved_tensors
        per_image = grad / mean.shape[0]
        return mean * per_image, logvar.exp().sub_(1.0).mul_(0.5 * per_image)


class BernoulliNLL(torch.autograd.Function):
    """-log Bernoulli(x; sigmoid(logits)) per pixel, for any logit and any target x in [0, 1].

    max(l, 0) - x*l + log(1 + e^-|l|): the formula of F.binary_cross_entropy_with_logits, whose CPU kernel
    calls the scalar (not vectorised) log1p, which made it the slowest op of a training step after the matmuls
    (benchmarks/train_speed.py --choices). log(1 + e^-|l|) is taken as -log(sigmoid(|l|)), two vectorised passes
    where exp, add and log are three; like log(1 + e) in place of log1p(e) it loses a little where e^-|l| is tiny
    and rounds away: under 1e-6 nats per pixel (tests/engine/test_losses.py), so under 1e-3 per MNIST image and
    about 1e-4 on average, far below any digit a page shows. The backward is the textbook (sigmoid(l) - x) * grad,
    in differentiable ops, so double backward works too.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor) -> Tensor:
        ctx.save_for_backward(logits, target)
        # In place on fresh temporaries: each pass over the batch's pixels is one elementwise kernel (six in all).
        log_sigmoid_abs = logits.abs().sigmoid_().log_()  # -log(1 + e^-|l|)
        return logits.clamp_min(0).addcmul_(target, logits, value=-1.0).sub_(log_sigmoid_abs)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        logits, target = ctx.saved_tensors
        grad_logits = (torch.sigmoid(logits) - target) * grad if ctx.needs_input_grad[0] else None
        grad_target = -logits * grad if ctx.needs_input_grad[1] else None
        return grad_logits, grad_target


# sigmoid(|l|) lies in [0.5, 1], so a product of LOG_PRODUCT_CHUNK of them stays above 0.5 ** 64 ~ 5e-20, far from
# float32's smallest normal number (1e-38): one log per chunk gives the chunk's sum of logs.
LOG_PRODUCT_CHUNK = 64


def sum_of_logs_at_least_half(values: Tensor) -> Tensor:
    """sum(log(values)) for values in [0.5, 1] (0-d), one log per LOG_PRODUCT_CHUNK values: the log of their product.

    torch's CPU log is the costliest elementwise kernel of a training step (~5x a sigmoid, benchmarks/train_speed.py
    --choices); the products cost one pass. Each product rounds 63 times, about 4e-6 relative in float32, so the sum
    moves by under 1e-5 nats per 64 pixels (tests/engine/test_losses.py).
    """
    flat = values.reshape(-1)
    whole = len(flat) - len(flat) % LOG_PRODUCT_CHUNK
    chunks = flat[:whole].view(-1, LOG_PRODUCT_CHUNK).prod(1).log_().sum()
    return chunks + flat[whole:].log().sum()


class BernoulliNLLSum(torch.autograd.Function):
    """-log Bernoulli(x; sigmoid(logits)) summed over every pixel (0-d): the training step's reconstruction term.

    The same formula as BernoulliNLL, max(l, 0) - x*l + log(1 + e^-|l|), with sigmoid(|l|) = max(p, 1 - p) taken
    from p = sigmoid(l), so the forward pass also yields the gradient p - x that the backward pass only scales
    (BernoulliNLL's backward takes the sigmoid again), and the logs summed by sum_of_logs_at_least_half. Once
    differentiable: double backward (which BernoulliNLL offers) raises here.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor) -> Tensor:
        probability = torch.sigmoid(logits)
        ctx.save_for_backward(probability - target, logits)
        sigmoid_abs = torch.maximum(probability, torch.rsub(probability, 1.0))  # sigmoid(|l|)
        linear_part = logits.clamp_min(0).addcmul_(target, logits, value=-1.0).sum()
        return linear_part - sum_of_logs_at_least_half(sigmoid_abs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        grad_per_logit, logits = ctx.saved_tensors
        grad_logits = grad_per_logit * grad if ctx.needs_input_grad[0] else None
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

    Summing everything at once (BernoulliNLLSum) instead of per image and then averaging saves several passes over
    the batch's pixels in the forward and the backward pass (part of benchmarks/train_speed.py's figure). Once
    differentiable in the Bernoulli case: a second derivative goes through reconstruction_nll.
    """
    if likelihood == "bernoulli":
        return BernoulliNLLSum.apply(*torch.broadcast_tensors(x_params, x)) / x.shape[0]
    # The Gaussian decoder is not on the benchmarked path: its formula keeps one home, reconstruction_nll.
    return reconstruction_nll(x_params, x, likelihood, gaussian_sigma).mean()


def check_reduction(reduction: str) -> None:
    """Refuse a reduction other than "mean" and "none" before anything is computed."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}")


def reduce_images(values: Tensor, reduction: Reduction) -> Tensor:
    """Per-image values (B,) as the reduction asks: their batch mean (0-d) or themselves."""
    return values.mean() if reduction == "mean" else values


def monte_carlo_reconstruction(
    x_params: Tensor, x: Tensor, likelihood: str, gaussian_sigma: float, n_samples: int, reduction: Reduction
) -> Tensor:
    """E_q[-log p(x|z)] by Monte Carlo, from the decoder's output for n_samples draws of each of the B images
    (x_params and x shaped (n_samples * B, ...), draw-major as z.flatten(0, 1) gives them).

    "mean": one 0-d tensor, the mean over draws and images in one reduction (the training step's fast path);
    "none": each draw's NLL per image, shaped (n_samples, B), for elbo_terms to average over the draws.
    """
    if reduction == "mean":
        return mean_reconstruction_nll(x_params, x, likelihood, gaussian_sigma)
    return reconstruction_nll(x_params, x, likelihood, gaussian_sigma).view(n_samples, -1)


def elbo_terms(recon: Tensor, mean: Tensor, logvar: Tensor, beta: float, reduction: Reduction = "mean") -> LossTerms:
    """Combine a reconstruction NLL and a diagonal-Gaussian posterior into the VAE's terms.

    recon: with reduction "mean", the NLLs per image (B,) or already their mean (0-d); with "none", each draw's NLL
    per image (n_samples, B), as monte_carlo_reconstruction gives them. KL in closed form (gaussian_kl_per_dim).
    """
    check_reduction(reduction)
    if reduction == "mean":
        kl_per_dim = BatchMeanGaussianKL.apply(mean, logvar)
        recon = recon.mean() if recon.dim() else recon  # a 0-d mean would only add an autograd node
        kl = kl_per_dim.sum()
        zero = recon.new_zeros(())
        return LossTerms(
            recon=recon,
            kl=kl,
            kl_per_dim=kl_per_dim,
            beta=float(beta),
            regularizer=zero,
            objective=torch.add(recon, kl, alpha=beta),  # recon + beta * kl in one op
        )
    assert recon.dim() == 2 and recon.shape[1] == mean.shape[0], f"expected (n_samples, B) NLLs, got {recon.shape}"
    kl_per_dim = gaussian_kl_per_dim(mean, logvar)
    kl = kl_per_dim.sum(1)
    per_image = recon.mean(0)
    return LossTerms(
        recon=per_image,
        kl=kl,
        kl_per_dim=kl_per_dim,
        beta=float(beta),
        regularizer=torch.zeros_like(per_image),
        objective=per_image + beta * kl,
        recon_draws=recon,
    )


def autoencoder_terms(
    recon: Tensor, latent_dim: int, regularizer: Tensor | None = None, reduction: Reduction = "mean"
) -> LossTerms:
    """The AE family's terms: a reconstruction NLL plus an optional penalty; no KL.

    "mean": recon per image (B,) or their mean (0-d), regularizer 0-d; "none": both per image (B,).
    """
    check_reduction(reduction)
    if reduction == "mean":
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
    reg = torch.zeros_like(recon) if regularizer is None else regularizer
    return LossTerms(
        recon=recon,
        kl=torch.zeros_like(recon),
        kl_per_dim=recon.new_zeros(recon.shape[0], latent_dim),
        beta=0.0,
        regularizer=reg,
        objective=recon + reg,
        recon_draws=recon.unsqueeze(0),
    )


def log_normal(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / logvar.exp()).sum(-1)


def log_mean_exp(values: Tensor, dim: int) -> Tensor:
    """log(mean(exp(values))) along dim without overflow."""
    return torch.logsumexp(values, dim) - math.log(values.shape[dim])


def iw_log_weights(
    x: Tensor,
    mean: Tensor,
    logvar: Tensor,
    decode_params: Callable[[Tensor], Tensor],
    likelihood: str,
    gaussian_sigma: float,
    *,
    k: int,
    generator: torch.Generator | None = None,
    chunk_size: int = IW_CHUNK,
) -> Tensor:
    """The K log importance weights of each image, shaped (K, B), in nats (Burda et al. 2015, eq. 8):

        log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x),  z_k ~ q(z|x) = N(mean, diag(exp(logvar))),

    p(z) = N(0, I). iw_log_likelihood reduces them to IW_K; their first K' rows give IW_K' for every K' <= K.
    decode_params maps codes (n * B, D), the B images repeated n times, to the decoder's output.
    The noise is drawn chunk_size draws at a time, one randn((n, B, D)) per chunk, so memory stays flat for K in
    the thousands; the draws therefore depend on chunk_size (chunk_size >= k draws them all in one go).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    batch, latent_dim = mean.shape
    std = (0.5 * logvar).exp()
    log_weights = []  # (n, B) per chunk
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
    return torch.cat(log_weights)


def iw_log_likelihood(log_weights: Tensor) -> Tensor:
    """IW_K = log (1/K) sum_k w_k per image, (B,) in nats, from the (K, B) log weights of iw_log_weights.

    A lower bound on log p(x) that tightens as K grows (Burda et al. 2015); K = 1 is the ELBO's estimate.
    """
    return log_mean_exp(log_weights, dim=0)
