"""Widget and component keys that depend on a model or other data: a fixed prefix and a digest, never the string.

A key that held a model's name broke pages for everyone who picked a model the Train page had saved as `my__vae`:
Streamlit's components v2 refuse an id with `__` (BidiComponentInvalidIdError), and a name can hold any character
a file name may. A digest of the parts keeps keys apart for different models and stable for the same one.
"""

from __future__ import annotations

import hashlib
import re

_PREFIX = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")  # lower-case words joined by single underscores
_DIGEST_CHARS = 16  # 64 bits of SHA-256: no two of a session's models or settings collide in practice


def keyed(prefix: str, *parts: object) -> str:
    """`<prefix>_<digest of the parts>`: prefix is the code's own (e.g. "latent_pad_left"), parts may come from a
    user or a file (a model's registry key, a projection)."""
    assert _PREFIX.fullmatch(prefix), f"a key prefix is lower-case words joined by single underscores: {prefix!r}"
    text = "\x1f".join(f"{type(part).__name__}:{part}" for part in parts)  # the unit separator: no part splits
    return f"{prefix}_{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:_DIGEST_CHARS]}"
