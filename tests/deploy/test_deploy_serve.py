"""deploy/: the nginx config the launcher writes, nginx's own check of it, and a real launch behind nginx."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.serve import COOKIE, Upstream, check_config, find_nginx, render_config, write_config
from vae_core.engine import limits

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX = find_nginx()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)")
UPSTREAMS = [Upstream("127.0.0.1", 8601), Upstream("127.0.0.1", 8602), Upstream("10.0.0.2", 8601)]


def test_the_template_renders_every_placeholder(tmp_path):
    text = render_config(UPSTREAMS, listen="0.0.0.0:8501", run_dir=tmp_path)
    assert "{{" not in text and "}}" not in text
    servers = re.findall(r"^\s*server (\S+) max_fails", text, flags=re.MULTILINE)
    assert servers == ["127.0.0.1:8601", "127.0.0.1:8602", "10.0.0.2:8601"]
    assert "listen 0.0.0.0:8501;" in text
    assert "hash $sticky_key consistent;" in text and f"$cookie_{COOKIE}" in text  # sticky by cookie
    directives = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert not [d for d in directives if d.startswith("ip_hash")]  # a hall behind one NAT would reach one process
    stream = text[text.index("location /_stcore/stream") :]
    assert "proxy_set_header Upgrade $http_upgrade;" in stream and "Connection $connection_upgrade" in stream
    assert f"client_max_body_size {limits.MAX_UPLOAD_MB + 1}m;" in text
    assert f"pid {tmp_path.resolve()}/nginx.pid;" in text


def test_a_placeholder_the_launcher_does_not_know_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="WHAT"):
        render_config(UPSTREAMS, listen="8501", run_dir=tmp_path, template="listen {{LISTEN}}; {{WHAT}}")
    with pytest.raises(ValueError, match="at least one app server"):
        render_config([], listen="8501", run_dir=tmp_path)


@pytest.mark.parametrize("text", ["8601", "host:", ":8601", "host:port", "host:70000"])
def test_an_upstream_must_be_host_and_port(text):
    with pytest.raises(Exception, match="HOST:PORT"):
        Upstream.parse(text)


@needs_nginx
def test_nginx_accepts_the_rendered_config(tmp_path):
    assert NGINX is not None
    config = write_config(tmp_path, render_config(UPSTREAMS, listen="127.0.0.1:8501", run_dir=tmp_path))
    checked = check_config(NGINX, config, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def _free_ports(count: int) -> int:
    """The first of count consecutive free ports on 127.0.0.1."""
    for base in range(20000 + os.getpid() % 20000, 60000, 7):
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports")


def _get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read(), response.headers.get_all("Set-Cookie") or []


def _answers(url: str) -> bool:
    try:
        return _get(url)[:2] == (200, b"ok")
    except OSError:
        return False


@pytest.mark.slow
@needs_nginx
def test_the_launcher_serves_two_processes_through_nginx_and_stops_cleanly(tmp_path):
    from benchmarks.class_load import StreamlitSession, open_app

    port = _free_ports(3)
    arguments = ["--processes", "2", "--address", "127.0.0.1", "--port", str(port), "--first-app-port", str(port + 1)]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.serve", *arguments, "--run-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "VAE_USER_CHECKPOINT_DIR": str(tmp_path / "user")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            lines.append(line)
            if line.startswith("nginx ") or "could not start" in line:
                break
        assert any("over 2 app process(es)" in line for line in lines), "".join(lines)
        app_pids = [int(m) for line in lines for m in re.findall(r"^app process (\d+)", line)]
        nginx_pid = int(re.findall(r"^nginx (\d+)", lines[-1])[0])

        status, body, cookies = _get(f"http://127.0.0.1:{port}/_stcore/health")
        assert (status, body) == (200, b"ok")
        assert any(c.startswith(f"{COOKIE}=") for c in cookies)  # the sticky cookie is handed out
        cookies = _get(f"http://127.0.0.1:{port}/_stcore/health", cookie="student-z")[2]
        assert not [c for c in cookies if c.startswith(f"{COOKIE}=")]  # a browser that has one keeps it
        for cookie in ("student-a", "student-b", "student-c", "student-d"):
            for _ in range(3):
                _get(f"http://127.0.0.1:{port}/_stcore/health", cookie=cookie)
        for _ in range(16):
            _get(f"http://127.0.0.1:{port}/_stcore/health")

        async def one_session() -> str:  # a websocket session through nginx's upgrade
            session = StreamlitSession(port)
            try:
                return (await open_app(session)).status
            finally:
                await session.close()

        assert asyncio.run(one_session()) == "FINISHED_SUCCESSFULLY"

        log = [line.split('"') for line in (tmp_path / "access.log").read_text().splitlines()]
        served = [(request, after.split()[-2], after.split()[-1]) for _, request, after in log]  # key, upstream
        assert {u for *_, u in served} == {f"127.0.0.1:{port + 1}", f"127.0.0.1:{port + 2}"}  # both serve
        assert any(request.startswith("GET /_stcore/stream") for request, *_ in served)
        for cookie in ("student-a", "student-b", "student-c", "student-d"):
            upstreams = [u for _, key, u in served if key == cookie]
            assert len(upstreams) == 3 and len(set(upstreams)) == 1, upstreams  # each browser stays on one process

        os.killpg(app_pids[0], signal.SIGKILL)  # an app that dies is started again on its port
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _answers(f"http://127.0.0.1:{port + 1}/_stcore/health"):
            time.sleep(0.5)
        assert _answers(f"http://127.0.0.1:{port + 1}/_stcore/health")

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    output = "".join(lines) + (launcher.stdout.read() if launcher.stdout else "")
    assert f"the app on port {port + 1} exited with code -9; starting it again" in output
    assert "stopped" in output
    time.sleep(0.5)
    for pid in [*app_pids, nginx_pid]:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of closed connections is fine
        sock.bind(("127.0.0.1", port))  # nobody listens there any more
        sock.listen()
