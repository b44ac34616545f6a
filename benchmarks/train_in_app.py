"""Seconds per epoch of the Train page's default model: the CLI vs the app's training job (issue #23).

One run (the Train form's defaults for the data set: VAE, MLP 256-128, z = 2, lr 1e-3, binarised, one torch thread,
seed 0) trained by:

- `cli`: `python -m vae_core train …` in a subprocess, as a person runs it;
- `in-app`: vae_core.serving.jobs' JobBoard and scheduler, as the Train page submits it (fit in a spawned child);
- `in-app, server busy`: the same while this process keeps its main thread busy with Python work, as a server
  answering sessions does;
- `thread, server busy`: the way the app trained before, fit in a worker thread of this busy process.

Seconds per epoch are the per-epoch times each run recorded in its history (fit's own clock, the same code in
every row), the median over epochs and rounds; the rows alternate round by round (shared machines change speed
within tens of seconds). Run from the repository root:

    python -m benchmarks.train_in_app [--dataset mnist] [--epochs 2] [--rounds 2]

Measured with those defaults on the 2-core development machine while it was shared by eight sessions (load
20-23, so seconds are several times a quiet machine's; the ratios are the figure): cli 35.2 s/epoch, in-app 35.6
(1.01x the CLI), in-app with the server busy 54.3 (1.54x), the old worker thread with the server busy 72.4 (2.06x).
"""

from __future__ import annotations

import argparse
import json
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
from vae_core.engine.training import fit
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


def cli_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
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
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    info = read_checkpoint_info(out)
    out.unlink()
    return [float(r["seconds"]) for r in info.metadata["history"]]


def in_app_epochs(model_config: ModelConfig, train_config: TrainConfig, folder: Path) -> list[float]:
    board = JobBoard(scheduler=Scheduler(max_running=1, per_kind={TRAINING_KIND: 1}))
    job = board.submit(model_config, train_config, folder, "in-app", owner="benchmark")
    assert job.join(3600)
    progress = job.progress()
    assert progress.state == DONE, progress.message
    Path(progress.saved_path or "").unlink()
    return [r.seconds for r in progress.history]


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
    args = parser.parse_args()
    model_config, train_config = configs(args.dataset, args.epochs)
    rows: dict[str, Callable[[ModelConfig, TrainConfig, Path], list[float]]] = {
        "cli": cli_epochs,
        "in-app": in_app_epochs,
        "in-app, server busy": busy(in_app_epochs),
        "thread, server busy (before)": busy(thread_epochs),
    }
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
    print("load:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
