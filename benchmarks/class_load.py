"""`python -m benchmarks.class_load`: P app processes, N concurrent sessions, rerun latency (issues #11, #15, #23).

`streamlit run app.py` (--processes P of them; 1 by default) serves N light clients that speak Streamlit's
websocket protocol (no browser: 30 Chromium contexts on 2 cores would measure the browser). Each session opens
the app, then for --duration seconds switches pages and moves sliders on the Latent space, Decoder grid and
Interpolation pages, with a random think time between actions. With training, one session first starts a
small training job (digits, the Train form's defaults) through the Train page's widgets. Printed per P and N,
without and with training: p50/p95/worst end-to-end latency (request sent until the run's script_finished is
received), actions by kind, errors (exceptions shown by the app, disconnects, timeouts), and the CPU seconds
of the load generator against the servers'.

Several processes (--processes 1 2 4): with --through-nginx they are started by deploy/serve.py behind nginx
(sticky sessions; the clients connect to nginx, which spreads them by its random request id, as it does new
browsers); without it the clients are dealt round-robin straight to the processes' ports. Server CPU is every
app process (and its children) plus nginx; nginx's own share is printed too. All traffic goes to 127.0.0.1.

--floor serves benchmarks/floor_app.py instead of the app: the same page names with a slider outside and one inside a
fragment, nothing else, so its "server ms/action" is what Streamlit itself costs per action on this machine, the
floor under the app's figure (server CPU seconds over the actions answered).

Action kinds: "page" is a whole-script rerun on another page; "fragment" is a slider inside an st.fragment,
sent as a fragment rerun (ClientState.fragment_id, what the browser sends); "full" a slider outside a fragment.

The protocol is Streamlit-internal (checked against 1.67): `check_protocol()` fails loudly when the shape of
the messages this client uses differs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from tools.app_browser import REPO_ROOT, free_port, start_app, stop_app, wait_until_healthy

MOVING_PAGES = ("Latent space", "Decoder grid", "Interpolation")
FLOOR_APP = Path(__file__).with_name("floor_app.py")  # --floor: Streamlit alone, the same pages and sliders
VISITED_PAGES = ("Home", *MOVING_PAGES)
WIDGET_TYPES = ("slider", "selectbox", "number_input", "button", "text_input")
FINAL = {"FINISHED_SUCCESSFULLY", "FINISHED_WITH_COMPILE_ERROR", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"}


class ProtocolMismatch(RuntimeError):
    """This Streamlit's messages are not shaped as the client expects."""


def check_protocol() -> None:
    """Fail loudly, naming what is missing, when Streamlit's protobufs differ from what the client uses."""
    try:
        from streamlit.proto import BackMsg_pb2, ClientState_pb2, Element_pb2, ForwardMsg_pb2, WidgetStates_pb2
    except ImportError as err:
        raise ProtocolMismatch(f"streamlit.proto modules moved: {err}") from err
    needed: dict[Any, tuple[str, ...]] = {
        BackMsg_pb2.BackMsg: ("rerun_script",),
        ClientState_pb2.ClientState: ("query_string", "widget_states", "page_script_hash", "fragment_id"),
        ForwardMsg_pb2.ForwardMsg: ("new_session", "delta", "script_finished", "navigation"),
        WidgetStates_pb2.WidgetState: ("id", "double_array_value", "string_value", "trigger_value", "int_value"),
        Element_pb2.Element: ("exception", *WIDGET_TYPES),
    }
    missing = [
        f"{message.DESCRIPTOR.name}.{name}"
        for message, names in needed.items()
        for name in names
        if name not in message.DESCRIPTOR.fields_by_name
    ]
    finished = ForwardMsg_pb2.ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].enum_type
    missing += [f"ScriptFinishedStatus.{name}" for name in FINAL if name not in finished.values_by_name]
    if missing:
        raise ProtocolMismatch(
            "benchmarks/class_load.py speaks Streamlit's internal websocket protocol (written against 1.67); "
            f"this Streamlit lacks {', '.join(missing)}: update the client"
        )


