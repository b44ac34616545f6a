"""`python -m deploy.serve`: one address for a class, N Streamlit processes behind nginx (issue #23).

One Streamlit process runs every rerun of every session in one Python interpreter, so it uses about one core
whatever the machine has. This launcher starts N `streamlit run app.py` processes on local ports (127.0.0.1,
headless), writes an nginx config from deploy/nginx.conf.template (sticky sessions by nginx's own cookie,
websocket upgrade for /_stcore/stream) and runs Debian's nginx in front, as the current user, with its pid, logs
and temp files in a run folder. Ctrl-C or SIGTERM stops nginx, then every app, and waits for them. An app
process that dies is started again on its port (its sessions reconnect to a fresh one); nginx dying stops all.

    python -m deploy.serve --processes 2 --port 8501

The processes share what is on disk: checkpoints/ (read only), the user checkpoint folder (names are claimed
with O_CREAT | O_EXCL files, vae_core.engine.atomic_files.claim_path, so claims hold across processes) and the
data folder. Each process keeps its own in-memory caches and jobs board.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vae_core.engine import limits
from vae_core.engine.data import DATA_DIR_ENV
from vae_core.engine.registry import CHECKPOINT_DIR_ENV, USER_CHECKPOINT_DIR_ENV, user_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
COOKIE = "vae_server"  # nginx's sticky-session cookie (deploy/nginx.conf.template)
NGINX_FALLBACK = "/usr/sbin/nginx"  # Debian's, often not on a normal user's PATH
HEALTH_PATH = "/_stcore/health"
START_TIMEOUT_S = 120.0  # a cold Streamlit start imports torch: seconds on a busy 2-core machine
STOP_TIMEOUT_S = 10.0  # then SIGKILL
RESTART_PAUSE_S = 5.0  # an app that keeps dying is restarted at most this often
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Upstream:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 10.0.0.2:8601)")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def render_config(
    upstreams: list[Upstream],
    *,
    listen: str,
    run_dir: Path,
    workers: int = 1,
    access_log: str = "off",  # or "PATH upstream": the template's log format, with the serving app's address
    template: str | None = None,
) -> str:
    """The nginx config for these app servers, listening on listen ("8501" or "0.0.0.0:8501")."""
    if not upstreams:
        raise ValueError("nginx needs at least one app server (--processes or --upstream)")
    # As root, nginx's workers would drop to "nobody", who cannot enter a private run folder: keep them root.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else "# (not root: no user line)"
    values = {
        "USER": user,
        "WORKERS": str(workers),
        "RUN_DIR": str(run_dir.resolve()),
        "ACCESS_LOG": access_log,
        "MAX_BODY_MB": str(limits.MAX_UPLOAD_MB + 1),
        "COOKIE": COOKIE,
        "LISTEN": listen,
        # max_fails / fail_timeout: a dead app is skipped for 5 s, its browsers rehashed to the others meanwhile.
        "SERVERS": "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams),
    }
    text = TEMPLATE.read_text() if template is None else template
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if unknown:
        raise ValueError(f"the nginx template has placeholders the launcher does not fill: {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def find_nginx(explicit: str | None = None) -> str | None:
    """The nginx binary: explicit, else on PATH, else Debian's /usr/sbin/nginx; None when there is none."""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("nginx")
    if found:
        return found
    return NGINX_FALLBACK if os.access(NGINX_FALLBACK, os.X_OK) else None


def nginx_command(nginx: str, config: Path, run_dir: Path, *extra: str) -> list[str]:
    """nginx with its prefix and early error log in run_dir (not /var/log/nginx, which a user cannot write)."""
    return [nginx, "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log"), *extra]


def write_config(run_dir: Path, text: str) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


