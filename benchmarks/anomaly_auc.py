"""Print the AUC of every anomaly score, per out-of-distribution set, for the 2-D VAEs of a checkpoint folder.

    python -m benchmarks.anomaly_auc --checkpoints checkpoints/ --subset 2000 --iw-samples 100

For each data set with `<dataset>-vae-z2.safetensors` (and `<dataset>-ae-z2.safetensors` for the AE contrast) in
the folder: the test set against the other 28x28 data set and the synthetic sets, scored as the model is measured
(its protocol).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import is_available
from vae_core.engine.protocol import protocol_of
from vae_core.lessons.anomaly import SCORE_KINDS, run_study, score_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist", "digits"])
    parser.add_argument("--subset", type=int, default=2000, help="first N images of each set (0: all)")
    parser.add_argument("--iw-samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for dataset in args.datasets:
        vae_path = args.checkpoints / f"{dataset}-vae-z2.safetensors"
        if not vae_path.exists() or not is_available(dataset):
            print(f"# {dataset}: skipped (no {vae_path.name} or no data)")
            continue
        vae, info = load_checkpoint(vae_path)
        ae_path = args.checkpoints / f"{dataset}-ae-z2.safetensors"
        ae = load_checkpoint(ae_path).model if ae_path.exists() else None
        protocol = protocol_of(info.train_config, info.model_config)
        started = time.perf_counter()
        study = run_study(
            vae, protocol, dataset, ae=ae, subset=args.subset or None, iw_samples=args.iw_samples, seed=args.seed
        )
        seconds = time.perf_counter() - started
        print(
            f"\n# {vae_path.name} ({protocol.value}), {len(study.inside.scores)} images per set, "
            f"IW K = {args.iw_samples}, {seconds:.0f} s"
        )
        keys = [k.key for k in SCORE_KINDS if k.key in study.inside.scores.available()]
        labels = score_labels(protocol)
        print("| out-of-distribution set | " + " | ".join(labels[k] for k in keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for result in study.results:
            print(f"| {result.ood_label} | " + " | ".join(f"{result.auc[k]:.3f}" for k in keys) + " |")
        inside = study.inside.scores
        print(
            f"in-distribution medians: -ELBO {float(torch.tensor(inside.neg_elbo).median()):.1f}, "
            f"IW {float(torch.tensor(inside.iw_nll).median()):.1f}, "
            f"reference {float(torch.tensor(inside.reference_nll).median()):.1f} nats"
        )


if __name__ == "__main__":
    main()
