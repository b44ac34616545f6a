"""Strings from files and links are shown as text: Markdown in a file name, metadata or a link's value never
becomes a link, an image, HTML, emphasis or a second line; neither does a bare web or e-mail address."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE, APP_TIMEOUT_S
from tests.conftest import train_tiny_checkpoint
from ui.shell.lessons import LESSONS
from vae_core.engine.literal_text import WORD_JOINER, literal

HOSTILE = [
    "[click](https://evil.example)",
    "![x](https://evil.example/a.png)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` $x^2$ :red[alarm] :material/home: # heading",
    "https://evil.example/bare-autolink",
    "www.evil-autolink.example/reset-password",
    "mail@evil.example mailto:someone@evil.example",
    "plain-name_01.safetensors",
]
# CommonMark: a backslash followed by ASCII punctuation stands for that character.
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# What GitHub-flavoured Markdown makes a link of after parsing (remark-gfm's autolink literals): a web address
# starting with www. or http(s)://, or an e-mail address. Each needs its '.', ':' or '@' right after a letter.
AUTOLINK = re.compile(r"(https?://|www\.)|[-.\w+]@[-\w]+\.", re.IGNORECASE)


def shown(escaped: str) -> str:
    """The text Markdown shows for an escaped string, less the invisible word joiners."""
    return UNESCAPE.sub(r"\1", escaped).replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_text_shows_the_original_and_leaves_no_markdown_special_bare(text):
    escaped = literal(text)
    assert shown(escaped) == text
    bare = UNESCAPE.sub("", escaped)  # what is left once every escaped pair is removed
    assert not set(bare) & set("[]()!<>*_`$:#")
    assert not AUTOLINK.search(UNESCAPE.sub(r"\1", escaped)), "an address Markdown would link survives"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line one\nline two\r\nthree\u2028four", "line one line two  three four"),
        ("tab\there", "tab here"),
        ("evil\u202egpj.exe", "evil\ufffdgpj.exe"),  # a bidi override would show the name reversed
        ("zero\u200bwidth", "zero\ufffdwidth"),
        ("β = 4 · Ω ü 中文 🙂", "β = 4 · Ω ü 中文 🙂"),
    ],
)
def test_literal_text_is_one_line_with_nothing_invisible(text, expected):
    assert shown(literal(text)) == expected


def test_a_hostile_file_name_shows_as_text_in_the_sidebar_note(open_page, tmp_path):
    user = tmp_path / "user_checkpoints"
    user.mkdir()
    name = "![x](https:evil.example)[click](https:evil.example).safetensors"
    (user / name).write_bytes(b"PK\x03\x04 cut short")
    at = open_page()
    assert not at.exception, at.exception
    bodies = [w.value for w in at.sidebar.warning]
    shown_bodies = [b for b in bodies if "evil" in b]
    assert shown_bodies, bodies
    assert all("](" not in b and "![" not in b for b in shown_bodies), shown_bodies  # no Markdown link or image
    assert any(shown(b).count(name) == 1 for b in shown_bodies)  # the name itself is all there


HOSTILE_GROUP = "digits-sweep www.evil.example/reset mail@evil.example\n**second line** [x](https://e.example)"


def test_a_sweeps_group_name_shows_as_text_in_the_beta_caption(app_env, navigation_only, tmp_path, monkeypatch):
    user = tmp_path / "hostile_sweep"
    user.mkdir()
    for beta in (0.5, 2.0):
        train_tiny_checkpoint(
            user / f"s-beta{beta:g}.safetensors", epochs=1, beta=beta, role="beta-sweep", group=HOSTILE_GROUP
        )
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(user))
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    at.switch_page(LESSONS["beta_tradeoff"].script).run()
    at.selectbox(key="beta_group").set_value(HOSTILE_GROUP).run()
    assert not at.exception, at.exception
    (caption,) = [c.value for c in at.caption if "models in" in c.value]
    assert shown(caption).startswith(f"2 models in {' '.join(HOSTILE_GROUP.splitlines())}:"), caption
    assert "\n" not in caption and not AUTOLINK.search(UNESCAPE.sub(r"\1", caption)), caption


def test_a_links_data_set_shows_as_text_in_the_sidebar_warning(app_env, navigation_only):
    at = AppTest.from_file(str(APP_FILE), default_timeout=APP_TIMEOUT_S)
    at.query_params["dataset"] = "www.evil-autolink.example/reset-password"
    at.run()
    (warning,) = [w.value for w in at.sidebar.warning if "evil" in w.value]
    assert "www.evil-autolink.example/reset-password" in shown(warning)
    assert not AUTOLINK.search(UNESCAPE.sub(r"\1", warning)), warning
