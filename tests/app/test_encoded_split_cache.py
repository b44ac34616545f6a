"""ui.state.derived.encode_split: the encoder's output over a split, equal to the model's own encodings, kept on disk
keyed by the checkpoint's content (a changed checkpoint is encoded again, a restarted server reads it back)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import load_dataset
from vae_core.engine.registry import ModelRef


@pytest.fixture
def derived(app_env):
    import ui.state.derived as derived

    derived.encode_split.clear()
    yield derived
    derived.encode_split.clear()


def expected_encoding(path) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's encodings of the digits test split, computed here in one batch (the tiny zoo's models are trained
    on grey levels, so the split is encoded as it is)."""
    model, _ = load_checkpoint(path)
    with torch.no_grad():
        encoding = model.eval().encode(load_dataset("digits", "test").images)
    stds = None if encoding.logvar is None else (0.5 * encoding.logvar).exp().numpy()
    return encoding.mean.numpy(), stds


def restarted(derived, monkeypatch) -> list:
    """Forget the in-memory cache, as a new server process would, and count the encoder passes made from now on."""
    derived.encode_split.clear()
    passes: list = []
    encode = derived._encode

    def counted(*args):
        passes.append(args)
        return encode(*args)

    monkeypatch.setattr(derived, "_encode", counted)
    return passes


def test_the_encodings_are_the_models_own(derived, app_env):
    for path in (app_env.vae_2d, app_env.ae_2d):
        encoded = derived.encode_split(ModelRef("id", str(path)), "digits")
        means, stds = expected_encoding(path)
        np.testing.assert_allclose(encoded.means, means, rtol=1e-5, atol=1e-6)
        if stds is None:
            assert encoded.stds is None
        else:
            np.testing.assert_allclose(encoded.stds, stds, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(encoded.labels, load_dataset("digits", "test").labels.numpy())


def test_a_restarted_server_reads_them_back_and_a_changed_checkpoint_is_encoded_again(
    derived, app_env, tmp_path, monkeypatch
):
    path = tmp_path / "model.safetensors"
    shutil.copy2(app_env.vae_2d, path)
    first = derived.encode_split(ModelRef("id", str(path)), "digits")

    passes = restarted(derived, monkeypatch)
    again = derived.encode_split(ModelRef("id", str(path)), "digits")
    assert passes == []  # read from disk, no encoder pass
    np.testing.assert_array_equal(again.means, first.means)
    np.testing.assert_array_equal(again.stds, first.stds)
    np.testing.assert_array_equal(again.labels, first.labels)

    shutil.copy2(app_env.vae_4d, path)  # the same file name, other content: the registry gives it a new id
    passes = restarted(derived, monkeypatch)
    changed = derived.encode_split(ModelRef("id-after-the-change", str(path)), "digits")
    assert len(passes) == 1
    np.testing.assert_allclose(changed.means, expected_encoding(app_env.vae_4d)[0], rtol=1e-5, atol=1e-6)
