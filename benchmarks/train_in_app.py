"""Seconds per epoch of the Train page's default model: the CLI vs the app's training job (issue #23).

One run (the Train form's defaults for the data set: VAE, MLP 256-128, z = 2, lr 1e-3, binarised, one torch thread,
seed 0) trained by:

- `cli`: `python -m vae_core train …` in a subprocess, as a person runs it; it records no training replay;
- `cli --replay`: the same recording the replay an in-app run records (the like-with-like row for the app);
- `in-app`: vae_core.serving.jobs' JobBoard and scheduler, as the Train page submits it (fit in a spawned child
  that records the replay and streams each frame to the page);
- `in-app, server busy`: the same while this process keeps its main thread busy with Python work, as a server
  answering sessions does;
- `thread, server busy`: the way the app trained before, fit in a worker thread of this busy process (no replay).

Seconds per epoch are the per-epoch times each run recorded in its history (fit's own clock, the same code in
every row), the median over epochs and rounds; the rows alternate round by round (shared machines change speed
within tens of seconds). The `frame` line is what one replay frame costs, in training steps of this model: taking
it (encoding the replay's fixed images, copying the decoder) and drawing it into the live view, timed in this
process, against the CLI's seconds per step; frames are at least MIN_FRAME_GAP_STEPS steps apart, except that a
short run still gets MIN_FRAMES (vae_core.engine.replay_recorder), so the line gives this run's share of its training
time. Run from the repository root:

    python -m benchmarks.train_in_app [--dataset mnist] [--epochs 2] [--rounds 2] [--no-thread]

Measured with --epochs 2 --rounds 3 on the 2-core AMD machine (2026-12-07) while other sessions shared it (load
4.4 falling to 1.0; wall seconds per epoch swing by 2x within a minute there, so one run's ratios are the figure).
Before the live view was made incremental and frames were spaced MIN_FRAME_GAP_STEPS apart (60 frames in this
run): cli 3.47 s/epoch, in-app 5.83 (1.68x), in-app with the server busy 10.28 (2.96x), the old thread 21.48
(6.18x). After (10 frames): cli 3.41, cli --replay 3.44 (1.01x), in-app 3.85 (1.13x), in-app with the server busy
4.12 (1.21x), the old thread 113 (33x: its busy main thread starved it of the GIL for minutes); frame: 9.1 ms =
1.3 training steps, about 1.3% of this run's training time. Timed inside the child's step callbacks (thread CPU
time, the same 2 epochs in one process): the replay's and the curve's took 1.80 s before and 0.27 s after, about
3% of the training time (the redraws when the live extent grows included).
With a short run's 15 frames (MIN_FRAMES) and --no-thread, quiet (load 1.1-1.3, --rounds 2): cli 3.33, cli --replay
2.97, in-app 3.42 (1.03x), in-app with the server busy 3.40 (1.02x); frame 8.3 ms = 1.2 steps, 1.9% of the run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import load_dataset
from vae_core.engine.replay_recorder import ReplayRecorder, frame_steps
from vae_core.engine.training import StepProgress, fit, torch_threads
from vae_core.serving.background import TRAINING_KIND, Scheduler
from vae_core.serving.jobs import DONE, JobBoard
from vae_core.serving.train_request import TrainRequest, build_configs, default_kl_warmup


def configs(dataset: str, epochs: int) -> tuple[ModelConfig, TrainConfig]:
    request = TrainRequest(
        kind="vae",
        arch="mlp",
        size="medium",
        latent_dim=2,
        beta=1.0,
        dataset=dataset,
        epochs=epochs,
        lr=1e-3,
        kl_warmup_epochs=default_kl_warmup(epochs),
        name="bench",
    )
    return build_configs(request, load_dataset(dataset, "test").input_shape)


def cli_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path, replay: bool = False) -> list[float]:
    out = folder / "cli.safetensors"
    command = [
        sys.executable,
        "-m",
        "vae_core",
        "train",
        "--model",
        model_config.kind,
        "--arch",
        model_config.arch,
        "--latent-dim",
        str(model_config.latent_dim),
        "--hidden",
        *(str(h) for h in model_config.hidden_dims),
        "--beta",
        str(model_config.beta),
        "--dataset",
        train_config.dataset,
        "--epochs",
        str(train_config.epochs),
        "--lr",
        str(train_config.lr),
        "--kl-warmup",
        str(train_config.kl_warmup_epochs),
        "--seed",
        str(train_config.seed),
        "--threads",
        str(train_config.num_threads),
        "--iw-samples",
        "1",
        "--out",
        str(out),
    ] + (["--binarize"] if train_config.dynamic_binarization else [])
    if replay:
        command.append("--replay")
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    info = read_checkpoint_info(out)
    out.unlink()
    # like with like: the CLI trained the very run the app trains, and recorded a replay only when asked
    assert (info.model_config, info.train_config) == (model_config, train_config), "the CLI trained another run"
    assert (info.replay is not None) == replay, "the CLI's replay is not as asked"
    return [float(r["seconds"]) for r in info.metadata["history"]]


def in_app_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
    board = JobBoard(scheduler=Scheduler(max_running=1, per_kind={TRAINING_KIND: 1}))
    job = board.submit(model_config, train_config, folder, "in-app", owner="benchmark")
    assert job.join(3600)
    progress = job.progress()
    assert progress.state == DONE, progress.message
    assert progress.replay is not None, "the job recorded the replay the Train page plays"
    Path(progress.saved_path or "").unlink()
    return [r.seconds for r in progress.history]


def cli_replay_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
    return cli_epochs(model_config, train_config, folder, replay=True)


def frame_seconds(model_config: ModelConfig, train_config: TrainConfig, frames: int = 10) -> float:
    """One replay frame, taken and drawn into the live view as the training child does (median of `frames`, one
    torch thread)."""
    train_data, test_data = load_dataset(train_config.dataset, "train"), load_dataset(train_config.dataset, "test")
    recorder = ReplayRecorder.for_run(model_config, train_config, len(train_data), test_data)
    steps = recorder.steps[1 : frames + 1]
    seconds = []
    with torch_threads(train_config.num_threads):
        recorder.live()
        for step in steps:
            started = time.perf_counter()
            recorder.on_step(StepProgress(1, step, recorder.steps_per_epoch, step, recorder.steps[-1], 0.0, 1.0))
            recorder.live()
            seconds.append(time.perf_counter() - started)
    assert recorder.frame_count == len(steps) + 1, "every scheduled frame was taken"
    return statistics.median(seconds)


def thread_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
    results = []
    worker = threading.Thread(target=lambda: results.append(fit(model_config, train_config)))
    worker.start()
    worker.join()
    return [r.seconds for r in results[0].history]


def busy(run: Callable[[ModelConfig, TrainConfig, Path], list[float]]):
    """run while the main thread does pure-Python work (a server's reruns hold the GIL much of the time)."""

    def busy_run(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
        done = threading.Event()
        results: list[list[float]] = []
        worker = threading.Thread(target=lambda: (results.append(run(model_config, train_config, folder)), done.set()))
        worker.start()
        while not done.is_set():
            sum(i * i for i in range(20_000))  # Python bytecode: holds the GIL between switches
        worker.join()
        return results[0]

    return busy_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--no-thread", action="store_true", help="leave out the old worker thread's row (minutes per epoch when busy)"
    )
    args = parser.parse_args()
    model_config, train_config = configs(args.dataset, args.epochs)
    rows: dict[str, Callable[[ModelConfig, TrainConfig, Path], list[float]]] = {
        "cli": cli_epochs,
        "cli --replay": cli_replay_epochs,
        "in-app": in_app_epochs,
        "in-app, server busy": busy(in_app_epochs),
        "thread, server busy (before)": busy(thread_epochs),
    }
    if args.no_thread:
        del rows["thread, server busy (before)"]
    seconds: dict[str, list[float]] = {name: [] for name in rows}
    print(
        f"{args.dataset}: VAE MLP {model_config.hidden_dims} z={model_config.latent_dim}, batch "
        f"{train_config.batch_size}, {train_config.num_threads} torch thread, binarised: "
        f"{train_config.dynamic_binarization}; {args.epochs} epochs x {args.rounds} rounds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        names = list(rows)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                started = time.perf_counter()
                epochs = rows[name](model_config, train_config, Path(tmp))
                seconds[name] += epochs
                print(
                    f"  round {round_ + 1} {name}: {json.dumps([round(s, 2) for s in epochs])} s/epoch, "
                    f"{time.perf_counter() - started:.1f} s wall",
                    flush=True,
                )
    cli = statistics.median(seconds["cli"])
    print(f"{'row':30s} {'s/epoch':>8s} {'/ cli':>6s}")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:30s} {median:8.2f} {median / cli:6.2f}")
    steps_per_epoch = math.ceil(len(load_dataset(args.dataset, "train")) / train_config.batch_size)
    step = cli / steps_per_epoch
    frame = frame_seconds(model_config, train_config)
    schedule = frame_steps(args.epochs * steps_per_epoch)
    frames, gap = len(schedule), min(b - a for a, b in itertools.pairwise(schedule)) if len(schedule) > 1 else 0
    print(
        f"frame: {frame * 1e3:.1f} ms = {frame / step:.1f} training steps ({step * 1e3:.1f} ms a step, the CLI's); "
        f"this run takes {frames} frames at least {gap} steps apart: about "
        f"{frames * frame / (args.epochs * cli):.1%} of its training time"
    )
    print("load:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