@dataclass
class Widget:
    kind: str  # the Element oneof name: slider, selectbox, ...
    proto: Any  # the widget's protobuf message (Slider, Selectbox, ...)
    fragment_id: str  # "" outside a fragment


@dataclass
class RunResult:
    seconds: float
    status: str
    exceptions: list[str]
    widgets: dict[str, Widget]  # by label


@dataclass
class SessionStats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class StreamlitSession:
    """One browser tab's worth of protocol: connect, rerun, read ForwardMsgs until the run has finished."""

    def __init__(self, port: int, timeout_s: float = 60.0):
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.timeout_s = timeout_s
        self.connection: Any = None  # a websockets ClientConnection once connected
        self.pages: dict[str, str] = {}  # page name -> page_script_hash, from the server's navigation message
        self.page_hash = ""
        self.widgets: dict[str, Widget] = {}

    async def connect(self) -> None:
        # Streamlit 1.67 serves through uvicorn, whose dependency `websockets` is therefore installed.
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        self.connection = await connect(
            self.url, subprotocols=[Subprotocol("streamlit")], max_size=None, open_timeout=self.timeout_s
        )

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def rerun(self, page: str | None = None, states=(), fragment_id: str = "") -> RunResult:
        """Send one rerun_script and wait for its script_finished; raises TimeoutError, ConnectionError."""
        from streamlit.proto import BackMsg_pb2, ForwardMsg_pb2

        message = BackMsg_pb2.BackMsg()
        client_state = message.rerun_script
        client_state.query_string = ""
        if page is not None:
            self.page_hash = self.pages[page]
        client_state.page_script_hash = self.page_hash
        client_state.widget_states.widgets.extend(states)
        if fragment_id:
            client_state.fragment_id = fragment_id
        else:
            self.widgets = {}
        start = time.perf_counter()
        await self.connection.send(message.SerializeToString())
        exceptions: list[str] = []
        finished = ForwardMsg_pb2.ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].enum_type
        while True:
            remaining = self.timeout_s - (time.perf_counter() - start)
            if remaining <= 0:
                raise TimeoutError(f"no script_finished within {self.timeout_s:.0f} s")
            try:
                raw = await asyncio.wait_for(self.connection.recv(), remaining)
            except ConnectionClosed as err:
                raise ConnectionError(f"the server closed the websocket: {err}") from err
            forward = ForwardMsg_pb2.ForwardMsg()
            forward.ParseFromString(raw)
            kind = forward.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in forward.navigation.app_pages}
                self.page_hash = forward.navigation.page_script_hash or self.page_hash
            elif kind == "new_session":
                self.page_hash = forward.new_session.page_script_hash or self.page_hash
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                self._element(forward.delta, exceptions)
            elif kind == "script_finished":
                status = finished.values_by_number[forward.script_finished].name
                if status in FINAL:
                    return RunResult(time.perf_counter() - start, status, exceptions, dict(self.widgets))

    def _element(self, delta, exceptions: list[str]) -> None:
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
        elif kind in WIDGET_TYPES:
            proto = getattr(element, kind)
            self.widgets[proto.label] = Widget(kind, proto, delta.fragment_id)


def slider_state(widget: Widget, rng: random.Random):
    """A WidgetState that moves a slider (or select_slider) to a random other position."""
    from streamlit.proto import WidgetStates_pb2

    proto = widget.proto
    state = WidgetStates_pb2.WidgetState(id=proto.id)
    if proto.options:  # select_slider: the value is an index into the options
        value = float(rng.randrange(len(proto.options)))
    else:
        steps = max(1, round((proto.max - proto.min) / (proto.step or 1)))
        value = proto.min + rng.randint(0, steps) * (proto.step or 1)
    count = max(1, len(proto.default))  # a range slider has two values
    state.double_array_value.data.extend(sorted(value if i == 0 else proto.max for i in range(count)))
    return state


