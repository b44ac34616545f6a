"""An MLP decoder as a compact, JSON-friendly spec a browser can run (the app's live latent pad).

A decoder made by vae_core.engine.models.bodies.MLPDecoder is a stack of Linear layers with a ReLU after each but the
last; the model then turns the last layer's output into an image in [0, 1]: a sigmoid for a Bernoulli decoder
(the output is logits), a clamp for a Gaussian one (the output is the mean). `export_decoder` reads exactly that
out of a model; `DecoderSpec.to_payload` packs the weights as base64 little-endian float16 when that is exact
(the shipped checkpoints store float16 weights) and float32 otherwise, and gives the payload a fingerprint of
its bytes, so a browser that already holds it need not be sent it again. `DecoderSpec.decode` is the same
arithmetic in numpy: the reference the browser's decoder is tested against.

Conv decoders are refused with UnsupportedDecoder: they decode on the server as before.
The codes a pad draws under the decoder travel the same way (`codes_payload`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

PAYLOAD_FORMAT = "vle-mlp-decoder/1"
CODES_FORMAT = "vle-codes/1"
OUTPUT_SIGMOID = "sigmoid"  # Bernoulli decoder: the last layer gives logits, the image is their sigmoid
OUTPUT_CLAMP = "clamp"  # Gaussian decoder: the last layer gives the mean, clamped to [0, 1]
OUTPUTS = {"bernoulli": OUTPUT_SIGMOID, "gaussian": OUTPUT_CLAMP}


class UnsupportedDecoder(ValueError):
    """This decoder cannot be exported for the browser; the message says why (conv decoders, unknown layers)."""


@dataclass(frozen=True)
class DenseLayer:
    """y = weight @ x + bias, then a ReLU if relu."""

    weight: np.ndarray  # (out_features, in_features) float32, as nn.Linear stores it
    bias: np.ndarray  # (out_features,) float32
    relu: bool

    def __post_init__(self) -> None:
        assert self.weight.ndim == 2 and self.bias.shape == (self.weight.shape[0],), (
            f"weight (out, in) and bias (out,), got {self.weight.shape} and {self.bias.shape}"
        )


@dataclass(frozen=True)
class DecoderSpec:
    """Everything needed to run an MLP decoder: its layers and how its output becomes pixels."""

    latent_dim: int
    output_shape: tuple[int, int, int]  # C, H, W of one decoded image
    output: str  # OUTPUT_SIGMOID or OUTPUT_CLAMP
    layers: tuple[DenseLayer, ...]

    def __post_init__(self) -> None:
        assert self.output in (OUTPUT_SIGMOID, OUTPUT_CLAMP), f"unknown output {self.output!r}"
        assert self.layers, "a decoder needs at least one layer"
        widths = [self.latent_dim] + [layer.weight.shape[0] for layer in self.layers]
        for layer, width in zip(self.layers, widths[:-1], strict=True):
            assert layer.weight.shape[1] == width, f"layer expects {layer.weight.shape[1]} inputs, gets {width}"
        assert widths[-1] == int(np.prod(self.output_shape)), (
            f"the last layer gives {widths[-1]} values for images shaped {self.output_shape}"
        )

    @property
    def n_parameters(self) -> int:
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images (N, C, H, W) in [0, 1] for codes (N, latent_dim), in float32 like torch's decode."""
        h: np.ndarray = np.asarray(codes, dtype=np.float32)
        assert h.ndim == 2 and h.shape[1] == self.latent_dim, f"codes must be (N, {self.latent_dim}), got {h.shape}"
        for layer in self.layers:
            h = h @ layer.weight.T + layer.bias
            if layer.relu:
                h = np.maximum(h, 0.0)
        if self.output == OUTPUT_SIGMOID:
            with np.errstate(over="ignore"):  # exp(-h) overflows to inf for very negative logits: sigmoid 0
                h = 1.0 / (1.0 + np.exp(-h))
        return np.clip(h, 0.0, 1.0).astype(np.float32).reshape(len(h), *self.output_shape)

    def to_payload(self, dtype: str | None = None) -> dict[str, Any]:
        """A JSON-friendly dict: shapes, the output rule, base64 weights, and a fingerprint of all of it.

        dtype: "float16" or "float32"; None picks float16 when every weight survives the round trip exactly.
        """
        arrays = [a for layer in self.layers for a in (layer.weight, layer.bias)]
        if dtype is None:
            dtype = "float16" if all(_exact_in_float16(a) for a in arrays) else "float32"
        if dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be float16 or float32, got {dtype!r}")
        layers = [
            {
                "in": int(layer.weight.shape[1]),
                "out": int(layer.weight.shape[0]),
                "relu": layer.relu,
                "weight": pack_array(layer.weight, dtype),
                "bias": pack_array(layer.bias, dtype),
            }
            for layer in self.layers
        ]
        payload = {
            "format": PAYLOAD_FORMAT,
            "latent_dim": self.latent_dim,
            "output_shape": list(self.output_shape),
            "output": self.output,
            "dtype": dtype,
            "layers": layers,
        }
        payload["fingerprint"] = fingerprint(payload)
        return payload


