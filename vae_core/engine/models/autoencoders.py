"""The deterministic autoencoder family. The four models share a body and differ only by objective."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import LossTerms, Reduction, autoencoder_terms, check_reduction, reduce_images
from vae_core.engine.models.base import Encoding, LatentModel, ModelOutput, register_model
from vae_core.engine.models.bodies import build_bodies


@register_model("ae")
class Autoencoder(LatentModel):
    """Undercomplete autoencoder: x -> h -> x_hat, trained on reconstruction alone."""

    def __init__(self, config: ModelConfig, final_activation: nn.Module | None = None):
        super().__init__(config)
        encoder, self.decoder = build_bodies(config, final_activation)
        self.encoder = encoder
        self.to_code = nn.Linear(encoder.out_features, config.latent_dim)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Encoding:
        return Encoding(self.to_code(self.encoder(x)), None)

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        hidden = self.encoder(x)
        code = self.to_code(hidden)
        return ModelOutput(self.decoder(code), code, Encoding(code, None), hidden)

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The input the encoder sees during training; the plain AE sees x itself."""
        return x

    def penalty(self, x_in: Tensor, out: ModelOutput, reduction: Reduction) -> Tensor | None:
        """Extra term added to the objective, reduced as asked (none for the plain AE)."""
        return None

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
        """Deterministic: y, beta and n_samples are ignored; generator drives the denoising AE's corruption."""
        self._check_input(x)
        check_reduction(reduction)
        x_in = self.corrupt(x, generator) if self.training else x
        out = self(x_in)
        # The target is always the clean x: that is what makes the denoising AE denoise.
        if reduction == "mean":
            recon = self.mean_reconstruction_nll(out.x_params, x)
        else:
            recon = self.reconstruction_nll(out.x_params, x)
        return autoencoder_terms(recon, self.config.latent_dim, self.penalty(x_in, out, reduction), reduction)


@register_model("dae")
class DenoisingAutoencoder(Autoencoder):
    """Denoising AE (Vincent et al. 2008): reconstruct the clean image from a corrupted one."""

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        rate = self.config.corruption_rate
        if self.config.corruption == "gaussian":
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return (x + rate * noise).clamp(0.0, 1.0)
        # masking noise: zero a fraction `rate`
        return x * (torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= rate).to(x.dtype)


@register_model("sae")
class SparseAutoencoder(Autoencoder):
    """Sparse AE: an L1 penalty on the encoder's last hidden layer, or a KL penalty towards a target rate rho.

    The KL form needs activations in (0, 1), so with it that layer uses a sigmoid (as in Ng's notes).
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config, final_activation=nn.Sigmoid() if config.sparsity == "kl" else None)

    def penalty(self, x_in: Tensor, out: ModelOutput, reduction: Reduction) -> Tensor:
        weight = self.config.sparsity_weight
        if self.config.sparsity == "l1":
            return weight * l1_sparsity(out.hidden, reduction)
        # The KL penalty compares the batch's mean activation with rho: one number for the whole batch, which
        # reduction "none" repeats for each image (so their mean is still the batch's penalty).
        penalty = weight * kl_sparsity(out.hidden, self.config.sparsity_target)
        return penalty if reduction == "mean" else penalty.expand(x_in.shape[0])


def l1_sparsity(activations: Tensor, reduction: Reduction = "mean") -> Tensor:
    """sum_j |h_j| per image, averaged over the batch (or per image, reduction "none"): the L1 sparsity penalty
    before its weight."""
    return reduce_images(activations.abs().sum(1), reduction)


def bernoulli_kl(rho: float, rho_hat: Tensor) -> Tensor:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)) elementwise, in nats; zero where rho_hat == rho.

    rho_hat is clamped to [1e-6, 1 - 1e-6] so that a unit that is always off (or on) costs a large but
    finite amount.
    """
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def kl_sparsity(activations: Tensor, rho: float) -> Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat_j the batch-mean activation of unit j.

    The sparsity penalty of Ng's CS294A notes ("Sparse autoencoder", section 3).
    """
    return bernoulli_kl(rho, activations.mean(0)).sum()


@register_model("cae")
class ContractiveAutoencoder(Autoencoder):
    """Contractive AE (Rifai et al. 2011): penalise lambda * ||dh/dx||_F^2 of the code h, computed exactly."""

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
        """Deterministic: y, beta, n_samples and generator are ignored."""
        self._check_input(x)
        check_reduction(reduction)
        # Read before enable_grad below, inside which is_grad_enabled() is always True.
        penalty_needs_graph = self.training and torch.is_grad_enabled()
        # The Jacobian needs a graph back to x even when the caller evaluates under no_grad.
        with torch.enable_grad():
            x_in = x.detach().clone().requires_grad_(True)
            out = self(x_in)
            jac_sq = jacobian_frobenius_sq(out.z, x_in, create_graph=penalty_needs_graph)
        if reduction == "mean":
            recon = self.mean_reconstruction_nll(out.x_params, x)
        else:
            recon = self.reconstruction_nll(out.x_params, x)
        penalty = self.config.contractive_weight * reduce_images(jac_sq, reduction)
        return autoencoder_terms(recon, self.config.latent_dim, penalty, reduction)


def jacobian_frobenius_sq(code: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """||d code_i / d x_i||_F^2 for each image i, shape (B,).

    One backward pass per latent dimension; exact because images in a batch do not interact.
    """
    total = code.new_zeros(code.shape[0])
    for d in range(code.shape[1]):
        (grad,) = torch.autograd.grad(code[:, d].sum(), x, create_graph=create_graph, retain_graph=True)
        total = total + grad.pow(2).flatten(1).sum(1)
    return total
