"""The conditional VAE (Sohn, Lee & Yan 2015; Kingma et al. 2014's M2 with the label observed).

The label y enters as a one-hot vector, concatenated to the input of both the encoder, q(z|x, y), and the decoder,
p(x|z, y); the prior stays p(z) = N(0, I). The ELBO terms are the VAE's LossTerms, now a bound on log p(x|y):

    -ELBO(x | y) = E_q(z|x,y)[-log p(x|z, y)] + KL(q(z|x, y) || N(0, I))

Because the decoder is told the class, z no longer has to encode it: it is free to hold the *style* (slant, width,
stroke), and the same z decoded with different labels gives different digits in the same hand.
Built on the VAE and its MLP bodies: only the bodies' inputs change, so every method the VAE has (loss,
iw_log_weights, embed, reconstruct, sample_prior, ...) works here too, and each requires the labels, (B,) class
indices, as its y.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.models.base import LatentModel, register_model
from vae_core.engine.models.bodies import MLPDecoder, MLPEncoder
from vae_core.engine.models.vae import VAE

T = TypeVar("T")


@register_model("cvae")
class ConditionalVAE(VAE):
    """q(z|x, y) = N(mean, diag(exp(logvar))) and p(x|z, y), with [x, onehot(y)] and [z, onehot(y)] as inputs."""

    def __init__(self, config: ModelConfig):
        if config.arch != "mlp":
            raise ValueError(f"the conditional VAE has an MLP body only, got arch={config.arch!r}")
        LatentModel.__init__(self, config)
        # The VAE's layers, built in the CVAE's own order (encoder, posterior head, decoder; the VAE builds its
        # head last): weights are initialised from the global generator in construction order, so a seed still
        # trains the same CVAE as it always has.
        self.encoder = MLPEncoder(config, extra_inputs=config.num_classes)
        self.to_posterior = nn.Linear(self.encoder.out_features, 2 * config.latent_dim)
        self.decoder = MLPDecoder(config, extra_inputs=config.num_classes)

    def one_hot(self, labels: Tensor | None, batch: int) -> Tensor:
        """(B, num_classes) float one-hot codes of labels, checked."""
        if labels is None:
            raise ValueError("a conditional VAE needs the labels of its images (its inputs include the class)")
        if labels.shape != (batch,):
            raise ValueError(f"expected {batch} labels shaped ({batch},), got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.config.num_classes):
            raise ValueError(f"labels must lie in 0..{self.config.num_classes - 1}")
        return F.one_hot(labels.long(), self.config.num_classes).to(self.to_posterior.weight.dtype)

    def encoder_input(self, x: Tensor, y: Tensor | None) -> Tensor:
        return torch.cat([x.flatten(1), self.one_hot(y, x.shape[0])], dim=1)

    def decoder_input(self, z: Tensor, y: Tensor | None) -> Tensor:
        return torch.cat([z, self.one_hot(y, z.shape[0])], dim=1)

    def transfer_style(self, x: Tensor, labels: Tensor, target_labels: Tensor) -> Tensor:
        """Encode each image with its own label, decode its posterior mean with every target label:
        images shaped (B, T, C, H, W) for T target labels."""
        z = self.embed(x, labels)
        t = target_labels.shape[0]
        z_rep = z.repeat_interleave(t, dim=0)
        return self.decode(z_rep, target_labels.repeat(x.shape[0])).view(x.shape[0], t, *self.config.input_shape)

    @staticmethod
    def renamed_state_keys(config: ModelConfig, state: Mapping[str, T]) -> dict[str, T]:
        """A state dict (or any mapping keyed by its names) saved by the CVAE of before it shared the VAE's bodies,
        with its keys renamed to today's; today's keys pass unchanged.

        The old model kept its own Linear + ReLU stacks: encoder.{i} is today's encoder.net.{i + 1} (after the
        Flatten), decoder_body.{i} today's decoder.net.{i}, and to_pixels the decoder's last Linear.
        """
        last = f"decoder.net.{2 * len(config.hidden_dims)}"
        renamed = {}
        for key, value in state.items():
            head, _, rest = key.partition(".")
            if head == "encoder" and rest.split(".")[0].isdigit():
                index, _, param = rest.partition(".")
                key = f"encoder.net.{int(index) + 1}.{param}"
            elif head == "decoder_body":
                key = f"decoder.net.{rest}"
            elif head == "to_pixels":
                key = f"{last}.{rest}"
            renamed[key] = value
        return renamed
