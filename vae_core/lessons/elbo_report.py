"""The ELBO page's numbers for one image, computed from a model (no Streamlit; shared by the page and its tests).

Everything random is seeded with a generator of its own, so a number can be recomputed exactly from the model,
the input and the seed: `model.loss(x, beta=beta, n_samples=n, generator=Generator().manual_seed(seed),
reduction="none")` gives the reconstruction and KL terms and each draw's reconstruction NLL; `iw_draws` the K
importance weights of one seed (model.iw_log_weights), from which IW_K for every K up to that size is read off
(nested: IW_K uses the first K draws). Units: nats per image.

Monte Carlo numbers come with their noise (the standard error of the reconstruction term, the spread of the IW
estimate over seeds), and `format_noisy` prints a number only to the digits that noise supports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import torch
from torch import Tensor

from vae_core.engine.data import binarization_spread
from vae_core.engine.losses import iw_log_likelihood
from vae_core.engine.models import LatentModel
from vae_core.engine.models.vae import VAE
from vae_core.engine.protocol import DataProtocol, protocol_of
from vae_core.engine.registry import ModelEntry, counterpart

RECON_SAMPLES = 64  # draws z ~ q(z|x) averaged in the reconstruction term: one draw is too noisy to read
IW_CHOICES = (1, 5, 10, 50, 100, 500, 1000, 5000)  # K for the importance-weighted bound
IW_DEFAULT_K = 1000
IW_SEEDS = 5  # independent draws of the IW estimate whose spread is shown (seeds seed, seed + 1, ...)
BINARIZATION_SEEDS = 10  # binarisations of one grey image averaged when the page shows the spread over them
MOST_DECIMALS = 2  # exact numbers (the closed-form KL) are printed to this many decimals
BETA_CHOICES = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
POSTERIOR_SAMPLES = 8


@dataclass(frozen=True)
class ElboBreakdown:
    """The VAE objective's terms for one image (nats)."""

    recon: float  # E_q[-log p(x|z)], Monte Carlo over n_samples draws
    kl: float  # KL(q(z|x) || p(z)), closed form
    kl_per_dim: np.ndarray  # (D,), sums to kl
    posterior_mean: np.ndarray  # (D,) mu(x)
    posterior_std: np.ndarray  # (D,) sigma(x)
    beta: float  # weight on the KL in the objective
    n_samples: int
    seed: int
    recon_stderr: float = 0.0  # standard error of recon over its n_samples draws (the noise of recon and -ELBO)
    recon_at_mean: float = math.nan  # -log p(x | z = mu(x)): the decoder at the posterior mean, no sampling

    @property
    def beta_kl(self) -> float:
        return self.beta * self.kl

    @property
    def objective(self) -> float:
        """recon + beta * KL: what a model trained at this beta minimises."""
        return self.recon + self.beta * self.kl

    @property
    def neg_elbo(self) -> float:
        """recon + KL (beta = 1): an upper bound on -log p(x)."""
        return self.recon + self.kl

    def with_beta(self, beta: float) -> ElboBreakdown:
        """The same terms weighed with another beta (the posterior is that of the trained model)."""
        return replace(self, beta=float(beta))

    def objective_at(self, betas: np.ndarray | list[float]) -> np.ndarray:
        """recon + beta * KL for each beta, with this posterior (the model is not retrained)."""
        return self.recon + np.asarray(betas, dtype=np.float64) * self.kl


@dataclass(frozen=True)
class AeBreakdown:
    """What an autoencoder can say about the same image: only how well it rebuilds it."""

    recon: float  # -log p(x | x_hat) in nats, with the AE's likelihood (no expectation: the code is fixed)
    regularizer: float  # the AE family's penalty (0 for a plain AE)
    mse: float  # mean squared error per pixel of the reconstruction
    reconstruction: np.ndarray  # (H, W) in [0, 1]
    likelihood: str


