"""`python -m benchmarks.class_load`: one app server, N concurrent sessions, rerun latency (issues #11 and #15).

One `streamlit run app.py` serves N light clients that speak Streamlit's websocket protocol (no browser: 30
Chromium contexts on 2 cores would measure the browser). Each session opens the app, then for --duration
seconds switches pages and moves sliders on the Latent space, Decoder grid and Interpolation pages, with a
random think time between actions. With training, one session first starts a small training job (digits,
the Train form's defaults) through the Train page's widgets. Printed per N, without and with training:
p50/p95 end-to-end latency (request sent until the run's script_finished is received), actions by kind,
errors (exceptions shown by the app, disconnects, timeouts), and the CPU seconds of the load generator
against the server's.

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
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from tools.app_browser import free_port, start_app, stop_app, wait_until_healthy

MOVING_PAGES = ("Latent space", "Decoder grid", "Interpolation")
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


async def run_load(port: int, sessions: int, seconds: float, think_s: float, training: bool) -> list[SessionStats]:
    train_name = f"load-{uuid.uuid4().hex[:8]}" if training else None
    tasks = [
        one_session(port, seconds, think_s, seed=i, train_name=train_name if i == 0 else None) for i in range(sessions)
    ]
    return await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 16, 30])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of actions per run")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between actions, s")
    parser.add_argument("--no-training", action="store_true", help="only the runs without a training job")
    parser.add_argument("--training-only", action="store_true", help="only the runs with a training job")
    args = parser.parse_args()
    check_protocol()
    modes = [False] if args.no_training else [True] if args.training_only else [False, True]
    port = free_port()
    with tempfile.TemporaryDirectory() as user_dir:
        server = start_app(port, env={"VAE_USER_CHECKPOINT_DIR": user_dir})
        try:
            wait_until_healthy(port, server, timeout_s=120)
            asyncio.run(run_load(port, 1, 0.0, 0.0, training=False))  # first page: torch and caches warm up
            rows = []
            for n in args.sessions:
                for training in modes:
                    load_avg = os.getloadavg()[0]
                    server_cpu, own_cpu, wall = process_cpu_s(server.pid), own_cpu_s(), time.perf_counter()
                    stats = asyncio.run(run_load(port, n, args.duration, args.think, training))
                    wall = time.perf_counter() - wall
                    server_cpu, own_cpu = process_cpu_s(server.pid) - server_cpu, own_cpu_s() - own_cpu
                    rows.append((n, training, stats, wall, server_cpu, own_cpu, load_avg, os.getloadavg()[0]))
        finally:
            stop_app(server)
    print_tables(rows, args)


def print_tables(rows, args) -> None:
    print(f"class_load: --duration {args.duration:g} s, --think {args.think:g} s, {os.cpu_count()} CPUs")
    print(
        f"{'N':>3} {'training':>8} {'p50 s':>7} {'p95 s':>7} {'actions':>7}  {'by kind (p50 s)':<42} "
        f"{'errors':>6} {'server cpu s':>12} {'client cpu s':>12} {'wall s':>6} {'load':>10}"
    )
    for n, training, stats, wall, server_cpu, own_cpu, load_before, load_after in rows:
        all_latencies = [s for st in stats for kind, v in st.latencies.items() if kind != "train" for s in v]
        kinds: dict[str, list[float]] = {}
        for st in stats:
            for kind, values in st.latencies.items():
                kinds.setdefault(kind, []).extend(values)
        by_kind = " ".join(f"{k}:{len(v)}@{statistics.median(v):.2f}" for k, v in sorted(kinds.items()))
        errors = [e for st in stats for e in st.errors]
        print(
            f"{n:>3} {'yes' if training else 'no':>8} {percentile(all_latencies, 0.5):>7.2f} "
            f"{percentile(all_latencies, 0.95):>7.2f} {len(all_latencies):>7}  {by_kind:<42} {len(errors):>6} "
            f"{server_cpu:>12.1f} {own_cpu:>12.1f} {wall:>6.0f} {load_before:>4.1f}->{load_after:<4.1f}"
        )
    for n, training, stats, *_ in rows:
        errors = [e for st in stats for e in st.errors]
        for error in sorted(set(errors))[:5]:
            print(f"  N={n} training={'yes' if training else 'no'}: {errors.count(error)}x {error}")


if __name__ == "__main__":
    main()
