"""The ELBO page's numbers for one image, computed from a model (no Streamlit; shared by the page and its tests).

Everything random is seeded with a generator of its own, so a number can be recomputed exactly from the model,
the input and the seed: `model.loss(x, beta, n_samples, generator=Generator().manual_seed(seed))` gives the
reconstruction and KL terms, `model.iw_log_likelihood(x, k, generator=...)` the IW bound. Units: nats per image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from vae_core.models import LatentModel

RECON_SAMPLES = 64  # draws z ~ q(z|x) averaged in the reconstruction term: one draw is too noisy to read
IW_CHOICES = (1, 5, 10, 50, 100, 500, 1000, 5000)  # K for the importance-weighted bound
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


def elbo_breakdown(model: LatentModel, x: Tensor, *, beta: float, seed: int,
                   n_samples: int = RECON_SAMPLES) -> ElboBreakdown:
    """The terms of model.loss for a batch of one image, with n_samples seeded draws from q(z|x)."""
    _require_vae(model)
    with torch.no_grad():
        terms = model.loss(x, beta=beta, n_samples=n_samples, generator=_generator(model, seed))
        mean, logvar = model.encode(x)
    return ElboBreakdown(
        recon=float(terms.recon), kl=float(terms.kl), kl_per_dim=terms.kl_per_dim.cpu().numpy().astype(np.float64),
        posterior_mean=mean[0].cpu().numpy().astype(np.float64),
        posterior_std=(0.5 * logvar[0]).exp().cpu().numpy().astype(np.float64),
        beta=float(beta), n_samples=n_samples, seed=seed,
    )


def iw_nll(model: LatentModel, x: Tensor, *, k: int, seed: int) -> float:
    """-IW_K: the importance-weighted estimate of -log p(x) in nats (an upper bound that tightens as K grows)."""
    _require_vae(model)
    with torch.no_grad():
        return -float(model.iw_log_likelihood(x, k, generator=_generator(model, seed))[0])


def posterior_samples(model: LatentModel, x: Tensor, *, n: int, seed: int) -> np.ndarray:
    """n images decoded from seeded draws z ~ q(z|x), shape (n, H, W) (first channel)."""
    _require_vae(model)
    with torch.no_grad():
        images = model.sample_posterior(x, n, generator=_generator(model, seed))
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
    return AeBreakdown(recon=float(terms.recon), regularizer=float(terms.regularizer),
                       mse=float((reconstruction - x).pow(2).mean()),
                       reconstruction=reconstruction[0, 0].cpu().numpy(), likelihood=model.config.likelihood)


def _generator(model: LatentModel, seed: int) -> torch.Generator:
    return torch.Generator(device=_device(model)).manual_seed(int(seed))


def _device(model: LatentModel) -> torch.device:
    return next(model.parameters()).device


def _require_vae(model: LatentModel) -> None:
    assert model.config.is_variational, "the ELBO terms need a VAE (an autoencoder has no posterior)"
