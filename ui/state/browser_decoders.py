"""Cached browser payloads of models' decoders (vae_core.serving.decoder_export), for ui/widgets/latent_pad.py."""

from __future__ import annotations

from typing import Any

import streamlit as st

from vae_core.engine.registry import ModelRef
from vae_core.serving.decoder_export import UnsupportedDecoder, export_decoder

from .loaders import load_model

__all__ = ["UnsupportedDecoder", "browser_decoder"]


@st.cache_resource(max_entries=32, show_spinner=False)
def browser_decoder(ref: ModelRef) -> dict[str, Any]:
    """The model's decoder as a browser payload (shared, read-only). Raises UnsupportedDecoder for conv models."""
    return export_decoder(load_model(ref)).to_payload()
