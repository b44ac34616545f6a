"""Strings that come from files or links (names, metadata, problem messages, a link's values), shown as they are:
never as Markdown or HTML, never as a link, always on one line.

The app's captions and warnings (Streamlit's Markdown) and the model card (GitHub's) render GitHub-flavoured
Markdown, which turns bare web and e-mail addresses into links after parsing, whatever was escaped: a backslash
before the ':' of "https:" or the '.' of "www." does not stop it (checked in Chromium: tests/app/
test_literal_text.py). A word joiner (U+2060, invisible, zero width) before every '.', ':' and '@' does, since no
address pattern spans it.
"""

from __future__ import annotations

import re
import unicodedata

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that make links, images, HTML,
# emphasis, code, tables, headings and Streamlit's own directives (:red[...], :material/...:, $maths$). "-", "."
# and "+" start lists only at the start of a line, and a literal is never at the start of one (no line breaks).
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#!|~$:")
WORD_JOINER = "\u2060"
_ADDRESS_PARTS = frozenset(".:@")  # what every web (www., https:) and e-mail (a@b.c) address pattern needs
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})  # \n, \r, \t, U+2028, U+0085...: one space each
_INVISIBLE = frozenset({"Cf", "Cs", "Co", "Cn"})  # bidi overrides, zero-width characters, unassigned: shown as �


def literal(text: object) -> str:
    """`text` escaped for st.markdown / st.caption / st.warning and the model card: every Markdown special
    character escaped, addresses broken with a word joiner, line breaks as spaces, invisible characters as �."""
    return "".join(_escaped(c) for c in str(text))


def _escaped(c: str) -> str:
    if (flat := _one_line(c)) != c:
        return flat
    escaped = "\\" + c if c in _MARKDOWN_SPECIALS else c
    return WORD_JOINER + escaped if c in _ADDRESS_PARTS else escaped


def literal_code(text: object) -> str:
    """`text` as a Markdown code span (shown verbatim in monospace: nothing in it is Markdown, HTML or a link),
    fenced with more backticks than any run of them in it, on one line with nothing invisible."""
    flat = "".join(_one_line(c) for c in str(text))
    longest_run = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest_run + 1)
    # CommonMark strips one space from each end of a span that starts or ends with a backtick, or is all spaces
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else flat
    return f"{fence}{padded}{fence}"


def _one_line(c: str) -> str:
    category = unicodedata.category(c)
    if category in _LINE_BREAKING:
        return " "
    return "\ufffd" if category in _INVISIBLE else c
