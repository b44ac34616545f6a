"""Writing files atomically: readers see the old file or the new one, never a half-written one.

Also the two things a folder of such files needs when several writers share it:
- temp files of writers that were killed (SIGKILL, power loss) are removed by the next save or listing;
- claim_path reserves a free name (stem.safetensors, stem-2.safetensors, ...) atomically, for jobs that save much later.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from vae_core.engine import limits

# .NAME.<32 hex>-<writer pid>.tmp; files of older versions have no pid (.NAME.<32 hex>.tmp) and go by age alone.
_TEMP_PATTERN = re.compile(r"^\..+\.[0-9a-f]{32}(?:-(\d{1,10}))?\.tmp$")
_CLAIM_SUFFIX = ".claim"  # .NAME.claim holds "pid@host" of the process that reserved NAME (older ones: the pid)
# A killed writer's temp file is left this long after its last write even when its pid is gone: a writer on
# another machine sharing the folder has a pid that means nothing here, but its file's mtime keeps moving.
_DEAD_WRITER_GRACE_SECONDS = 60


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call write(handle) on a temp file beside path, fsync it, then os.replace it onto path.

    The temp file sits in the same folder (so os.replace is atomic) under a unique name that carries the
    writer's pid, and is opened with "xb" rather than mkstemp so it gets the usual umask permissions instead
    of 0600. On any error the temp file is removed and an existing file at path is left untouched. A Ctrl-C
    (SIGINT) during the write, in the main thread, is held until write returns, then the temp file is removed
    and KeyboardInterrupt raised: an interrupted writer otherwise ends in an unrelated error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    tmp_name = path.with_name(f".{path.name}.{uuid.uuid4().hex}-{os.getpid()}.tmp")
    try:
        with _sigint_held() as interrupted, open(tmp_name, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if interrupted():
            raise KeyboardInterrupt
        os.replace(tmp_name, path)
    except BaseException as err:
        tmp_name.unlink(missing_ok=True)
        if not isinstance(err, KeyboardInterrupt) and _caused_by_interrupt(err):
            raise KeyboardInterrupt from None
        raise
    return path


def remove_stale_temp_files(folder: str | Path, now: float | None = None) -> list[Path]:
    """Remove the temp files (and name claims) of writers that are gone; returns what was removed.

    A temp file is stale when its writer's pid is not running and it has not been written for a minute, or
    whatever its pid when it is older than limits.STALE_TEMP_SECONDS (pids are reused). A claim is stale when
    the pid it holds is not running. Only names of exactly these patterns are touched; errors (a read-only
    folder, a file another cleaner removed first) are ignored.
    """
    folder = Path(folder)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            match = _TEMP_PATTERN.match(entry.name)
            if match:
                age = now - entry.stat(follow_symlinks=False).st_mtime
                pid = int(match.group(1)) if match.group(1) else None
                stale = age > limits.STALE_TEMP_SECONDS or (
                    pid is not None and age > _DEAD_WRITER_GRACE_SECONDS and not _pid_running(pid)
                )
            elif entry.name.startswith(".") and entry.name.endswith(_CLAIM_SUFFIX):
                stale = not _claim_alive(Path(entry.path), now)
            else:
                continue
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except (OSError, ValueError):
            continue
    return removed


def claim_path(folder: str | Path, stem: str, suffix: str) -> Path:
    """Reserve and return the first free name of folder/stem{suffix}, folder/stem-2{suffix}, ...

    Free means: no such file and no live claim on it. The claim is a hidden file `.NAME.claim` created with
    O_CREAT | O_EXCL on the file system (atomic, so two threads, two server processes, or two machines sharing
    the folder over NFS never get the same name) holding "pid@host" of this process; it lasts until
    release_claim(path) (save_checkpoint calls it after a successful write) or until this process is gone. A
    claim made on another machine is kept until released: its pid cannot be checked from here. stem must
    already be a safe file stem (checkpoint_info.safe_checkpoint_name).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    for n in range(1, 100_000):
        path = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        claim = _claim_file(path)
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}@{socket.gethostname()}")
        if os.path.lexists(path):  # taken by a file written without a claim
            claim.unlink(missing_ok=True)
            continue
        return path
    raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")


def release_claim(path: str | Path) -> None:
    """Drop the claim on path made by claim_path, if any."""
    _claim_file(Path(path)).unlink(missing_ok=True)


def _claim_file(path: Path) -> Path:
    return path.with_name(f".{path.name}{_CLAIM_SUFFIX}")


def _claim_alive(claim: Path, now: float) -> bool:
    try:
        pid, _, host = claim.read_text()[:300].strip().partition("@")
        if pid.isdigit() and host and host != socket.gethostname():
            return True  # another machine's process: its pid means nothing here (a skipped name costs nothing)
        if pid.isdigit():
            return _pid_running(int(pid))
        # Empty: its writer is between O_EXCL and writing its pid, or died there.
        return now - claim.stat().st_mtime < _DEAD_WRITER_GRACE_SECONDS
    except (OSError, ValueError):
        return True  # when in doubt, keep the reservation: a skipped name costs nothing


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def _sigint_held() -> Iterator[Callable[[], bool]]:
    """In the main thread, hold SIGINT until the block ends; yields a function saying whether one arrived."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except (ValueError, OSError):  # not in the main interpreter, or signals unavailable
        yield lambda: False
        return
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)


def _caused_by_interrupt(err: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in err's chain (torch's writer turns one into a RuntimeError)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False
