"""The interface every model shares, and the name -> class registry."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import LossTerms, mean_reconstruction_nll, reconstruction_nll


class Encoding(NamedTuple):
    mean: Tensor  # (B, D): the code of an AE, the posterior mean of a VAE
    logvar: Tensor | None  # (B, D) posterior log-variance for VAEs; None for AEs


class ModelOutput(NamedTuple):
    x_params: Tensor  # decoder output: logits (bernoulli) or means (gaussian), shaped like x
    z: Tensor  # the code that was decoded (a sample from q(z|x) for VAEs)
    encoding: Encoding
    hidden: Tensor  # the encoder's last hidden layer (for sparsity penalties)


class LatentModel(nn.Module):
    """Shared interface: encode, decode, forward, loss, reconstruct, embed, sample_prior."""

    # The bodies each family builds (the conditional VAE has its own and overrides decode_params).
    encoder: nn.Module
    decoder: nn.Module

    @property
    def needs_labels(self) -> bool:
        """True for models whose encoder and decoder also take the class labels (the conditional VAE): fit and
        evaluate then pass `labels=` (B,) class indices to loss / embed / reconstruct (ModelConfig.needs_labels)."""
        return self.config.needs_labels

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    # --- what each family defines -------------------------------------------------------------
    def encode(self, x: Tensor) -> Encoding:
        raise NotImplementedError

    def forward(self, x: Tensor) -> ModelOutput:
        raise NotImplementedError

    def loss(
        self,
        x: Tensor,
        beta: float | None = None,
        *,
        labels: Tensor | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> LossTerms:
        """The training objective's terms for a batch x in [0, 1]. beta only matters for VAEs; labels only for
        models that need them; n_samples draws from q(z|x) (and generator for them) only for variational ones.
        Models that do not use an argument ignore it."""
        raise NotImplementedError

    def iw_log_likelihood(
        self,
        x: Tensor,
        k: int,
        *,
        labels: Tensor | None = None,
        chunk_size: int = 500,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """IW_K estimate of log p(x) (of log p(x | y) given labels) per image (B,), in nats: variational models."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood estimate")

    def decode_params(self, z: Tensor) -> Tensor:
        """Decoder output for codes z: logits (bernoulli) or means (gaussian)."""
        return self.decoder(z)

    # --- shared -------------------------------------------------------------------------------
    def decode(self, z: Tensor) -> Tensor:
        """Images in [0, 1] for codes z: the mean of p(x|z)."""
        params = self.decode_params(z)
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(params)
        return params.clamp(0.0, 1.0)

    def embed(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Deterministic codes (B, D): the AE's code or the VAE's posterior mean (labels: see needs_labels)."""
        return self.encode(x).mean

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode the deterministic code of x (labels: see needs_labels)."""
        return self.decode(self.embed(x))

    def sample_prior(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Decode n codes drawn from N(0, temperature^2 I)."""
        device = next(self.parameters()).device
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=device) * temperature
        return self.decode(z)

    def reconstruction_nll(self, x_params: Tensor, x: Tensor) -> Tensor:
        """-log p(x | decoder output) per image (B,), in nats."""
        return reconstruction_nll(x_params, x, self.config.likelihood, self.config.gaussian_sigma)

    def mean_reconstruction_nll(self, x_params: Tensor, x: Tensor) -> Tensor:
        """The batch mean of reconstruction_nll (a 0-d tensor), computed in one reduction."""
        return mean_reconstruction_nll(x_params, x, self.config.likelihood, self.config.gaussian_sigma)

    def _check_input(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.config.input_shape:
            raise ValueError(
                f"expected images shaped (B, {', '.join(map(str, self.config.input_shape))}), got {tuple(x.shape)}"
            )


MODEL_REGISTRY: dict[str, type[LatentModel]] = {}


def register_model(name: str):
    """Class decorator: make a model buildable from ModelConfig(kind=name)."""

    def add(cls: type[LatentModel]) -> type[LatentModel]:
        MODEL_REGISTRY[name] = cls
        return cls

    return add


def build_model(config: ModelConfig) -> LatentModel:
    """Instantiate the registered class for config.kind."""
    try:
        cls = MODEL_REGISTRY[config.kind]
    except KeyError:
        raise ValueError(f"no model registered as {config.kind!r}; known: {sorted(MODEL_REGISTRY)}") from None
    return cls(config)
