"""Strings that come from files (names, metadata, problem messages), shown as they are, never as Markdown."""

from __future__ import annotations

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that make links, images, HTML,
# emphasis, code, tables, headings, GFM autolinks (the ':' of "https:") and Streamlit's own directives
# (:red[...], :material/...:, $maths$). "-", "." and "+" start lists only at the start of a line: harmless.
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#!|~$:")


def literal(text: object) -> str:
    """`text` with every Markdown special character escaped, so st.markdown / st.caption show it verbatim."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIALS else c for c in str(text))
