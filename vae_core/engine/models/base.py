"""The interface every model shares, and the name -> class registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from vae_core.engine.config import ModelConfig
from vae_core.engine.losses import IW_CHUNK, LossTerms, Reduction, mean_reconstruction_nll, reconstruction_nll

T = TypeVar("T")


class Encoding(NamedTuple):
    mean: Tensor  # (B, D): the code of an AE, the posterior mean of a VAE
    logvar: Tensor | None  # (B, D) posterior log-variance for VAEs; None for AEs


class ModelOutput(NamedTuple):
    x_params: Tensor  # decoder output: logits (bernoulli) or means (gaussian), shaped like x
    z: Tensor  # the code that was decoded (a sample from q(z|x) for VAEs)
    encoding: Encoding
    hidden: Tensor  # the encoder's last hidden layer (for sparsity penalties)


class LatentModel(nn.Module):
    """Shared interface: encode, decode, forward, loss, iw_log_weights, reconstruct, embed, sample_prior.

    Every method that reads images or codes takes the images' labels y, (B,) class indices, as its second
    argument: the conditional VAE needs them (needs_labels) and refuses to run without; every other family ignores
    them. So a caller passes what it has, `model.loss(x, y, ...)`, whatever the model.
    """

    # The bodies each family builds (vae_core.engine.models.bodies).
    encoder: nn.Module
    decoder: nn.Module

    @property
    def needs_labels(self) -> bool:
        """True for models whose encoder and decoder also take the class labels (the conditional VAE): the y of
        loss / iw_log_weights / embed / reconstruct is then required (ModelConfig.needs_labels)."""
        return self.config.needs_labels

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    # --- what each family defines -------------------------------------------------------------
    def encode(self, x: Tensor, y: Tensor | None = None) -> Encoding:
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        raise NotImplementedError

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
        """The training objective's terms for a batch x in [0, 1] (and its labels y, see the class docstring).

        beta: the weight on the KL (variational families; None: the config's). n_samples: draws from q(z|x) that
        average the reconstruction term (variational families). generator: for every draw the loss makes (q(z|x),
        the denoising AE's corruption in training); None uses torch's global generator. reduction: "mean" gives
        batch means, "none" one value per image (LossTerms). A family ignores the arguments it has no use for.
        """
        raise NotImplementedError

    def iw_log_weights(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        k: int,
        generator: torch.Generator | None = None,
        chunk_size: int = IW_CHUNK,
    ) -> Tensor:
        """The K log importance weights of each image, (K, B) in nats, with the encoder's q(z|x) as proposal
        (vae_core.engine.losses.iw_log_weights; iw_log_likelihood reduces them to IW_K): variational models."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood estimate")

    def decode_params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoder output for codes z: logits (bernoulli) or means (gaussian)."""
        return self.decoder(z)

    # --- shared -------------------------------------------------------------------------------
    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images in [0, 1] for codes z: the mean of p(x|z)."""
        params = self.decode_params(z, y)
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(params)
        return params.clamp(0.0, 1.0)

    def embed(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Deterministic codes (B, D): the AE's code or the VAE's posterior mean."""
        return self.encode(x, y).mean

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Decode the deterministic code of x."""
        return self.decode(self.embed(x, y), y)

    def sample_prior(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """Decode n codes drawn from N(0, temperature^2 I) (with the labels y, (n,), for a conditional model)."""
        device = next(self.parameters()).device
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=device) * temperature
        return self.decode(z, y)

    def reconstruction_nll(self, x_params: Tensor, x: Tensor) -> Tensor:
        """-log p(x | decoder output) per image (B,), in nats."""
        return reconstruction_nll(x_params, x, self.config.likelihood, self.config.gaussian_sigma)

    def mean_reconstruction_nll(self, x_params: Tensor, x: Tensor) -> Tensor:
        """The batch mean of reconstruction_nll (a 0-d tensor), computed in one reduction."""
        return mean_reconstruction_nll(x_params, x, self.config.likelihood, self.config.gaussian_sigma)

    @staticmethod
    def renamed_state_keys(config: ModelConfig, state: Mapping[str, T]) -> dict[str, T]:
        """A state dict saved by an older layout of this family, keys renamed to today's (unchanged here)."""
        return dict(state)

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


def current_state_keys(config: ModelConfig, state: Mapping[str, T]) -> dict[str, T]:
    """The one place a checkpoint's old state-dict keys become today's: a state dict (or its shapes) saved for
    config, with the keys of any older layout of its family renamed (the family's renamed_state_keys)."""
    cls = MODEL_REGISTRY.get(config.kind, LatentModel)
    return cls.renamed_state_keys(config, state)


def build_model(config: ModelConfig) -> LatentModel:
    """Instantiate the registered class for config.kind."""
    try:
        cls = MODEL_REGISTRY[config.kind]
    except KeyError:
        raise ValueError(f"no model registered as {config.kind!r}; known: {sorted(MODEL_REGISTRY)}") from None
    return cls(config)