def export_decoder(model) -> DecoderSpec:
    """The decoder of an MLP LatentModel as a DecoderSpec (float32 copies of its weights).

    Raises UnsupportedDecoder for conv decoders, decoders that also take a label (the conditional VAE), and for
    anything but Linear / ReLU / Unflatten layers.
    """
    from torch import nn  # imported here: the rest of this module (payloads, decoding) needs numpy only

    from vae_core.engine.models.bodies import MLPDecoder

    config = model.config
    if config.arch != "mlp" or not isinstance(getattr(model, "decoder", None), MLPDecoder):
        raise UnsupportedDecoder(
            f"the browser decoder runs MLP decoders only; this model's decoder is "
            f"{config.arch!r}, so it decodes on the server"
        )
    if config.needs_labels:  # its MLPDecoder reads [z, onehot(y)]: the browser decoder has no label input
        raise UnsupportedDecoder("the browser decoder takes a code only; this model also needs a label")
    layers: list[DenseLayer] = []
    for module in model.decoder.net:
        if isinstance(module, nn.Linear):
            layers.append(
                DenseLayer(
                    module.weight.detach().cpu().float().numpy().copy(),
                    module.bias.detach().cpu().float().numpy().copy(),
                    relu=False,
                )
            )
        elif isinstance(module, nn.ReLU) and layers and not layers[-1].relu:
            last = layers.pop()
            layers.append(DenseLayer(last.weight, last.bias, relu=True))
        elif not isinstance(module, nn.Unflatten):
            raise UnsupportedDecoder(f"the browser decoder knows Linear and ReLU layers, not {type(module).__name__}")
    return DecoderSpec(config.latent_dim, tuple(config.input_shape), OUTPUTS[config.likelihood], tuple(layers))


def decoder_from_payload(payload: dict[str, Any]) -> DecoderSpec:
    """The inverse of DecoderSpec.to_payload (checks the format and the fingerprint)."""
    if payload.get("format") != PAYLOAD_FORMAT:
        raise ValueError(f"not a {PAYLOAD_FORMAT} payload: format {payload.get('format')!r}")
    if payload.get("fingerprint") != fingerprint(payload):
        raise ValueError("the payload's fingerprint does not match its contents")
    dtype = payload["dtype"]
    layers = tuple(
        DenseLayer(
            unpack_array(layer["weight"], dtype).reshape(layer["out"], layer["in"]),
            unpack_array(layer["bias"], dtype),
            bool(layer["relu"]),
        )
        for layer in payload["layers"]
    )
    return DecoderSpec(int(payload["latent_dim"]), tuple(payload["output_shape"]), payload["output"], layers)


def codes_payload(codes: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Codes (N, D) as float16 and their labels (N,) as uint8, base64, with a fingerprint: what a pad draws.

    float16 keeps about three significant digits: plenty for dots on a few hundred pixels.
    """
    codes = np.asarray(codes, dtype=np.float32)
    labels = np.asarray(labels)
    assert codes.ndim == 2 and labels.shape == (len(codes),), (
        f"codes (N, D) and labels (N,), got {codes.shape} and {labels.shape}"
    )
    assert labels.size == 0 or (labels.min() >= 0 and labels.max() < 256), "labels must fit in a byte"
    payload = {
        "format": CODES_FORMAT,
        "n": len(codes),
        "dim": int(codes.shape[1]),
        "codes": pack_array(codes, "float16"),
        "labels": base64.b64encode(labels.astype(np.uint8).tobytes()).decode(),
    }
    payload["fingerprint"] = fingerprint(payload)
    return payload


def pack_array(array: np.ndarray, dtype: str) -> str:
    """A float array, flattened in C order, as base64 of its little-endian float16 or float32 bytes."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def unpack_array(text: str, dtype: str) -> np.ndarray:
    """The inverse of pack_array: a flat float32 array."""
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<")).astype(np.float32)


def fingerprint(payload: dict[str, Any]) -> str:
    """16 hex digits of SHA-256 over everything in the payload but its fingerprint (a browser-side cache key)."""
    digest = hashlib.sha256()
    for key in sorted(k for k in payload if k != "fingerprint"):
        digest.update(key.encode())
        digest.update(repr(payload[key]).encode())
    return digest.hexdigest()[:16]


def payload_bytes(payload: dict[str, Any]) -> int:
    """The payload's size as JSON text, in bytes (what travels to the browser)."""
    import json

    return len(json.dumps(payload, separators=(",", ":")).encode())


def _exact_in_float16(array: np.ndarray) -> bool:
    array = np.asarray(array, dtype=np.float32)
    return bool(np.array_equal(array.astype(np.float16).astype(np.float32), array))