async def open_app(session: StreamlitSession) -> RunResult:
    """Connect and run the default page; app.py may rerun once to leave Streamlit's legacy pages mode."""
    await session.connect()
    result = await session.rerun()
    if not session.pages:
        raise ProtocolMismatch("the server sent no navigation message with app_pages: update the client")
    return result


async def start_training(session: StreamlitSession, name: str) -> RunResult:
    """On the Train page: pick digits, name the model, press Train (the form's other defaults)."""
    from streamlit.proto import WidgetStates_pb2

    await session.rerun(page="Train")
    widgets = session.widgets
    for label in ("Data set", "Name (optional)", "Train"):
        if label not in widgets:
            raise ProtocolMismatch(f"the Train page has no widget labelled {label!r}: update the client")
    dataset = WidgetStates_pb2.WidgetState(id=widgets["Data set"].proto.id, string_value="digits")
    name_state = WidgetStates_pb2.WidgetState(id=widgets["Name (optional)"].proto.id, string_value=name)
    press = WidgetStates_pb2.WidgetState(id=widgets["Train"].proto.id, trigger_value=True)
    result = await session.rerun(states=[dataset, name_state, press])
    if "Stop training" not in result.widgets:  # the job panel's button: the job is running
        result.exceptions.append("training did not start (no 'Stop training' button after pressing Train)")
    return result


