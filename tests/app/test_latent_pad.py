"""The pages hand MLP decoders to the browser: each payload once per session, then only its fingerprint.

AppTest runs no JavaScript; it sees each component as a `bidi_component` element whose JSON is the data the
browser gets. What the browser does with it is tested in test_latent_pad_browser.py.
"""

from __future__ import annotations

import json

import numpy as np

from ui.shell.lessons import LESSONS
from vae_core.engine.data import load_dataset
from vae_core.serving.decoder_export import decoder_from_payload


def components(at, name: str) -> list[dict]:
    """The data of every component `vae_latent_explorer.<name>` on the page, in page order."""
    return [
        json.loads(e.proto.json)
        for e in at.get("bidi_component")
        if e.proto.component_name == f"vae_latent_explorer.{name}"
    ]


def test_the_latent_page_sends_each_decoder_once_then_its_fingerprint(open_page):
    at = open_page(LESSONS["latent_space"].script)
    assert not at.exception
    pads = components(at, "latent_pad")
    assert [p["title"].split(":")[0] for p in pads] == ["Autoencoder", "VAE"]
    assert [p["show_prior"] for p in pads] == [False, True]
    for pad in pads:
        blobs = pad["blobs"]
        assert set(blobs) == {pad["decoder"], pad["codes"]} and all(blobs.values()), "first run: the payloads"
        assert decoder_from_payload(blobs[pad["decoder"]]).latent_dim == 2
        assert blobs[pad["codes"]]["n"] == len(load_dataset("digits", "test"))

    at.number_input(key="latent_index").set_value(5).run()  # any rerun
    again = components(at, "latent_pad")
    assert [p["decoder"] for p in again] == [p["decoder"] for p in pads]
    assert all(v is None for p in again for v in p["blobs"].values()), "later runs: fingerprints only"
    assert len(json.dumps(again)) < 2_000


def test_the_interpolation_knobs_decode_in_the_browser_from_the_start_code(open_page):
    at = open_page(LESSONS["interpolation"].script)
    assert not at.exception
    (knobs,) = components(at, "latent_sliders")
    assert knobs["names"] == ["z₁", "z₂"] and knobs["ranges"] == [[-3.0, 3.0]] * 2  # the VAE: ±3σ of the prior
    assert not [s for s in at.slider if s.label in ("z₁", "z₂")], "no server-side knobs"
    at.radio(key="interp_knob_start").set_value("B").run()
    (from_b,) = components(at, "latent_sliders")
    assert from_b["origin"] != knobs["origin"] and from_b["start"] != knobs["start"]
    assert all(v is None for v in from_b["blobs"].values())
    assert np.all(np.abs(from_b["start"]) <= 3.0)


def test_without_a_browser_decoder_the_pages_decode_on_the_server(open_page, server_side_decoding):
    at = open_page(LESSONS["latent_space"].script)
    assert not at.exception and not components(at, "latent_pad")
    assert "MLP decoders only" in "\n".join(str(i.value) for i in at.info)
    at = open_page(LESSONS["interpolation"].script)
    assert not at.exception and not components(at, "latent_sliders")
    assert [s.label for s in at.slider if s.label in ("z₁", "z₂")] == ["z₁", "z₂"]
