"""The disentanglement lesson's numbers per zoo model: MIG, the FactorVAE score, reconstruction and KL, and the
seconds each took to train.

    python -m benchmarks.disentanglement            # the shipped models: metrics recomputed, training time recorded
    python -m benchmarks.disentanglement --train    # also retrain each (minutes per model) and time it here

Reconstruction and KL are the test split's, in nats per image; MIG and the FactorVAE score are measured on the
posterior means of all the sprites. Training times are wall clock, with the load average beside them (the
machine may be shared), and the CPU seconds of the training process. One torch thread, as the zoo trains.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.lessons.disentanglement import model_report
from vae_core.zoo.specs import ZOO_THREADS, disentanglement_specs, train_one

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="retrain every model here and time it")
    args = parser.parse_args()
    torch.set_num_threads(ZOO_THREADS)
    header = f"{'model':26} {'MIG':>6} {'FVAE':>6} {'recon':>7} {'KL':>6} {'active':>6} {'train s':>8} {'cpu s':>7}"
    print(header + ("  retrain s (load before → after)" if args.train else "") + "   [metrics s]")
    for spec in disentanglement_specs():
        path = CHECKPOINTS / spec.filename
        started = time.perf_counter()
        model, info = load_checkpoint(path)
        report = model_report(model)
        measure_seconds = time.perf_counter() - started
        metrics, meta = info.metrics, info.metadata
        assert metrics is not None
        line = (
            f"{spec.name:26} {report.mig:6.3f} {report.factor_vae_score:6.3f} {metrics.recon:7.2f} {metrics.kl:6.2f} "
            f"{report.active_dims:6d} {meta.get('train_seconds', float('nan')):8.0f} "
            f"{meta.get('train_cpu_seconds', float('nan')):7.0f}"
        )
        if args.train:
            before = load_average()
            with tempfile.TemporaryDirectory() as folder:
                t0 = time.perf_counter()
                train_one(Path(folder) / spec.filename, spec, log=lambda _: None)
                line += f"  {time.perf_counter() - t0:8.0f} ({before} → {load_average()})"
        print(line + f"   [{measure_seconds:.1f}]", flush=True)
    print(f"load average now: {load_average()}")


if __name__ == "__main__":
    main()
