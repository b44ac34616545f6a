"""Strings from files are shown as text: Markdown in a file name or metadata never becomes a link or image."""

from __future__ import annotations

import re

import pytest

from vae_core.engine.literal_text import literal

HOSTILE = [
    "[click](https://evil.example)",
    "![x](https://evil.example/a.png)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` $x^2$ :red[alarm] :material/home: # heading",
    "https://evil.example/bare-autolink",
    "plain-name_01.safetensors",
]
# CommonMark: a backslash followed by ASCII punctuation stands for that character.
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_text_unescapes_to_the_original_and_leaves_no_markdown_special_bare(text):
    escaped = literal(text)
    assert UNESCAPE.sub(r"\1", escaped) == text
    bare = UNESCAPE.sub("", escaped)  # what is left once every escaped pair is removed
    assert not set(bare) & set("[]()!<>*_`$:#")


def test_a_hostile_file_name_shows_as_text_in_the_sidebar_note(open_page, tmp_path):
    user = tmp_path / "user_checkpoints"
    user.mkdir()
    name = "![x](https:evil.example)[click](https:evil.example).safetensors"
    (user / name).write_bytes(b"PK\x03\x04 cut short")
    at = open_page()
    assert not at.exception, at.exception
    bodies = [w.value for w in at.sidebar.warning]
    shown = [b for b in bodies if "evil" in b]
    assert shown, bodies
    assert all("](" not in b and "![" not in b for b in shown), shown  # no Markdown link or image survives
    assert any(UNESCAPE.sub(r"\1", b).count(name) == 1 for b in shown)  # the name itself is all there
