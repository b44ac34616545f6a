"""The variational autoencoder (Kingma & Welling 2014); beta != 1 gives the beta-VAE (Higgins et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import LossTerms, elbo_terms, iw_log_likelihood
from vae_core.engine.models.base import Encoding, LatentModel, ModelOutput, register_model
from vae_core.engine.models.bodies import build_bodies


@register_model("vae")
class VAE(LatentModel):
    """Gaussian encoder q(z|x) = N(mean, diag(exp(logvar))), prior N(0, I), Bernoulli or Gaussian decoder."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        encoder, self.decoder = build_bodies(config)
        self.encoder = encoder
        self.to_posterior = nn.Linear(encoder.out_features, 2 * config.latent_dim)

    def encode(self, x: Tensor) -> Encoding:
        mean, logvar = self.to_posterior(self.encoder(x)).chunk(2, dim=-1)
        return Encoding(mean, logvar)

    def sample_latent(self, encoding: Encoding, n_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised samples z = mean + sigma * eps, shape (n_samples, B, D)."""
        mean, logvar = encoding
        assert logvar is not None  # a VAE's encoding always has one
        eps = torch.randn((n_samples, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + (0.5 * logvar).exp() * eps

    def forward(self, x: Tensor) -> ModelOutput:
        hidden = self.encoder(x)
        encoding = Encoding(*self.to_posterior(hidden).chunk(2, dim=-1))
        z = self.sample_latent(encoding)[0]
        return ModelOutput(self.decoder(z), z, encoding, hidden)

    def loss(
        self,
        x: Tensor,
        beta: float | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
        *,
        labels: Tensor | None = None,
    ) -> LossTerms:
        """ELBO terms; the reconstruction term averages n_samples draws from q(z|x) (labels are ignored)."""
        self._check_input(x)
        encoding = self.encode(x)
        assert encoding.logvar is not None
        z = self.sample_latent(encoding, n_samples, generator)
        x_params = self.decoder(z.flatten(0, 1))
        x_rep = x.expand(n_samples, *x.shape).flatten(0, 1)
        # The mean over samples and images at once: the same number as averaging per image first.
        recon = self.mean_reconstruction_nll(x_params, x_rep)
        return elbo_terms(recon, encoding.mean, encoding.logvar, self.config.beta if beta is None else beta)

    def iw_log_likelihood(
        self,
        x: Tensor,
        k: int,
        chunk_size: int = 500,
        generator: torch.Generator | None = None,
        *,
        labels: Tensor | None = None,
    ) -> Tensor:
        """IW_K estimate of log p(x) per image (B,), in nats; a lower bound that tightens as K grows (labels are
        ignored)."""
        self._check_input(x)
        mean, logvar = self.encode(x)
        assert logvar is not None
        return iw_log_likelihood(
            x,
            mean,
            logvar,
            self.decode_params,
            self.config.likelihood,
            self.config.gaussian_sigma,
            k,
            chunk_size,
            generator,
        )

    def sample_posterior(self, x: Tensor, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Decoded draws from q(z|x): images shaped (n_samples, B, C, H, W)."""
        z = self.sample_latent(self.encode(x), n_samples, generator)
        return self.decode(z.flatten(0, 1)).view(n_samples, *x.shape)
