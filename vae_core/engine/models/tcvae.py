"""The β-TCVAE (Chen et al. 2018): the VAE's body and ELBO, with β weighting only the KL's total correlation."""

from __future__ import annotations

from torch import Tensor

from vae_core.engine.losses import LossTerms, Reduction, tcvae_terms
from vae_core.engine.models.base import Encoding, register_model
from vae_core.engine.models.vae import VAE


@register_model("tcvae")
class BetaTCVAE(VAE):
    """A VAE whose loss is recon + MI + β·TC + dimension-wise KL (vae_core.engine.losses.tcvae_terms).

    The total correlation is estimated over each batch (minibatch-weighted sampling), so its value for one image
    depends on the others in its batch; everything else (encoder, decoder, IW estimate) is the VAE's.
    """

    def _terms(self, recon: Tensor, z: Tensor, encoding: Encoding, beta: float, reduction: Reduction) -> LossTerms:
        """recon + KL + (β - 1)·TC, the TC over this batch (VAE.loss draws z and computes recon)."""
        assert encoding.logvar is not None
        dataset_size = self.config.tc_dataset_size or z.shape[1]
        return tcvae_terms(recon, z, encoding.mean, encoding.logvar, beta, dataset_size, reduction)
