"""The β-TCVAE (Chen et al. 2018): the VAE's body and ELBO, with β weighting only the KL's total correlation."""

from __future__ import annotations

import torch
from torch import Tensor

from vae_core.engine.losses import LossTerms, Reduction, check_reduction, monte_carlo_reconstruction, tcvae_terms
from vae_core.engine.models.base import register_model
from vae_core.engine.models.vae import VAE, _repeat


@register_model("tcvae")
class BetaTCVAE(VAE):
    """A VAE whose loss is recon + MI + β·TC + dimension-wise KL (vae_core.engine.losses.tcvae_terms).

    The total correlation is estimated over each batch (minibatch-weighted sampling), so its value for one image
    depends on the others in its batch; everything else (encoder, decoder, IW estimate) is the VAE's.
    """

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
        """recon + KL + (β - 1)·TC; beta None: the config's (see LatentModel.loss for the other arguments)."""
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
        dataset_size = self.config.tc_dataset_size or x.shape[0]
        return tcvae_terms(recon, z, encoding.mean, encoding.logvar, beta, dataset_size, reduction)
