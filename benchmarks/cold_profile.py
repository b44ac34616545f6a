"""Where a cold direct link's time goes: a fresh `streamlit run`, a link straight to a lesson, profiled. Prints figures.

    python benchmarks/cold_profile.py                          # Decoder grid, MNIST
    python benchmarks/cold_profile.py --lesson interpolation --top 40
    python benchmarks/cold_profile.py --after-home 10     # the link opened after 10 s on the home page

The server runs under `python -X importtime` with every script run's thread profiled by cProfile (this file is its
launcher, as benchmarks/timed_streamlit.py is for app_latency.py). Headless Chromium opens the link once the server
answers; the clock starts at that request. Printed:

- the request's timeline: request sent, each script run's start and end on the server (a first run in Streamlit's
  legacy pages mode reruns at once, ui/shell/navigation.py), the page idle in the browser;
- the slowest top-level imports made after the server answered (what the first runs imported), with their
  cumulative import time (`-X importtime` figures: wall time of each import, nested ones included);
- the functions with the largest cumulative time in those runs (cProfile; imports show as `<frozen importlib...>`).

The floor beside it: `python -c "import torch"` timed in fresh processes (--floor N).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

PROFILE_ENV = "BENCH_PROFILE_DIR"  # the launcher writes run-<n>.prof and runs.jsonl here
SERVE_FLAG = "--serve"  # argv[1] when this file is the server's launcher


def serve() -> None:
    """Streamlit's CLI with each script run profiled (ScriptRunner._run_script is internal: a benchmark aid only)."""
    from streamlit.runtime.scriptrunner import script_runner

    folder = Path(os.environ[PROFILE_ENV])
    original = script_runner.ScriptRunner._run_script
    count = iter(range(1_000_000))
    lock = threading.Lock()

    def profiled(self, rerun_data):
        with lock:
            n = next(count)
        profile = cProfile.Profile()
        start = time.time()
        profile.enable()
        try:
            return original(self, rerun_data)
        finally:
            profile.disable()
            end = time.time()
            profile.dump_stats(folder / f"run-{n}.prof")
            with lock, open(folder / "runs.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps({"run": n, "start": start, "end": end}) + "\n")

    setattr(script_runner.ScriptRunner, "_run_script", profiled)  # noqa: B010 (mypy: no assigning to a method)
    from streamlit.web.cli import main

    sys.argv = ["streamlit", *sys.argv[2:]]
    sys.exit(main())


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def top_imports(stderr: str, top: int) -> list[str]:
    """The slowest top-level imports (cumulative µs) in an `-X importtime` log."""
    rows = []
    for line in stderr.splitlines():
        found = IMPORT_LINE.match(line)
        if found and len(found.group(3)) == 1:  # one space of indent: imported by non-import code
            rows.append((int(found.group(2)), found.group(4)))
    rows.sort(reverse=True)
    total = sum(us for us, _ in rows)
    lines = [f"top-level imports during the runs: {total / 1e6:.2f} s in all ({len(rows)} modules)"]
    lines += [f"  {us / 1e6:6.2f} s  {name}" for us, name in rows[:top]]
    return lines


def profile_lines(files: list[Path], top: int) -> list[str]:
    stats = pstats.Stats(*(str(f) for f in files), stream=open(os.devnull, "w"))  # noqa: SIM115 (pstats keeps it)
    rows = []
    for (file_name, line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((ct, f"{Path(file_name).name}:{line}({func})" if line else func))
    rows.sort(reverse=True)
    return [f"  {ct:6.2f} s  {name}" for ct, name in rows[:top]]


def torch_floor(runs: int) -> list[str]:
    """`python -c "import torch"` in fresh processes: the least a page that needs torch can cost."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - start
    return [
        f"floor: python -c 'import torch' {', '.join(f'{t:.2f}' for t in times)} s "
        f"(min {min(times):.2f} s; a bare python start {bare:.2f} s)"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", default="decoder_grid", help="the lesson's slug (ui/shell/lessons.py)")
    parser.add_argument("--query", default="", help="a query string for the link, e.g. dataset=digits")
    parser.add_argument("--top", type=int, default=25, help="rows of each list")
    parser.add_argument("--floor", type=int, default=3, help="fresh `import torch` processes timed (0: none)")
    parser.add_argument(
        "--after-home", type=float, default=None, metavar="S", help="open the home page first and wait S seconds"
    )
    parser.add_argument("--keep", default=None, help="copy the .prof files and the import log to this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    from playwright.sync_api import sync_playwright

    from tools.app_browser import APP_IDLE, chromium_page, free_port, start_app, stop_app, wait_until_healthy
    from ui.shell.lessons import LESSONS

    os.chdir(REPO_ROOT)
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    url_path = LESSONS[args.lesson].slug
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright, chromium_page(playwright) as page:
        folder = Path(tmp)
        log_path = folder / "server.log"
        port = free_port()
        launcher = ("-X", "importtime", str(Path(__file__).resolve()), SERVE_FLAG)
        process = start_app(port, env={PROFILE_ENV: str(folder)}, log_path=log_path, launcher=launcher)
        try:
            wait_until_healthy(port, process, timeout_s=120)
            if args.after_home is not None:  # a student who reads the home page first: the warm-up has its time
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector('[data-testid="stMain"] h1', timeout=120_000)
                page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)
                page.wait_for_timeout(args.after_home * 1000)
            marker = log_path.stat().st_size  # imports after this offset were made by the runs
            first_run = len((folder / "runs.jsonl").read_text().splitlines()) if args.after_home is not None else 0
            fetched: list[tuple[float, str]] = []  # (unix time, URL) of each response finished
            page.on("requestfinished", lambda request: fetched.append((time.time(), request.url)))
            requested = time.time()
            page.goto(f"http://127.0.0.1:{port}/{url_path}" + (f"?{args.query}" if args.query else ""))
            page.wait_for_selector('[data-testid="stMain"] h1', timeout=120_000)
            page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)
            idle = time.time()
            page.wait_for_timeout(300)  # the run's profile is written once it returns
        finally:
            stop_app(process)
        stderr = log_path.read_bytes()[marker:].decode(errors="replace")
        runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()][first_run:]
        after = f" after {args.after_home:g} s on the home page" if args.after_home is not None else ""
        print(f"-- a link straight to {args.lesson}{after}: timeline from the request (s)")
        for run in runs:
            print(f"  run {run['run']}: {run['start'] - requested:6.2f} -> {run['end'] - requested:6.2f}")
        print(f"  page idle in the browser: {idle - requested:.2f}")
        late = [(at - requested, url) for at, url in fetched if at > runs[-1]["end"]] if runs else []
        for at, url in late[: args.top]:
            print(f"  fetched after the run: {at:6.2f}  {url.split('?')[0][-70:]}")
        for line in top_imports(stderr, args.top):
            print(line)
        profiles = [folder / f"run-{run['run']}.prof" for run in runs]
        print(f"-- cumulative time in the runs ({len(profiles)} profiled)")
        for line in profile_lines(profiles, args.top):
            print(line)
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for f in [*profiles, log_path]:
                (keep / f.name).write_bytes(f.read_bytes())
    if args.floor:
        for line in torch_floor(args.floor):
            print(line)
    print(f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == SERVE_FLAG:
        serve()
    else:
        main()
