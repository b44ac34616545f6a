"""`python benchmarks/timed_streamlit.py run app.py ...`: Streamlit's own CLI, timing every script run it serves.

Each script run (a whole-script rerun or a fragment rerun) appends one JSON line to the file named by
$BENCH_RUN_LOG:

- "seconds": the server's time for the run itself, from the moment the script runner picks up the rerun request
  until it announces that the script (or fragment) has finished: widget callbacks, the script or fragment,
  and queuing its output for the browser. This is the rerun's server time the issue's target is about.
- "until_idle": the same start until the runner is free for the next request; it adds Streamlit's
  post-run clean-up, chiefly the gc.collect() it runs after every run (`runner.postScriptGC`). A slider
  change that arrives meanwhile waits for it, so it is logged too.
- "fragment": whether only fragments ran; "end": unix time of the end.

A run interrupted by a newer rerun request ends the same way (Streamlit's "stopped for rerun"), so each
request is logged once. Used by benchmarks/app_latency.py to measure a real browser's slider changes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

# The events with which ScriptRunner ends a run (see ScriptRunner._run_script); compared by name so that a
# renamed member in another Streamlit version is simply never matched rather than an import error.
_FINISHED = {
    "SCRIPT_STOPPED_WITH_SUCCESS",
    "SCRIPT_STOPPED_WITH_COMPILE_ERROR",
    "SCRIPT_STOPPED_FOR_RERUN",
    "FRAGMENT_STOPPED_WITH_SUCCESS",
}
_log_lock = threading.Lock()


def _write(record: dict) -> None:
    with _log_lock, open(os.environ["BENCH_RUN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def _timed(run_script):
    def run(self, rerun_data: RerunData):
        # One _run_script call serves a request and, when a newer request interrupts it, the newer ones too
        # (it loops): each run is [start, finished], the first starting with the call, later ones at their
        # SCRIPT_STARTED event (after the previous run's clean-up).
        runs: list[dict] = []
        current = {"start": time.perf_counter(), "fragment": bool(rerun_data.fragment_id_queue)}

        def on_event(_sender, event=None, **kwargs):
            nonlocal current
            name, now = getattr(event, "name", ""), time.perf_counter()
            if name == "SCRIPT_STARTED":
                if runs and runs[-1] is current:
                    current = {"start": now}
                current["fragment"] = bool(kwargs.get("fragment_ids_this_run"))
            elif name in _FINISHED and "finished" not in current:
                current["finished"] = now
                runs.append(current)

        # Receivers run in the order they connected, so this one runs after the AppSession's has handed the
        # event on to the browser's queue.
        self.on_event.connect(on_event, weak=False)
        try:
            return run_script(self, rerun_data)
        finally:
            call_end = time.perf_counter()
            self.on_event.disconnect(on_event)
            if not runs or runs[-1] is not current:
                runs.append(current)  # it raised before announcing its end
            for run_, next_run in zip(runs, [*runs[1:], None], strict=True):
                idle_at = next_run["start"] if next_run else call_end
                _write(
                    {
                        "end": time.time() - (call_end - idle_at),
                        "seconds": run_.get("finished", idle_at) - run_["start"],
                        "until_idle": idle_at - run_["start"],
                        "fragment": run_["fragment"],
                    }
                )

    return run


if __name__ == "__main__":
    # ScriptRunner._run_script is Streamlit-internal: this is a benchmark aid, not app code.
    script_runner.ScriptRunner._run_script = _timed(script_runner.ScriptRunner._run_script)
    from streamlit.web.cli import main

    sys.exit(main())
