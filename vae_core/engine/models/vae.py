"""The variational autoencoder (Kingma & Welling 2014); beta != 1 gives the beta-VAE (Higgins et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import (
    IW_CHUNK,
    LossTerms,
    Reduction,
    check_reduction,
    elbo_terms,
    iw_log_weights,
    monte_carlo_reconstruction,
)
from vae_core.engine.models.base import Encoding, LatentModel, ModelOutput, register_model
from vae_core.engine.models.bodies import build_bodies


@register_model("vae")
class VAE(LatentModel):
    """Gaussian encoder q(z|x) = N(mean, diag(exp(logvar))), prior N(0, I), Bernoulli or Gaussian decoder.

    The labels y every method takes are ignored here; a subclass that conditions on them (the conditional VAE)
    builds bodies with wider inputs and overrides encoder_input and decoder_input.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        encoder, self.decoder = build_bodies(config)
        self.encoder = encoder
        self.to_posterior = nn.Linear(encoder.out_features, 2 * config.latent_dim)

    def encoder_input(self, x: Tensor, y: Tensor | None) -> Tensor:
        """What the encoder body reads for images x (and labels y): x itself."""
        return x

    def decoder_input(self, z: Tensor, y: Tensor | None) -> Tensor:
        """What the decoder body reads for codes z (and labels y): z itself."""
        return z

    def encode(self, x: Tensor, y: Tensor | None = None) -> Encoding:
        return self._posterior(self.encoder(self.encoder_input(x, y)))

    def decode_params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.decoder(self.decoder_input(z, y))

    def sample_latent(self, encoding: Encoding, n_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised samples z = mean + sigma * eps, shape (n_samples, B, D)."""
        mean, logvar = encoding
        assert logvar is not None  # a VAE's encoding always has one
        eps = torch.randn((n_samples, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + (0.5 * logvar).exp() * eps

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        hidden = self.encoder(self.encoder_input(x, y))
        encoding = self._posterior(hidden)
        z = self.sample_latent(encoding)[0]
        return ModelOutput(self.decode_params(z, y), z, encoding, hidden)

    def loss(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        beta: float | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
        reduction: Reduction = "mean",
    ) -> LossTerms:
        """ELBO terms; the reconstruction term averages n_samples draws from q(z|x) (see LatentModel.loss)."""
        self._check_input(x)
        check_reduction(reduction)
        encoding = self.encode(x, y)
        assert encoding.logvar is not None
        z = self.sample_latent(encoding, n_samples, generator)
        x_params = self.decode_params(z.flatten(0, 1), _repeat(y, n_samples))
        x_rep = x.expand(n_samples, *x.shape).flatten(0, 1)
        recon = monte_carlo_reconstruction(
            x_params, x_rep, self.config.likelihood, self.config.gaussian_sigma, n_samples, reduction
        )
        beta = self.config.beta if beta is None else beta
        return self._terms(recon, z, encoding, beta, reduction)

    def _terms(self, recon: Tensor, z: Tensor, encoding: Encoding, beta: float, reduction: Reduction) -> LossTerms:
        """The objective's terms from the reconstruction term and the draws z of q(z|x): the ELBO's, β on the KL
        (a family that weighs the KL's parts differently overrides this, e.g. the β-TCVAE)."""
        assert encoding.logvar is not None
        return elbo_terms(recon, encoding.mean, encoding.logvar, beta, reduction)

    def iw_log_weights(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        k: int,
        generator: torch.Generator | None = None,
        chunk_size: int = IW_CHUNK,
    ) -> Tensor:
        """The K log importance weights of each image, (K, B) in nats, q(z|x) the proposal (Burda et al. 2015);
        iw_log_likelihood reduces them to IW_K, a lower bound on log p(x) (on log p(x|y) given labels)."""
        self._check_input(x)
        mean, logvar = self.encode(x, y)
        assert logvar is not None
        batch = x.shape[0]

        def decode(z: Tensor) -> Tensor:  # z is (n * B, D), the B images repeated n times
            return self.decode_params(z, _repeat(y, z.shape[0] // batch))

        return iw_log_weights(
            x,
            mean,
            logvar,
            decode,
            self.config.likelihood,
            self.config.gaussian_sigma,
            k=k,
            generator=generator,
            chunk_size=chunk_size,
        )

    def sample_posterior(
        self, x: Tensor, n_samples: int, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """Decoded draws from q(z|x): images shaped (n_samples, B, C, H, W)."""
        z = self.sample_latent(self.encode(x, y), n_samples, generator)
        return self.decode(z.flatten(0, 1), _repeat(y, n_samples)).view(n_samples, *x.shape)

    def _posterior(self, hidden: Tensor) -> Encoding:
        mean, logvar = self.to_posterior(hidden).chunk(2, dim=-1)
        return Encoding(mean, logvar)


def _repeat(y: Tensor | None, n_samples: int) -> Tensor | None:
    """The labels of n_samples draws per image, in the draw-major order of z.flatten(0, 1)."""
    return None if y is None else y.repeat(n_samples)