async def one_session(port: int, seconds: float, think_s: float, seed: int, train_name: str | None) -> SessionStats:
    rng = random.Random(seed)
    stats = SessionStats()
    session = StreamlitSession(port)

    def record(kind: str, result: RunResult) -> None:
        stats.latencies.setdefault(kind, []).append(result.seconds)
        stats.errors += [f"exception on {kind}: {text}" for text in result.exceptions]

    try:
        record("page", await open_app(session))
        if train_name is not None:
            record("train", await start_training(session, train_name))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)
            on_moving_page = any(session.pages.get(p) == session.page_hash for p in MOVING_PAGES)
            sliders = [w for w in session.widgets.values() if w.kind == "slider"]
            if on_moving_page and sliders and rng.random() < 0.75:
                widget = rng.choice(sliders)
                kind = "fragment" if widget.fragment_id else "full"
                result = await session.rerun(states=[slider_state(widget, rng)], fragment_id=widget.fragment_id)
                session.widgets.update(result.widgets)
                record(kind, result)
            else:
                record("page", await session.rerun(page=rng.choice(VISITED_PAGES)))
    except TimeoutError as err:
        stats.errors.append(f"timeout: {err}")
    except (ConnectionError, OSError) as err:
        stats.errors.append(f"disconnect: {err}")
    finally:
        await session.close()
    return stats


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process and its waited-for children, in seconds (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def run_load(
    ports: list[int], sessions: int, seconds: float, think_s: float, training: bool
) -> list[SessionStats]:
    """N sessions dealt round-robin over ports (one port: nginx, or a single server); session 0 may train."""
    train_name = f"load-{uuid.uuid4().hex[:8]}" if training else None
    tasks = [
        one_session(ports[i % len(ports)], seconds, think_s, seed=i, train_name=train_name if i == 0 else None)
        for i in range(sessions)
    ]
    return await asyncio.gather(*tasks)


def descendants(pid: int) -> list[int]:
    """pid and every live process under it (from /proc/PID/task/*/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue += [int(child) for child in children.read_text().split()]
            except OSError:
                continue
    return found


def tree_cpu_s(pids: list[int], name: str | None = None) -> float:
    """CPU seconds of these processes and all their descendants (only those whose comm is name, when given)."""
    total = 0.0
    for root in pids:
        for pid in descendants(root):
            try:
                if name is None or Path(f"/proc/{pid}/comm").read_text().strip() == name:
                    total += process_cpu_s(pid)
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return total


class Servers:
    """P app processes, straight or behind nginx (deploy/serve.py); what the clients connect to and who to time."""

    def __init__(self, processes: int, through_nginx: bool, user_dir: str, log_dir: Path, floor: bool = False):
        self.processes, self.through_nginx = processes, through_nginx
        # Each process gets a fair share of the cores for torch, as deploy/serve.py gives its apps.
        env = {"VAE_USER_CHECKPOINT_DIR": user_dir, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes))}
        self.started: list[subprocess.Popen] = []
        if through_nginx:
            self.nginx_port = free_port()
            self.app_ports = free_ports(processes)
            command = [sys.executable, "-m", "deploy.serve", "--processes", str(processes), "--address", "127.0.0.1"]
            command += ["--port", str(self.nginx_port), "--first-app-port", str(self.app_ports[0])]
            command += ["--run-dir", str(log_dir / f"nginx-{processes}")]
            with open(log_dir / f"launcher-{processes}.log", "wb") as log:
                self.started.append(
                    subprocess.Popen(
                        command,
                        cwd=REPO_ROOT,
                        env={**os.environ, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            self.client_ports = [self.nginx_port]
        else:
            self.app_ports = [free_port() for _ in range(processes)]
            script = FLOOR_APP if floor else REPO_ROOT / "app.py"
            self.started = [start_app(port, env=env, script=script) for port in self.app_ports]
            self.client_ports = self.app_ports

    def wait_until_healthy(self) -> None:
        ports = self.client_ports if self.through_nginx else self.app_ports
        for i, port in enumerate(ports):
            wait_until_healthy(port, self.started[min(i, len(self.started) - 1)], timeout_s=180)

    def warm_up(self) -> None:
        """One session on each process straight (not through nginx) opens every page the clients visit: torch,
        the models and the caches load before timing (else the first row of each P pays for them)."""

        async def visit_every_page(port: int) -> None:
            session = StreamlitSession(port, timeout_s=180)
            try:
                await open_app(session)
                for page in MOVING_PAGES:
                    await session.rerun(page=page)
            finally:
                await session.close()

        async def warm_all() -> None:
            await asyncio.gather(*(visit_every_page(port) for port in self.app_ports))

        asyncio.run(warm_all())

    def cpu_s(self) -> tuple[float, float]:
        """(all server processes, nginx alone) CPU seconds so far."""
        return tree_cpu_s([p.pid for p in self.started]), tree_cpu_s([p.pid for p in self.started], "nginx")

    def stop(self) -> None:
        for process in self.started:
            stop_app(process)  # SIGTERM to its group: the launcher then stops nginx and its apps in order


def free_ports(count: int) -> list[int]:
    """count consecutive free ports on 127.0.0.1 (deploy/serve.py numbers its apps from the first)."""
    for _ in range(100):
        base = free_port()
        ports = list(range(base, base + count))
        if all(port_free(port) for port in ports) and base + count < 65536:
            return ports
    raise RuntimeError(f"no {count} consecutive free ports")


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 16, 30, 60])
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help="app processes, e.g. 1 2 4")
    parser.add_argument("--through-nginx", action="store_true", help="the processes behind nginx (deploy/serve.py)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of actions per run")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between actions, s")
    parser.add_argument("--no-training", action="store_true", help="only the runs without a training job")
    parser.add_argument("--training-only", action="store_true", help="only the runs with a training job")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="serve benchmarks/floor_app.py (Streamlit alone, the same page names and sliders) instead of the app: "
        "what Streamlit itself costs per action on this machine; no training, not through nginx",
    )
    args = parser.parse_args()
    if args.floor and args.through_nginx:
        parser.error("--floor serves the bare app straight, not through nginx")
    check_protocol()
    modes = [False] if args.no_training or args.floor else [True] if args.training_only else [False, True]
    rows = []
    with tempfile.TemporaryDirectory() as user_dir, tempfile.TemporaryDirectory() as log_dir:
        for processes in args.processes:
            servers = Servers(processes, args.through_nginx, user_dir, Path(log_dir), floor=args.floor)
            try:
                servers.wait_until_healthy()
                servers.warm_up()
                for n in args.sessions:
                    for training in modes:
                        load_avg = os.getloadavg()[0]
                        (server_cpu, nginx_cpu), own_cpu = servers.cpu_s(), own_cpu_s()
                        wall = time.perf_counter()
                        stats = asyncio.run(run_load(servers.client_ports, n, args.duration, args.think, training))
                        wall = time.perf_counter() - wall
                        (server_after, nginx_after), own_after = servers.cpu_s(), own_cpu_s()
                        rows.append(
                            Row(
                                processes,
                                n,
                                training,
                                stats,
                                wall,
                                server_after - server_cpu,
                                nginx_after - nginx_cpu,
                                own_after - own_cpu,
                                load_avg,
                                os.getloadavg()[0],
                            )
                        )
                        print_row(rows[-1], header=len(rows) == 1, args=args)
            finally:
                servers.stop()
    print_errors(rows)
    print_generator_cost(rows)


@dataclass
class Row:
    processes: int
    sessions: int
    training: bool
    stats: list[SessionStats]
    wall_s: float
    server_cpu_s: float  # app processes (their children too) and nginx
    nginx_cpu_s: float
    client_cpu_s: float  # this load generator
    load_before: float
    load_after: float

    def latencies(self) -> list[float]:
        return [s for st in self.stats for kind, v in st.latencies.items() if kind != "train" for s in v]

    def errors(self) -> list[str]:
        return [e for st in self.stats for e in st.errors]


def print_row(row: Row, header: bool, args) -> None:
    """One table row as soon as its run ends (a long sweep shows progress); the header before the first."""
    if header:
        route = "through nginx (deploy/serve.py)" if args.through_nginx else "straight to each process"
        print(
            f"class_load: --duration {args.duration:g} s, --think {args.think:g} s, {os.cpu_count()} CPUs, "
            f"clients {route}"
        )
        print(
            f"{'P':>2} {'N':>3} {'training':>8} {'p50 s':>6} {'p95 s':>6} {'worst s':>7} {'actions':>7}  "
            f"{'by kind (count@p50 s)':<44} {'errors':>6} {'server cpu s':>12} {'nginx cpu s':>11} "
            f"{'client cpu s':>12} {'server ms/action':>16} {'wall s':>6} {'load':>10}"
        )
    latencies = row.latencies()
    kinds: dict[str, list[float]] = {}
    for st in row.stats:
        for kind, values in st.latencies.items():
            kinds.setdefault(kind, []).extend(values)
    by_kind = " ".join(f"{k}:{len(v)}@{statistics.median(v):.2f}" for k, v in sorted(kinds.items()))
    print(
        f"{row.processes:>2} {row.sessions:>3} {'yes' if row.training else 'no':>8} "
        f"{percentile(latencies, 0.5):>6.2f} {percentile(latencies, 0.95):>6.2f} "
        f"{max(latencies, default=float('nan')):>7.2f} {len(latencies):>7}  {by_kind:<44} {len(row.errors()):>6} "
        f"{row.server_cpu_s:>12.1f} {row.nginx_cpu_s:>11.2f} {row.client_cpu_s:>12.1f} "
        f"{1000 * row.server_cpu_s / max(1, len(latencies)):>16.0f} {row.wall_s:>6.0f} "
        f"{row.load_before:>4.1f}->{row.load_after:<4.1f}",
        flush=True,
    )


def print_errors(rows: list[Row]) -> None:
    for row in rows:
        errors = row.errors()
        for error in sorted(set(errors))[:5]:
            print(
                f"  P={row.processes} N={row.sessions} training={'yes' if row.training else 'no'}: "
                f"{errors.count(error)}x {' '.join(error.split())}"
            )


def print_generator_cost(rows: list[Row]) -> None:
    """What the load generator itself takes from the cores the servers run on."""
    if not rows:
        return
    shares = [row.client_cpu_s / row.wall_s for row in rows]
    per_action = [row.client_cpu_s / max(1, len(row.latencies())) * 1000 for row in rows]
    print(
        f"load generator: {min(shares):.0%}-{max(shares):.0%} of one core during the runs "
        f"({min(per_action):.1f}-{max(per_action):.1f} ms CPU per action), on the same cores as the servers"
    )


if __name__ == "__main__":
    main()
