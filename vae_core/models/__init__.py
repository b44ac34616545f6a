"""Models: one interface (LatentModel), a name -> class registry, one file per family."""

from .autoencoders import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder
from .base import MODEL_REGISTRY, Encoding, LatentModel, ModelOutput, build_model, register_model
from .cvae import ConditionalVAE
from .vae import VAE

__all__ = [
    "MODEL_REGISTRY",
    "VAE",
    "Autoencoder",
    "ConditionalVAE",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "Encoding",
    "LatentModel",
    "ModelOutput",
    "SparseAutoencoder",
    "build_model",
    "register_model",
]
