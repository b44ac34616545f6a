"""benchmarks/class_load.py's websocket client against real servers: it must see runs end and exceptions.

One tiny two-page script (one page raises) checks exception detection quickly; one session against the real
app (the tiny zoo) checks page switches and a fragment rerun. Skipped when a server cannot start.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys

import pytest

from benchmarks.class_load import StreamlitSession, check_protocol, open_app, slider_state
from tools.app_browser import free_port, start_app, stop_app, wait_until_healthy

RAISING_APP = """
import streamlit as st

def fine():
    st.title("Fine")
    st.slider("level", 0, 10, 3)

def broken():
    st.title("Broken")
    raise ValueError("injected for the load client's test")

st.navigation([st.Page(fine, title="Fine", default=True), st.Page(broken, title="Broken")]).run()
"""


def _serve(command_args: list[str], port: int, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", *command_args, "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _healthy_or_skip(port: int, process: subprocess.Popen) -> None:
    try:
        wait_until_healthy(port, process, timeout_s=60)
    except (RuntimeError, TimeoutError) as err:
        stop_app(process)
        pytest.skip(f"cannot start a Streamlit server: {err}")


def test_protocol_shape_is_the_one_the_client_speaks():
    check_protocol()


def test_client_sees_script_finished_and_a_page_that_raised(tmp_path):
    (tmp_path / "raising_app.py").write_text(RAISING_APP)
    port = free_port()
    server = _serve(["raising_app.py"], port, tmp_path)
    _healthy_or_skip(port, server)

    async def scenario():
        session = StreamlitSession(port, timeout_s=20)
        try:
            first = await open_app(session)
            moved = await session.rerun(states=[slider_state(first.widgets["level"], random.Random(0))])
            broken = await session.rerun(page="Broken")
            return first, moved, broken, session.pages
        finally:
            await session.close()

    try:
        first, moved, broken, pages = asyncio.run(scenario())
    finally:
        stop_app(server)
    assert set(pages) == {"Fine", "Broken"}  # from the server's navigation message, not hard-coded
    assert first.status == "FINISHED_SUCCESSFULLY" and first.exceptions == []
    assert moved.exceptions == [] and "level" in moved.widgets
    assert broken.status == "FINISHED_SUCCESSFULLY"
    assert len(broken.exceptions) == 1 and "injected for the load client's test" in broken.exceptions[0]


def test_one_session_against_the_app_switches_pages_and_reruns_a_fragment(app_env):
    port = free_port()
    server = start_app(port)
    _healthy_or_skip(port, server)

    async def scenario():
        session = StreamlitSession(port, timeout_s=60)
        try:
            home = await open_app(session)
            grid = await session.rerun(page="Decoder grid")
            slider = grid.widgets["Cells per side"]
            fragment = await session.rerun(
                states=[slider_state(slider, random.Random(1))], fragment_id=slider.fragment_id
            )
            return home, grid, slider, fragment
        finally:
            await session.close()

    try:
        home, grid, slider, fragment = asyncio.run(scenario())
    finally:
        stop_app(server)
    assert home.exceptions == [] and grid.exceptions == [], (home.exceptions, grid.exceptions)
    assert slider.fragment_id, "the decoder grid's slider sits in an st.fragment"
    assert fragment.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" and fragment.exceptions == []
