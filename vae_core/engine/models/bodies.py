"""Encoder and decoder bodies (MLP and conv) shared by every model; shapes come from the config."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig


class MLPEncoder(nn.Module):
    """Flatten, then Linear + ReLU per hidden width. `out_features` is the last hidden width.

    extra_inputs: features appended to the flattened image by the caller (the conditional VAE's one-hot label).
    """

    out_features: int

    def __init__(self, config: ModelConfig, final_activation: nn.Module | None = None, extra_inputs: int = 0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = config.input_size + extra_inputs
        for i, hidden in enumerate(config.hidden_dims):
            last = i == len(config.hidden_dims) - 1
            layers += [nn.Linear(width, hidden), final_activation if (last and final_activation) else nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """Mirror of the encoder: latent -> hidden widths reversed -> one output per pixel (no activation).

    extra_inputs: features appended to the code by the caller (the conditional VAE's one-hot label).
    """

    def __init__(self, config: ModelConfig, extra_inputs: int = 0):
        super().__init__()
        layers: list[nn.Module] = []
        width = config.latent_dim + extra_inputs
        for hidden in reversed(config.hidden_dims):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers += [nn.Linear(width, config.input_size), nn.Unflatten(1, config.input_shape)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class ConvEncoder(nn.Module):
    """Stride-2 3x3 convs (each halves H and W, rounding up), then flatten."""

    out_features: int

    def __init__(self, config: ModelConfig, final_activation: nn.Module | None = None):
        super().__init__()
        channels, height, width = config.input_shape
        layers: list[nn.Module] = []
        # The sizes before each conv; the decoder asks its transposed convs for exactly these back.
        self.spatial_sizes: list[tuple[int, int]] = []
        for i, out_channels in enumerate(config.hidden_dims):
            self.spatial_sizes.append((height, width))
            last = i == len(config.hidden_dims) - 1
            layers += [
                nn.Conv2d(channels, out_channels, 3, stride=2, padding=1),
                final_activation if (last and final_activation) else nn.ReLU(),
            ]
            channels, height, width = out_channels, (height + 1) // 2, (width + 1) // 2
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.feature_shape = (channels, height, width)
        self.out_features = channels * height * width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Linear to the encoder's feature map, then stride-2 transposed convs back to the input size."""

    def __init__(self, config: ModelConfig, encoder: ConvEncoder):
        super().__init__()
        self.feature_shape = encoder.feature_shape
        self.output_sizes = list(reversed(encoder.spatial_sizes))
        self.project = nn.Sequential(nn.Linear(config.latent_dim, encoder.out_features), nn.ReLU())
        channels = [config.input_shape[0], *config.hidden_dims]
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(channels[i + 1], channels[i], 3, stride=2, padding=1)
            for i in reversed(range(len(config.hidden_dims)))
        )

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, *self.feature_shape)
        for i, (deconv, size) in enumerate(zip(self.deconvs, self.output_sizes, strict=True)):
            h = deconv(h, output_size=size)
            if i < len(self.deconvs) - 1:
                h = torch.relu(h)
        return h


def build_bodies(
    config: ModelConfig, final_activation: nn.Module | None = None
) -> tuple[MLPEncoder | ConvEncoder, nn.Module]:
    """(encoder, decoder) for config.arch; the encoder exposes `out_features`."""
    if config.arch == "mlp":
        return MLPEncoder(config, final_activation), MLPDecoder(config)
    if not config.hidden_dims:
        raise ValueError("a conv body needs at least one entry in hidden_dims (its channel counts)")
    encoder = ConvEncoder(config, final_activation)
    return encoder, ConvDecoder(config, encoder)
