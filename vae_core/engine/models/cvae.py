"""The conditional VAE (Sohn, Lee & Yan 2015; Kingma et al. 2014's M2 with the label observed).

The label y enters as a one-hot vector, concatenated to the input of both the encoder, q(z|x, y), and the decoder,
p(x|z, y); the prior stays p(z) = N(0, I). The ELBO terms are the VAE's LossTerms, now a bound on log p(x|y):

    -ELBO(x | y) = E_q(z|x,y)[-log p(x|z, y)] + KL(q(z|x, y) || N(0, I))

Because the decoder is told the class, z no longer has to encode it: it is free to hold the *style* (slant, width,
stroke), and the same z decoded with different labels gives different digits in the same hand.
Built on the VAE: it overrides what reads the label (encode, decode_params, forward) and inherits the rest (loss,
iw_log_weights, sample_latent, embed, reconstruct, ...); each requires the labels, (B,) class indices, as its y.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.models.base import Encoding, LatentModel, ModelOutput, register_model
from vae_core.engine.models.vae import VAE


def mlp(in_features: int, widths: tuple[int, ...]) -> nn.Sequential:
    """Linear + ReLU per width (empty widths: the identity)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers)


@register_model("cvae")
class ConditionalVAE(VAE):
    """q(z|x, y) = N(mean, diag(exp(logvar))) and p(x|z, y), with [x, onehot(y)] and [z, onehot(y)] as inputs."""

    def __init__(self, config: ModelConfig):
        LatentModel.__init__(self, config)  # its own bodies, not the VAE's
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
    def encode(self, x: Tensor, y: Tensor | None = None) -> Encoding:
        return self._posterior(self.encoder(torch.cat([x.flatten(1), self.one_hot(y, x.shape[0])], dim=1)))

    def decode_params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        logits = self.to_pixels(self.decoder_body(torch.cat([z, self.one_hot(y, z.shape[0])], dim=1)))
        return logits.view(-1, *self.config.input_shape)

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        hidden = self.encoder(torch.cat([x.flatten(1), self.one_hot(y, x.shape[0])], dim=1))
        encoding = self._posterior(hidden)
        z = self.sample_latent(encoding)[0]
        return ModelOutput(self.decode_params(z, y), z, encoding, hidden)

    def transfer_style(self, x: Tensor, labels: Tensor, target_labels: Tensor) -> Tensor:
        """Encode each image with its own label, decode its posterior mean with every target label:
        images shaped (B, T, C, H, W) for T target labels."""
        z = self.embed(x, labels)
        t = target_labels.shape[0]
        z_rep = z.repeat_interleave(t, dim=0)
        return self.decode(z_rep, target_labels.repeat(x.shape[0])).view(x.shape[0], t, *self.config.input_shape)
