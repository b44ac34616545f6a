"""vae_core: autoencoders and VAEs in plain PyTorch, for the VAE Latent Explorer (no Streamlit here).

The public names below are imported on first use, not with the package: `import vae_core.engine.data` or
`vae_core.engine.checkpoint_info` must not load torch (seconds on a small machine), so the app can draw its first
page while torch loads in the background.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that holds it
_EXPORTS = {
    "ModelConfig": "engine.config",
    "TrainConfig": "engine.config",
    "LossTerms": "engine.losses",
    "LatentModel": "engine.models",
    "build_model": "engine.models",
}
__all__ = ["LatentModel", "LossTerms", "ModelConfig", "TrainConfig", "__version__", "build_model"]

if TYPE_CHECKING:
    from vae_core.engine.config import ModelConfig, TrainConfig
    from vae_core.engine.losses import LossTerms
    from vae_core.engine.models import LatentModel, build_model


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'vae_core' has no attribute {name!r}")
