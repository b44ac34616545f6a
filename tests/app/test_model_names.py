"""A model's name never goes into a widget or component key: any name a file may have opens every page.

The Train page saved `my__vae`; Latent space, Interpolation and Decoder grid then failed with Streamlit's
BidiComponentInvalidIdError (a components v2 id may not hold `__`). Keys are a prefix and a digest
(ui/widgets/keys.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE, APP_TIMEOUT_S
from tests.conftest import train_tiny_checkpoint
from ui.shell.lessons import LESSONS
from ui.shell.sidebar import MODEL_KEY
from ui.widgets.keys import keyed

# One name per class of character a file name may hold (none may hold "/" or NUL).
NAMES = {
    "double underscore": "my__vae",
    "leading underscores": "__vae__",
    "spaces": "my vae  two",
    "punctuation": "v!@#$%^&()+=[]{};',~`.x",
    "markdown": "**b** [l](x) <i>",
    "non-ASCII": "ünï-cødé-中文-🙂",
    "bidi": "vae\u202egpj",
    "dots": "..vae..",
}
PAGES = ("latent_space", "interpolation", "decoder_grid")  # the pages whose keys held the model's key


@pytest.fixture(scope="module")
def named_models(tmp_path_factory) -> Path:
    """A user folder with one tiny 2-D VAE and one 4-D VAE under each name (copies: only the names differ)."""
    folder = tmp_path_factory.mktemp("named_models")
    z2 = train_tiny_checkpoint(folder / "source-z2.safetensors", epochs=1)
    z4 = train_tiny_checkpoint(folder / "source-z4.safetensors", epochs=1, latent_dim=4)
    for name in NAMES.values():
        shutil.copy(z2, folder / f"{name}.safetensors")
        shutil.copy(z4, folder / f"{name}-z4.safetensors")
    z2.unlink()
    z4.unlink()
    return folder


def open_with(model: str, slug: str) -> AppTest:
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    at.query_params.update(dataset="digits", model=model)
    at.switch_page(LESSONS[slug].script).run()
    return at


def test_keys_are_a_prefix_and_a_digest_whatever_the_name():
    keys = {keyed("latent_pad", "VAE", f"user/{name}") for name in NAMES.values()}
    assert len(keys) == len(NAMES), "different models, different keys"
    for key in keys:
        prefix, digest = key.rsplit("_", 1)
        assert prefix == "latent_pad" and len(digest) == 16 and digest.isalnum(), key
        assert "__" not in key
    assert keyed("a", "x", "y") != keyed("a", "x\x1fy"), "parts do not run together"
    assert keyed("a", 1) != keyed("a", "1")
    with pytest.raises(AssertionError):
        keyed("Bad__prefix", "x")


@pytest.mark.parametrize("slug", PAGES)
def test_a_model_named_with_a_double_underscore_opens_the_pages_that_key_on_it(
    app_env, navigation_only, named_models, monkeypatch, slug
):
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(named_models))
    for model in ("user/my__vae", "user/my__vae-z4"):
        at = open_with(model, slug)
        assert not at.exception, (model, at.exception)
        assert at.sidebar.selectbox(key=MODEL_KEY).value == model


@pytest.mark.slow
@pytest.mark.parametrize("slug", PAGES)
@pytest.mark.parametrize("kind", list(NAMES))
def test_every_class_of_name_opens_the_pages(app_env, navigation_only, named_models, monkeypatch, slug, kind):
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(named_models))
    for model in (f"user/{NAMES[kind]}", f"user/{NAMES[kind]}-z4"):
        at = open_with(model, slug)
        assert not at.exception, (model, at.exception)
        assert at.sidebar.selectbox(key=MODEL_KEY).value == model