def check_config(nginx: str, config: Path, run_dir: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a rendered config: returncode 0 when nginx accepts it; its words are in stderr."""
    return subprocess.run(nginx_command(nginx, config, run_dir, "-t"), capture_output=True, text=True, timeout=30)


def app_environment(processes: int) -> dict[str, str]:
    """Every app process gets the same folders, as absolute paths, and a fair share of the cores for torch."""
    env = dict(os.environ)
    for name in (DATA_DIR_ENV, CHECKPOINT_DIR_ENV):
        if env.get(name):
            env[name] = str(Path(env[name]).resolve())
    env[USER_CHECKPOINT_DIR_ENV] = str(user_folder().resolve())
    # N processes each with all cores' worth of torch threads would oversubscribe the machine N times over.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, processes))))
    return env


def streamlit_command(address: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]


def port_is_free(address: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def wait_for_health(port: int, process: subprocess.Popen, what: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll http://127.0.0.1:port/_stcore/health until it answers 200; raises if process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it served")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer {url} within {timeout_s:.0f} s")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a process started in its own session (its whole group), wait, SIGKILL after STOP_TIMEOUT_S."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=STOP_TIMEOUT_S)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


class Stopped(Exception):
    """SIGTERM arrived (Ctrl-C arrives as KeyboardInterrupt)."""


def _raise_stopped(signum, frame) -> None:
    raise Stopped


@dataclass
class App:
    port: int
    process: subprocess.Popen
    started: float


class Deployment:
    """N app processes and nginx in front; start() then supervise() until a signal, then stop()."""

    def __init__(self, args: argparse.Namespace, run_dir: Path):
        self.args = args
        self.run_dir = run_dir
        self.apps: list[App] = []
        self.nginx: subprocess.Popen | None = None
        self.env = app_environment(args.processes)

    def app_ports(self) -> list[int]:
        return [self.args.first_app_port + i for i in range(self.args.processes)]

    def start_app(self, port: int) -> App:
        with open(self.run_dir / f"app-{port}.log", "ab") as log:
            process = subprocess.Popen(
                streamlit_command(self.args.app_address, port),
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the launcher alone, which stops the apps in order
            )
        return App(port, process, time.monotonic())

    def start(self) -> None:
        ports = self.app_ports()
        busy = [p for p in ports if not port_is_free(self.args.app_address, p)]
        if not self.args.no_nginx and not port_is_free(self.args.address, self.args.port):
            busy.append(self.args.port)
        if busy:
            raise SystemExit(f"port(s) {', '.join(map(str, busy))} already in use: choose --port / --first-app-port")
        self.apps = [self.start_app(port) for port in ports]
        for app in self.apps:
            wait_for_health(app.port, app.process, f"the app on port {app.port}")
            print(f"app process {app.process.pid} serving on {self.args.app_address}:{app.port}", flush=True)
        if self.args.no_nginx:
            return
        nginx = find_nginx(self.args.nginx)
        if nginx is None:
            raise SystemExit("nginx not found: install it (Debian: apt-get install nginx) or pass --nginx PATH")
        upstreams = [Upstream("127.0.0.1", port) for port in ports] + self.args.upstream
        listen = f"{self.args.address}:{self.args.port}"
        access_log = f"{self.run_dir.resolve() / 'access.log'} upstream"
        config = write_config(
            self.run_dir, render_config(upstreams, listen=listen, run_dir=self.run_dir, access_log=access_log)
        )
        checked = check_config(nginx, config, self.run_dir)
        if checked.returncode != 0:
            raise SystemExit(f"nginx rejected {config}:\n{checked.stderr}")
        self.nginx = subprocess.Popen(
            nginx_command(nginx, config, self.run_dir, "-g", "daemon off;"),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_health(self.args.port, self.nginx, "nginx")
        print(f"nginx {self.nginx.pid} serving http://{listen}/ over {len(upstreams)} app process(es)", flush=True)

    def supervise(self) -> int:
        """Watch the processes until a signal; restart an app that died. Returns the exit code."""
        while True:
            if self.nginx is not None and self.nginx.poll() is not None:
                print(f"nginx exited with code {self.nginx.returncode}; stopping (see {self.run_dir}/error.log)")
                return 1
            for i, app in enumerate(self.apps):
                code = app.process.poll()
                if code is not None and time.monotonic() - app.started > RESTART_PAUSE_S:
                    print(f"the app on port {app.port} exited with code {code}; starting it again", flush=True)
                    self.apps[i] = self.start_app(app.port)
            time.sleep(0.5)

    def stop(self) -> None:
        """nginx first (no new requests reach a stopping app), then every app, each given STOP_TIMEOUT_S."""
        if self.nginx is not None:
            stop_process(self.nginx, signal.SIGTERM)  # fast shutdown: SIGQUIT would wait for day-long websockets
        for app in self.apps:
            if app.process.poll() is None:
                os.killpg(app.process.pid, signal.SIGTERM)
        for app in self.apps:
            stop_process(app.process)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="app processes (default: cores)")
    parser.add_argument("--port", type=int, default=8501, help="the port students open (nginx)")
    parser.add_argument("--address", default="0.0.0.0", help="the address nginx listens on")
    parser.add_argument("--first-app-port", type=int, default=8601, help="app i listens on this port + i")
    parser.add_argument("--app-address", default="127.0.0.1", help="the address the apps listen on")
    parser.add_argument(
        "--upstream",
        type=Upstream.parse,
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="an app process on another machine, also behind this nginx (repeat for each)",
    )
    parser.add_argument("--no-nginx", action="store_true", help="only the app processes (a second machine)")
    parser.add_argument("--nginx", help="the nginx binary (default: on PATH, else /usr/sbin/nginx)")
    parser.add_argument("--run-dir", type=Path, help="nginx's config, pid, logs; app logs (default: a temp dir)")
    parser.add_argument("--print-config", action="store_true", help="print the nginx config and exit")
    args = parser.parse_args(argv)
    if args.processes < 0 or (args.processes == 0 and not args.upstream):
        parser.error("--processes must be at least 1 (or 0 with --upstream)")
    if args.no_nginx and args.processes == 0:
        parser.error("--no-nginx with --processes 0 would start nothing")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_config:
        upstreams = [Upstream("127.0.0.1", args.first_app_port + i) for i in range(args.processes)] + args.upstream
        run_dir = args.run_dir or Path(tempfile.gettempdir()) / "vae-serve"
        print(render_config(upstreams, listen=f"{args.address}:{args.port}", run_dir=run_dir), end="")
        return 0
    own_run_dir = args.run_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="vae-serve-")) if own_run_dir else args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run folder (nginx config, pid and logs; app logs): {run_dir}", flush=True)
    deployment = Deployment(args, run_dir)
    signal.signal(signal.SIGTERM, _raise_stopped)
    code = 1
    try:
        deployment.start()
        code = deployment.supervise()
    except (KeyboardInterrupt, Stopped):
        code = 0
    except (RuntimeError, TimeoutError) as err:
        print(f"could not start: {err} (logs in {run_dir})", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the shutdown short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stopping nginx and the app processes", flush=True)
        deployment.stop()
        if own_run_dir and code == 0:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
