"""The conditional VAE (Sohn, Lee & Yan 2015; Kingma et al. 2014's M2 with the label observed).

The label y enters as a one-hot vector, concatenated to the input of both the encoder, q(z|x, y), and the decoder,
p(x|z, y); the prior stays p(z) = N(0, I). The ELBO terms are the VAE's LossTerms, now a bound on log p(x|y):

    -ELBO(x | y) = E_q(z|x,y)[-log p(x|z, y)] + KL(q(z|x, y) || N(0, I))

Because the decoder is told the class, z no longer has to encode it: it is free to hold the *style* (slant, width,
stroke), and the same z decoded with different labels gives different digits in the same hand.
Every method that touches the encoder or the decoder takes the labels, (B,) class indices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import LossTerms, elbo_terms, iw_log_likelihood
from vae_core.engine.models.base import Encoding, LatentModel, ModelOutput, register_model


def mlp(in_features: int, widths: tuple[int, ...]) -> nn.Sequential:
    """Linear + ReLU per width (empty widths: the identity)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers)


@register_model("cvae")
class ConditionalVAE(LatentModel):
    """q(z|x, y) = N(mean, diag(exp(logvar))) and p(x|z, y), with [x, onehot(y)] and [z, onehot(y)] as inputs."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.arch != "mlp":
            raise ValueError(f"the conditional VAE has an MLP body only, got arch={config.arch!r}")
        num_classes, widths = config.num_classes, config.hidden_dims
        self.encoder = mlp(config.input_size + num_classes, widths)
        self.to_posterior = nn.Linear(widths[-1] if widths else config.input_size + num_classes, 2 * config.latent_dim)
        self.decoder_body = mlp(config.latent_dim + num_classes, tuple(reversed(widths)))
        self.to_pixels = nn.Linear(widths[0] if widths else config.latent_dim + num_classes, config.input_size)

    def one_hot(self, labels: Tensor | None, batch: int) -> Tensor:
        """(B, num_classes) float one-hot codes of labels, checked."""
        if labels is None:
            raise ValueError("a conditional VAE needs the labels of its images (its inputs include the class)")
        if labels.shape != (batch,):
            raise ValueError(f"expected {batch} labels shaped ({batch},), got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.config.num_classes):
            raise ValueError(f"labels must lie in 0..{self.config.num_classes - 1}")
        return F.one_hot(labels.long(), self.config.num_classes).to(self.to_pixels.weight.dtype)

    # --- the encoder and the decoder, both given the class ------------------------------------------------------
    def encode(self, x: Tensor, labels: Tensor | None = None) -> Encoding:
        y = self.one_hot(labels, x.shape[0])
        hidden = self.encoder(torch.cat([x.flatten(1), y], dim=1))
        mean, logvar = self.to_posterior(hidden).chunk(2, dim=-1)
        return Encoding(mean, logvar)

    def decode_params(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        y = self.one_hot(labels, z.shape[0])
        logits = self.to_pixels(self.decoder_body(torch.cat([z, y], dim=1)))
        return logits.view(-1, *self.config.input_shape)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        params = self.decode_params(z, labels)
        return torch.sigmoid(params) if self.config.likelihood == "bernoulli" else params.clamp(0.0, 1.0)

    def sample_latent(self, encoding: Encoding, n_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised samples z = mean + sigma * eps, shape (n_samples, B, D)."""
        mean, logvar = encoding
        assert logvar is not None
        eps = torch.randn((n_samples, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + (0.5 * logvar).exp() * eps

    def forward(self, x: Tensor, labels: Tensor | None = None) -> ModelOutput:
        y = self.one_hot(labels, x.shape[0])
        hidden = self.encoder(torch.cat([x.flatten(1), y], dim=1))
        encoding = Encoding(*self.to_posterior(hidden).chunk(2, dim=-1))
        z = self.sample_latent(encoding)[0]
        return ModelOutput(self.decode_params(z, labels), z, encoding, hidden)

    def loss(
        self,
        x: Tensor,
        beta: float | None = None,
        labels: Tensor | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> LossTerms:
        """The VAE's ELBO terms, conditioned on the labels; recon averages n_samples draws from q(z|x, y)."""
        self._check_input(x)
        encoding = self.encode(x, labels)
        assert labels is not None and encoding.logvar is not None
        z = self.sample_latent(encoding, n_samples, generator)
        x_params = self.decode_params(z.flatten(0, 1), labels.repeat(n_samples))
        x_rep = x.expand(n_samples, *x.shape).flatten(0, 1)
        recon = self.mean_reconstruction_nll(x_params, x_rep)
        return elbo_terms(recon, encoding.mean, encoding.logvar, self.config.beta if beta is None else beta)

    # --- what an explorer asks for ------------------------------------------------------------------------------
    def embed(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.encode(x, labels).mean

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.decode(self.embed(x, labels), labels)

    def sample_prior(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None, labels: Tensor | None = None
    ) -> Tensor:
        """Decode n codes from N(0, temperature^2 I) with the given labels (B = n)."""
        device = self.to_pixels.weight.device
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=device) * temperature
        return self.decode(z, labels)

    def transfer_style(self, x: Tensor, labels: Tensor, target_labels: Tensor) -> Tensor:
        """Encode each image with its own label, decode its posterior mean with every target label:
        images shaped (B, T, C, H, W) for T target labels."""
        z = self.embed(x, labels)
        t = target_labels.shape[0]
        z_rep = z.repeat_interleave(t, dim=0)
        return self.decode(z_rep, target_labels.repeat(x.shape[0])).view(x.shape[0], t, *self.config.input_shape)

    def iw_log_likelihood(
        self,
        x: Tensor,
        k: int,
        labels: Tensor | None = None,
        chunk_size: int = 500,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """IW_K estimate of log p(x | y) per image (B,), in nats (Burda et al. 2015, conditioned on y)."""
        self._check_input(x)
        mean, logvar = self.encode(x, labels)
        assert labels is not None and logvar is not None
        batch = x.shape[0]

        def decode(z: Tensor) -> Tensor:  # z is (n * B, D) with the B images repeated n times
            return self.decode_params(z, labels.repeat(z.shape[0] // batch))

        return iw_log_likelihood(
            x, mean, logvar, decode, self.config.likelihood, self.config.gaussian_sigma, k, chunk_size, generator
        )
