"""The MLP decoder exported for the browser: the same images as torch, compact payloads, conv refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vae_core.engine.models import build_model
from vae_core.serving.decoder_export import (
    OUTPUT_CLAMP,
    OUTPUT_SIGMOID,
    UnsupportedDecoder,
    codes_payload,
    decoder_from_payload,
    export_decoder,
    pack_array,
    payload_bytes,
    unpack_array,
)


def torch_decode(model, codes: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.from_numpy(codes)).numpy()


@pytest.mark.parametrize("kind,likelihood", [("vae", "bernoulli"), ("ae", "gaussian"), ("vae", "gaussian")])
def test_exported_decoder_gives_torchs_images(tiny_config, kind, likelihood):
    torch.manual_seed(0)
    model = build_model(tiny_config(kind=kind, likelihood=likelihood, latent_dim=3)).eval()
    spec = export_decoder(model)
    assert spec.output == (OUTPUT_SIGMOID if likelihood == "bernoulli" else OUTPUT_CLAMP)
    assert [layer.relu for layer in spec.layers] == [True, True, False]  # hidden (32, 16) reversed, then pixels
    assert spec.n_parameters == sum(p.numel() for p in model.decoder.parameters())
    codes = np.random.default_rng(0).normal(scale=3.0, size=(50, 3)).astype(np.float32)
    expected = torch_decode(model, codes)
    np.testing.assert_allclose(spec.decode(codes), expected, atol=1e-6)
    np.testing.assert_allclose(decoder_from_payload(spec.to_payload()).decode(codes), expected, atol=1e-6)


def test_float16_only_when_exact(tiny_config):
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    assert export_decoder(model).to_payload()["dtype"] == "float32"  # fresh float32 weights are not halves
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())  # what a checkpoint saved with half=True loads as
    payload = export_decoder(model).to_payload()
    assert payload["dtype"] == "float16"
    codes = np.random.default_rng(1).normal(size=(20, 2)).astype(np.float32)
    np.testing.assert_allclose(decoder_from_payload(payload).decode(codes), torch_decode(model, codes), atol=1e-6)
    forced = export_decoder(model).to_payload(dtype="float32")
    assert payload_bytes(forced) > 1.8 * payload_bytes(payload)


def test_payload_is_json_and_its_fingerprint_follows_the_weights(tiny_config):
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    payload = export_decoder(model).to_payload()
    assert json.loads(json.dumps(payload)) == payload
    assert export_decoder(model).to_payload()["fingerprint"] == payload["fingerprint"]
    with torch.no_grad():
        model.decoder.net[0].bias[0] += 1.0
    assert export_decoder(model).to_payload()["fingerprint"] != payload["fingerprint"]
    tampered = dict(payload, output="clamp")
    with pytest.raises(ValueError, match="fingerprint"):
        decoder_from_payload(tampered)


def test_conv_decoders_are_refused_with_a_reason(tiny_config):
    model = build_model(tiny_config(arch="conv", hidden_dims=(4, 8))).eval()
    with pytest.raises(UnsupportedDecoder, match="MLP decoders only"):
        export_decoder(model)


def test_a_decoder_that_also_reads_the_label_is_refused(tiny_config):
    # The conditional VAE's MLPDecoder reads [z, onehot(y)]: the browser decoder has no label input.
    with pytest.raises(UnsupportedDecoder, match="also needs a label"):
        export_decoder(build_model(tiny_config(kind="cvae")))


def test_arrays_round_trip_little_endian():
    array = np.array([[0.5, -2.0], [1e-3, 65504.0]], dtype=np.float32)
    np.testing.assert_array_equal(unpack_array(pack_array(array, "float32"), "float32"), array.ravel())
    np.testing.assert_allclose(unpack_array(pack_array(array, "float16"), "float16"), array.ravel(), rtol=1e-3)
    assert unpack_array(pack_array(np.array([1.0]), "float16"), "float16").tobytes() == np.float32(1).tobytes()


def test_codes_payload_packs_codes_and_labels():
    codes = np.array([[0.0, 1.5], [-2.25, 3.0], [10.0, -0.125]], dtype=np.float32)
    payload = codes_payload(codes, np.array([3, 0, 9]))
    assert payload["n"] == 3 and payload["dim"] == 2
    np.testing.assert_array_equal(unpack_array(payload["codes"], "float16").reshape(3, 2), codes)
    with pytest.raises(AssertionError, match="byte"):
        codes_payload(codes, np.array([0, 1, 300]))
