"""One upload cap (vae_core.engine.limits.MAX_UPLOAD_MB): the browser's uploaders, the server and the decoder agree.

A cap the uploader enforces above the decoder's would let a user send a file only to be told afterwards that it
is too large; one below it would make the decoder's own check (and its message) unreachable.
"""

from __future__ import annotations

import ast
import inspect
import io
import tomllib

import pytest
from PIL import Image

from tests.app.conftest import REPO_ROOT
from ui.shell.lessons import LESSONS
from vae_core.engine import limits
from vae_core.serving.preprocess import ImageInputError, decode_data_url, load_image

# The two places that draw an uploader (ui.widgets.image_chooser, ui.widgets.shared.digit_picker), each reached on
# a page that is quick to open: (lesson, the clicks that reveal its uploaders).
UPLOAD_PAGES = {
    "interpolation": [("radio", "interp_a_source", "upload"), ("radio", "interp_b_source", "upload")],
    "elbo_breakdown": [("radio", "elbo_source", "upload")],
    "inference": [("radio", "inference_source", "own"), ("radio", "inference_own_source", "upload")],
}


def test_the_cap_is_whole_megabytes_as_streamlit_counts_them():
    assert limits.MAX_UPLOAD_BYTES == limits.MAX_UPLOAD_MB * 2**20


def test_the_servers_upload_limit_is_the_same_cap():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == limits.MAX_UPLOAD_MB


def test_the_decoders_default_limits_are_the_same_cap():
    assert inspect.signature(load_image).parameters["max_bytes"].default == limits.MAX_UPLOAD_BYTES
    assert inspect.signature(decode_data_url).parameters["max_bytes"].default == limits.MAX_UPLOAD_BYTES


def png_of_size(size: int) -> bytes:
    """A valid 28x28 PNG padded to exactly size bytes (Pillow ignores what follows the IEND chunk)."""
    buffer = io.BytesIO()
    Image.new("L", (28, 28)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return data + bytes(size - len(data))


def test_the_decoder_takes_a_file_at_the_cap_and_refuses_one_byte_more():
    assert load_image(png_of_size(limits.MAX_UPLOAD_BYTES)).size == (28, 28)
    with pytest.raises(ImageInputError, match=f"the limit is {limits.MAX_UPLOAD_MB:.1f} MB"):
        load_image(png_of_size(limits.MAX_UPLOAD_BYTES + 1))


@pytest.mark.parametrize("page", sorted(UPLOAD_PAGES))
def test_every_uploader_on_the_page_enforces_the_cap(page, open_page):
    at = open_page(LESSONS[page].script)
    for kind, key, value in UPLOAD_PAGES[page]:
        at.get(kind)  # the widget lists are rebuilt after each run
        getattr(at, kind)(key=key).set_value(value).run()
        assert not at.exception, [e.value for e in at.exception]
    uploaders = at.get("file_uploader")
    assert len(uploaders) == sum(step[2] == "upload" for step in UPLOAD_PAGES[page]), page
    assert {u.proto.max_upload_size_mb for u in uploaders} == {limits.MAX_UPLOAD_MB}


def test_every_uploader_in_the_code_passes_the_cap():
    # The AppTests above reach each call site through one page; this catches an uploader added anywhere else.
    calls = []
    for path in sorted([*(REPO_ROOT / "ui").rglob("*.py"), *(REPO_ROOT / "pages").glob("*.py"), REPO_ROOT / "app.py"]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "file_uploader":
                passed = {k.arg: ast.unparse(k.value) for k in node.keywords}
                calls.append((path.name, node.lineno, passed.get("max_upload_size")))
    assert len(calls) >= 2, calls
    assert all(cap == "limits.MAX_UPLOAD_MB" for _, _, cap in calls), calls
