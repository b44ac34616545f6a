"""Writing files atomically: readers see the old file or the new one, never a half-written one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call write(handle) on a temp file beside path, fsync it, then os.replace it onto path.

    The temp file sits in the same folder (so os.replace is atomic) under a unique name, and is opened with
    "xb" rather than mkstemp so it gets the usual umask permissions instead of 0600. On any error the temp
    file is removed and an existing file at path is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp_name, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        tmp_name.unlink(missing_ok=True)
        raise
    return path
