"""vae_core.engine.atomic_files: the old file survives a failed write, and no temp file is left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vae_core.engine import limits
from vae_core.engine.atomic_files import claim_path, release_claim, remove_stale_temp_files, write_atomically


def test_writes_with_umask_permissions_and_leaves_no_temp_files(tmp_path):
    path = write_atomically(tmp_path / "sub" / "card.md", lambda handle: handle.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in path.parent.iterdir()] == ["card.md"]


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "card.md"
    path.write_bytes(b"old")

    def half_then_fail(handle):
        handle.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- interrupts, stale temp files, name claims ------------------------------------------------------------------


def test_ctrl_c_during_a_write_removes_the_temp_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"old")

    def interrupted(handle):
        handle.write(b"partial")
        os.kill(os.getpid(), signal.SIGINT)  # held until the write returns, then raised
        handle.write(b" more")

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, interrupted)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_an_error_caused_by_an_interrupt_is_reported_as_the_interrupt(tmp_path):
    # torch's writer turns a KeyboardInterrupt into "RuntimeError: [enforce fail ...] unexpected pos".
    def torch_like(handle):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 64")  # noqa: B904 - as torch does, no `from`

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "m.pt", torch_like)
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    now = time.time()
    token = "0123456789abcdef0123456789abcdef"
    dead, alive = _dead_pid(), os.getpid()
    files = {
        f".m.pt.{token}-{dead}.tmp": (now - 120, True),  # writer gone, quiet for 2 minutes
        f".m.pt.{token}-{dead}x.tmp": (now - 10**6, False),  # not the pattern
        f".n.pt.{token}-{dead}.tmp": (now - 5, False),  # writer gone, but written 5 s ago
        f".o.pt.{token}-{alive}.tmp": (now - 120, False),  # writer running
        f".p.pt.{token}.tmp": (now - 2 * limits.STALE_TEMP_SECONDS, True),  # old pattern, old
        f".q.pt.{token}.tmp": (now - 10, False),  # old pattern, recent
        "m.pt": (now - 10**6, False),
        f"m.pt.{token}.tmp": (now - 10**6, False),  # not hidden: not ours
    }
    for name, (mtime, _) in files.items():
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (mtime, mtime))
    removed = remove_stale_temp_files(tmp_path, now=now)
    assert sorted(p.name for p in removed) == sorted(n for n, (_, stale) in files.items() if stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, (_, stale) in files.items() if not stale)


def test_the_next_write_cleans_up_after_a_killed_writer(tmp_path):
    stale = tmp_path / f".m.pt.{'a' * 32}.tmp"
    stale.write_bytes(b"half a checkpoint")
    old = time.time() - 2 * limits.STALE_TEMP_SECONDS
    os.utime(stale, (old, old))
    write_atomically(tmp_path / "other.pt", lambda handle: handle.write(b"new"))
    assert [p.name for p in tmp_path.iterdir()] == ["other.pt"]


def test_claims_give_distinct_names_under_concurrency(tmp_path):
    (tmp_path / "digits-vae-z2.pt").write_bytes(b"an earlier model")  # saved without a claim: never reused
    barrier = threading.Barrier(8)

    def claim(_):
        barrier.wait()
        return claim_path(tmp_path, "digits-vae-z2", ".pt")

    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(claim, range(8)))
    assert sorted(p.name for p in paths) == sorted(f"digits-vae-z2-{n}.pt" for n in range(2, 10))
    for path in paths:
        write_atomically(path, lambda handle, name=path.name: handle.write(name.encode()))
        release_claim(path)
    assert all(path.read_bytes() == path.name.encode() for path in paths)
    assert (tmp_path / "digits-vae-z2.pt").read_bytes() == b"an earlier model"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert claim_path(tmp_path, "digits-vae-z2", ".pt").name == "digits-vae-z2-10.pt"


def test_a_claim_of_a_process_that_is_gone_is_freed(tmp_path):
    (tmp_path / ".m.pt.claim").write_text(str(_dead_pid()))
    (tmp_path / ".n.pt.claim").write_text(str(os.getpid()))
    assert claim_path(tmp_path, "m", ".pt").name == "m.pt"
    assert claim_path(tmp_path, "n", ".pt").name == "n-2.pt"


def _claim_in_a_process(folder: str, barrier, names) -> None:
    """One server process of a deployment: claim the default name, hold it while the other claims, then save."""
    from vae_core.engine.checkpoint_info import SUFFIX, safe_checkpoint_name

    barrier.wait()
    path = claim_path(folder, safe_checkpoint_name("digits vae z2"), SUFFIX)
    barrier.wait()  # both claims are live at once, as for two jobs submitted on two processes
    write_atomically(path, lambda handle: handle.write(str(os.getpid()).encode()))
    release_claim(path)
    names.put((path.name, os.getpid()))


def test_two_processes_claiming_the_same_default_name_get_two_files(tmp_path):
    """Issue #23: behind nginx, two server processes share the user folder; their claims are O_EXCL files."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, names = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_claim_in_a_process, args=(str(tmp_path), barrier, names)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    saved = dict(names.get(timeout=5) for _ in processes)
    assert sorted(saved) == ["digits-vae-z2-2.safetensors", "digits-vae-z2.safetensors"]
    assert {name: int((tmp_path / name).read_bytes()) for name in saved} == saved  # each file is its writer's
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(saved)  # and no claim is left


def test_a_claim_made_on_another_machine_is_kept(tmp_path):
    """A folder shared over NFS: another host's pid cannot be checked here, so its claim holds until released."""
    (tmp_path / ".m.pt.claim").write_text(f"{_dead_pid()}@another-host.example")
    (tmp_path / ".n.pt.claim").write_text(f"{_dead_pid()}@{socket.gethostname()}")
    assert claim_path(tmp_path, "m", ".pt").name == "m-2.pt"
    assert claim_path(tmp_path, "n", ".pt").name == "n.pt"
    assert (tmp_path / ".n.pt.claim").read_text() == f"{os.getpid()}@{socket.gethostname()}"