def as_batch(image: np.ndarray | Tensor, model: LatentModel) -> Tensor:
    """One image (H, W) or (C, H, W) in [0, 1] as the (1, C, H, W) float32 batch the model expects."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    shape = tuple(model.config.input_shape)
    assert x.numel() == int(np.prod(shape)), f"image of {tuple(x.shape)} does not fit input shape {shape}"
    return x.reshape(1, *shape).to(_device(model))


def elbo_breakdown(
    model: LatentModel, x: Tensor, *, beta: float, seed: int, n_samples: int = RECON_SAMPLES
) -> ElboBreakdown:
    """The terms of model.loss for a batch of one image, with n_samples seeded draws from q(z|x)."""
    _require_vae(model)
    assert x.shape[0] == 1, "one image at a time"
    with torch.no_grad():
        terms = model.loss(x, beta=beta, n_samples=n_samples, generator=_generator(model, seed), reduction="none")
        mean, logvar = model.encode(x)
        at_mean = model.reconstruction_nll(model.decode_params(mean), x)
    assert logvar is not None and terms.recon_draws is not None  # a VAE's encoding has one; reduction "none"
    per_draw = terms.recon_draws[:, 0]  # the NLL of each draw, for the standard error of their mean
    stderr = float(per_draw.double().std() / math.sqrt(n_samples)) if n_samples > 1 else math.inf
    return ElboBreakdown(
        recon=float(terms.recon[0]),
        kl=float(terms.kl[0]),
        kl_per_dim=terms.kl_per_dim[0].cpu().numpy().astype(np.float64),
        posterior_mean=mean[0].cpu().numpy().astype(np.float64),
        posterior_std=(0.5 * logvar[0]).exp().cpu().numpy().astype(np.float64),
        beta=float(beta),
        n_samples=n_samples,
        seed=seed,
        recon_stderr=stderr,
        recon_at_mean=float(at_mean[0]),
    )


def iw_nll(model: LatentModel, x: Tensor, *, k: int, seed: int) -> float:
    """-IW_K from model.iw_log_weights: one draw of the importance-weighted estimate of -log p(x), in nats.

    Its *expectation* is an upper bound on -log p(x) that tightens as K grows; one draw need not be below
    the draw for a smaller K (see iw_curve for the spread over seeds).
    """
    _require_vae(model)
    with torch.no_grad():
        return -float(iw_log_likelihood(model.iw_log_weights(x, k=k, generator=_generator(model, seed)))[0])


def iw_draws(model: LatentModel, x: Tensor, *, k: int, seed: int) -> np.ndarray:
    """The k log importance weights log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q(z|x), of one image (k,).

    model.iw_log_weights with all k draws in one chunk, so the noise is one randn((k, 1, D)) from a generator
    seeded with seed (Burda et al. 2015, eq. 8); iw_nll_from(w[:K]) is then that seed's K-sample estimate for every
    K <= k (nested: one seed's estimates for growing K share their first draws, as one student adding samples would
    see them).
    """
    _require_vae(model)
    assert x.shape[0] == 1, "one image at a time"
    with torch.no_grad():
        log_weights = model.iw_log_weights(x, k=k, generator=_generator(model, seed), chunk_size=k)
    return log_weights[:, 0].double().cpu().numpy()


def iw_nll_from(log_weights: np.ndarray) -> float:
    """-IW_K = -log (1/K) sum_k w_k from one image's K log weights (K,), in nats."""
    return -float(iw_log_likelihood(torch.from_numpy(np.asarray(log_weights, dtype=np.float64))))


