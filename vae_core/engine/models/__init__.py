"""Models: one interface (LatentModel), a name -> class registry, one file per family."""

from vae_core.engine.models.autoencoders import (
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)
from vae_core.engine.models.base import (
    MODEL_REGISTRY,
    Encoding,
    LatentModel,
    ModelOutput,
    build_model,
    current_state_keys,
    register_model,
)
from vae_core.engine.models.cvae import ConditionalVAE
from vae_core.engine.models.tcvae import BetaTCVAE
from vae_core.engine.models.vae import VAE

__all__ = [
    "MODEL_REGISTRY",
    "VAE",
    "Autoencoder",
    "BetaTCVAE",
    "ConditionalVAE",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "Encoding",
    "LatentModel",
    "ModelOutput",
    "SparseAutoencoder",
    "build_model",
    "current_state_keys",
    "register_model",
]
