"""vae_core: autoencoders and VAEs in plain PyTorch, for the VAE Latent Explorer (no Streamlit here)."""

__version__ = "0.1.0"

from .config import ModelConfig, TrainConfig  # noqa: E402
from .losses import LossTerms  # noqa: E402
from .models import LatentModel, build_model  # noqa: E402

__all__ = ["LatentModel", "LossTerms", "ModelConfig", "TrainConfig", "__version__", "build_model"]