@dataclass(frozen=True)
class IwCurve:
    """-IW_K for several K and several seeds of one image: the estimate's mean and spread against K (nats)."""

    ks: tuple[int, ...]
    seeds: tuple[int, ...]
    iw_nll: np.ndarray  # (len(seeds), len(ks)); row s: the nested estimates of seed s (first K of its draws)

    @property
    def mean(self) -> np.ndarray:
        return self.iw_nll.mean(axis=0)

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation over seeds of one K-sample estimate (ddof = 1; 0 with one seed)."""
        return self.iw_nll.std(axis=0, ddof=1) if len(self.seeds) > 1 else np.zeros(len(self.ks))

    def at(self, k: int) -> tuple[float, float]:
        """(mean over seeds, standard deviation over seeds) of -IW_K."""
        i = self.ks.index(k)
        return float(self.mean[i]), float(self.spread[i])


def iw_seeds(seed: int, n: int = IW_SEEDS) -> tuple[int, ...]:
    """The seeds whose estimates are averaged: seed, seed + 1, ..., seed + n - 1."""
    return tuple(range(int(seed), int(seed) + n))


def iw_curve_from_rows(ks: Sequence[int], seeds: Sequence[int], rows: Sequence[np.ndarray]) -> IwCurve:
    """The curve from each seed's log weights (at least max(ks) of them)."""
    ks = tuple(int(k) for k in ks)
    table = np.array([[iw_nll_from(row[:k]) for k in ks] for row in rows], dtype=np.float64)
    return IwCurve(ks=ks, seeds=tuple(int(s) for s in seeds), iw_nll=table)


def iw_curve(
    model: LatentModel,
    x: Tensor,
    *,
    ks: Sequence[int],
    seeds: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
) -> IwCurve:
    """-IW_K for each K in ks and each seed; progress(done, total) is called after each seed."""
    rows = []
    for done, seed in enumerate(seeds, start=1):
        rows.append(iw_draws(model, x, k=max(ks), seed=seed))
        if progress is not None:
            progress(done, len(seeds))
    return iw_curve_from_rows(ks, seeds, rows)


def binarized_neg_elbo_spread(
    model: LatentModel, grey: Tensor, *, seeds: Sequence[int], draw_seed: int, n_samples: int = RECON_SAMPLES
) -> tuple[float, float]:
    """(mean, sd) of -ELBO over binarisations of one grey image (seeds), with the same draws for each."""
    return binarization_spread(
        lambda binary: elbo_breakdown(model, binary, beta=1.0, seed=draw_seed, n_samples=n_samples).neg_elbo,
        grey,
        seeds,
    )


def decimals_for(noise: float, most: int = MOST_DECIMALS) -> int:
    """Decimals that a number with this Monte Carlo noise (a standard deviation) supports: those of its first
    significant digit (noise 0.3 -> 1, 0.04 -> 2, 3 -> 0); `most` for an exact number (noise 0)."""
    if not math.isfinite(noise):
        return 0
    if noise <= 0:
        return most
    return int(min(most, max(0, -math.floor(math.log10(noise)))))


def format_noisy(value: float, noise: float, most: int = MOST_DECIMALS) -> str:
    """value printed to the digits its noise supports, with the typographic minus."""
    return f"{value:.{decimals_for(noise, most)}f}".replace("-", "−")


def format_with_error(value: float, noise: float, most: int = MOST_DECIMALS) -> str:
    """A Monte Carlo figure with its standard error, "0.4 ± 0.2": the error to its first significant digit,
    the value to the same decimals (format_noisy's); an exact number (noise 0) alone."""
    if not noise > 0 or not math.isfinite(noise):
        return format_noisy(value, noise, most)
    decimals = decimals_for(noise, most)
    return f"{format_noisy(value, noise, most)} ± {noise:.{decimals}f}"


def posterior_samples(model: LatentModel, x: Tensor, *, n: int, seed: int) -> np.ndarray:
    """n images decoded from seeded draws z ~ q(z|x), shape (n, H, W) (first channel)."""
    vae = _require_vae(model)
    with torch.no_grad():
        images = vae.sample_posterior(x, n, generator=_generator(model, seed))
    return images[:, 0, 0].cpu().numpy()


def mean_reconstruction(model: LatentModel, x: Tensor) -> np.ndarray:
    """The decoder's mean image at the deterministic code (the posterior mean for a VAE), shape (H, W)."""
    with torch.no_grad():
        return model.reconstruct(x)[0, 0].cpu().numpy()


def ae_breakdown(model: LatentModel, x: Tensor) -> AeBreakdown:
    """The autoencoder's terms for the image (its loss in eval mode: no corruption, no sampling)."""
    assert not model.config.is_variational, "ae_breakdown is for the autoencoder family"
    assert not model.training, "evaluate the autoencoder in eval mode (a denoising AE would corrupt x)"
    with torch.no_grad():
        terms = model.loss(x)
        reconstruction = model.reconstruct(x)
    return AeBreakdown(
        recon=float(terms.recon),
        regularizer=float(terms.regularizer),
        mse=float((reconstruction - x).pow(2).mean()),
        reconstruction=reconstruction[0, 0].cpu().numpy(),
        likelihood=model.config.likelihood,
    )


def entry_protocol(entry: ModelEntry) -> DataProtocol:
    """The data protocol a registry entry was trained with."""
    return protocol_of(entry.info.train_config, entry.info.model_config)


def like_for_like_ae(entries: Sequence[ModelEntry], vae: ModelEntry) -> ModelEntry | None:
    """The AE to compare vae with: same data set, latent size and data protocol (vae_core.engine.registry.counterpart
    among the models with vae's protocol), e.g. mnist-ae-default for mnist-vae-default; None when there is none."""
    protocol = entry_protocol(vae)
    return counterpart([e for e in entries if entry_protocol(e) is protocol], vae)


SAME_RECONSTRUCTION_NATS = 1.0  # reconstructions closer than this (nats) are called "about equally good"


def contrast_text(ae: AeBreakdown, vae: ElboBreakdown, protocol: DataProtocol) -> str:
    """What the AE-vs-VAE numbers for this image say, computed from them (never a fixed claim about sharpness).

    Compares like with like: the AE decoded at its code against the VAE decoded at its posterior mean mu(x)
    (both deterministic), then adds the VAE's sampled reconstruction term and what only the VAE has, the KL.
    """
    noise = vae.recon_stderr
    gap = ae.recon - vae.recon_at_mean
    if gap <= -SAME_RECONSTRUCTION_NATS:
        verdict = (
            f"The AE rebuilds this image better, by {-gap:.1f} nats: nothing charges it for what its code "
            "carries, while the VAE pays for every nat of its code in the KL."
        )
    elif gap >= SAME_RECONSTRUCTION_NATS:
        verdict = (
            f"Here the VAE rebuilds the image better, by {gap:.1f} nats, although its code is charged "
            "for: a free code does not make the AE's reconstruction sharper on this image."
        )
    else:
        verdict = f"The two rebuild it about equally well (within {SAME_RECONSTRUCTION_NATS:g} nat)."
    text = (
        f"On this image the AE's reconstruction costs {ae.recon:.1f} nats and the VAE's decoder at μ(x) "
        f"{vae.recon_at_mean:.1f}; averaged over z ~ q(z|x) the VAE's costs {format_noisy(vae.recon, noise)}. "
        + verdict
    )
    if protocol.is_likelihood:
        text += (
            f" Only the VAE adds a KL ({vae.kl:.2f} nats) and so an upper bound on −log p(x) "
            f"({format_noisy(vae.neg_elbo, noise)}); the AE has no density over its codes and cannot say "
            "how probable the image is."
        )
    else:
        text += f" The VAE adds a KL of {vae.kl:.2f} nats; the AE has no density over its codes."
    return text


def _generator(model: LatentModel, seed: int) -> torch.Generator:
    return torch.Generator(device=_device(model)).manual_seed(int(seed))


def _device(model: LatentModel) -> torch.device:
    return next(model.parameters()).device


def _require_vae(model: LatentModel) -> VAE:
    """The model as a VAE (what the ELBO terms need: an autoencoder has no posterior)."""
    assert model.config.is_variational, "the ELBO terms need a VAE (an autoencoder has no posterior)"
    return cast(VAE, model)
