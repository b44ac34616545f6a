"""Seconds per epoch: the textbook MNIST VAE loop vs vae_core's fit.

Both train the 784-400-20 MLP VAE (Bernoulli decoder, Adam 1e-3, batch 128) for the same number of epochs on
MNIST and report seconds per epoch and the final test -ELBO (nats per image, grey-level test images, one
posterior sample). Run it from the repository root (no install needed):

    python -m benchmarks.train_speed [--epochs 3] [--rounds 2] [--threads 2] [--choices]

Rows: the textbook loop (pytorch/examples' vae/main.py: DataLoader + ToTensor, torch.optim.Adam) and vae_core's
fit (autograd on VAE.loss, fused Adam, whole-split tensors). The line `speed-up: N.NNx` is textbook / fit.

Every loop runs on the main thread. A Python worker thread pays for torch's OpenMP work (this machine, torch
2.14: a 128x784 @ 784x400 matmul 520 vs 820 us, an elementwise op 6 vs 60 us), which a benchmark must not
mix into one loop's figure. Shared cloud machines change speed within tens of seconds, so the loops
alternate: each round trains every loop from scratch once, the order rotating from round to round, and the
figure is the median over rounds.

--choices also times one vae_core epoch for each thread count and each BCE formulation (vae_core's bernoulli_nll
writes out log(1 + e) because torch's CPU log1p is not vectorised; fit's BernoulliNLLSum also takes one log per 64
pixels, of their product, because torch's CPU log costs ~5 sigmoids), the measurements behind vae_core's defaults,
and the matmul floor: the five 128x784x400 products every step of both loops does, which bounds their ratio.
The step-part rows split one fit step against that floor (min over interleaved repeats), next to two floors of
their own: the bytes Adam must move and the uniforms a fresh binarisation must draw; and the forward + backward
of one image, the op-by-op and autograd cost a step pays whatever its batch size.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import data_dir, load_dataset
from vae_core.engine.evaluation import mean_loss_terms
from vae_core.engine.losses import BernoulliNLLSum, bernoulli_nll, sum_of_logs_at_least_half
from vae_core.engine.models import build_model
from vae_core.engine.training import FLUSH_EVERY, fit, flush_tiny_moments, fresh_binarization


class TextbookVAE(nn.Module):
    """pytorch/examples' vae/main.py model, unchanged in substance."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def textbook_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def textbook_train_set():
    """MNIST as the textbook reads it: a torchvision dataset that converts each image with ToTensor."""
    from torchvision import datasets, transforms

    return datasets.MNIST(str(data_dir()), train=True, download=True, transform=transforms.ToTensor())


def textbook_training(epochs: int, seed: int, threads: int, train) -> TextbookVAE:
    """The DataLoader + ToTensor loop."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)
    model = TextbookVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for data, _ in train_loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = textbook_loss(recon, data, mu, logvar)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def textbook_test_neg_elbo(model: TextbookVAE, seed: int) -> float:
    """The textbook's own test loop: -ELBO in nats per image."""
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    test = datasets.MNIST(str(data_dir()), train=False, transform=transforms.ToTensor())
    total = 0.0
    for data, _ in torch.utils.data.DataLoader(test, batch_size=128):
        recon, mu, logvar = model(data)
        total += textbook_loss(recon, data, mu, logvar).item()
    return total / len(test)


def vae_core_configs(epochs: int, seed: int, threads: int) -> tuple[ModelConfig, TrainConfig]:
    model = ModelConfig(kind="vae", arch="mlp", input_shape=(1, 28, 28), latent_dim=20, hidden_dims=(400,))
    train = TrainConfig(
        dataset="mnist", epochs=epochs, batch_size=128, lr=1e-3, seed=seed, num_threads=threads, eval_each_epoch=False
    )
    return model, train


def train_vae_core(epochs: int, seed: int, threads: int) -> nn.Module:
    """vae_core's fit on MNIST; the data are loaded (and cached) before any loop is timed."""
    model_config, train_config = vae_core_configs(epochs, seed, threads)
    return fit(model_config, train_config, train_data=load_dataset("mnist", "train")).model


def vae_core_test_neg_elbo(model: nn.Module, seed: int) -> float:
    torch.manual_seed(seed)
    test_terms = mean_loss_terms(model, load_dataset("mnist", "test").images)
    return test_terms.recon + test_terms.kl  # -ELBO (the benchmarked model is a VAE)


@dataclass
class LoopTimes:
    """One loop's seconds per epoch in every round, and the test -ELBO of its last model."""

    seconds_per_epoch: list[float] = field(default_factory=list)
    test_neg_elbo: float = math.nan

    @property
    def median(self) -> float:
        return statistics.median(self.seconds_per_epoch)


def alternate(epochs: int, seed: int, threads: int, rounds: int) -> dict[str, LoopTimes]:
    """Train each loop from scratch once per round, all on this (the main) thread, rotating their order."""
    textbook_train = textbook_train_set()
    loops: dict[str, Callable[[], nn.Module]] = {
        "textbook": lambda: textbook_training(epochs, seed, threads, textbook_train),
        "fit": lambda: train_vae_core(epochs, seed, threads),
    }
    times = {name: LoopTimes() for name in loops}
    names = list(loops)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = time.perf_counter()
            model = loops[name]()
            times[name].seconds_per_epoch.append((time.perf_counter() - started) / epochs)
            if r == rounds - 1:
                test = textbook_test_neg_elbo if name == "textbook" else vae_core_test_neg_elbo
                times[name].test_neg_elbo = test(model, seed)
    return times


def time_bce_formulations(threads: int, repeats: int = 200) -> dict[str, float]:
    """Milliseconds for forward + backward of the reconstruction term on one 128-image batch, and for the two
    logarithms behind the difference (forward only)."""
    torch.set_num_threads(threads)
    x = load_dataset("mnist", "train").images[:128].flatten(1)
    logits = (torch.randn(128, 784, generator=torch.Generator().manual_seed(0)) * 8).requires_grad_()
    e = torch.exp(-logits.detach().abs())
    formulations = {
        "vae_core bernoulli_nll": lambda: bernoulli_nll(logits, x).sum(),
        "vae_core BernoulliNLLSum (fit's)": lambda: BernoulliNLLSum.apply(logits, x),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(logits, x, reduction="sum"),
        "sigmoid_then_bce": lambda: F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum"),
    }
    out = {}
    for name, loss_fn in formulations.items():
        for _ in range(10):
            loss_fn().backward()
        started = time.perf_counter()
        for _ in range(repeats):
            loss_fn().backward()
        out[name] = (time.perf_counter() - started) / repeats * 1000
    logs = {
        "log1p(e) alone": lambda: torch.log1p(e),
        "log(1 + e) alone": lambda: torch.log(1 + e),
        "sum of log(1 + e) by log": lambda: torch.log(1 + e).sum(),
        "sum of log(1 + e) by chunk products": lambda: sum_of_logs_at_least_half(1 / (1 + e)),
    }
    for name, op in logs.items():
        started = time.perf_counter()
        for _ in range(repeats):
            op()
        out[name] = (time.perf_counter() - started) / repeats * 1000
    return out


def time_matmul_floor(threads: int, repeats: int = 100) -> dict[str, float]:
    """Milliseconds per step of the five 128x784x400 matmuls every loop's step does (two forward, three
    backward): the floor under both loops, and so the ceiling on their ratio. And one of them in numpy's BLAS."""

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    x, g = torch.rand(128, 784, generator=generator), torch.rand(128, 784, generator=generator)
    h, w1, w4 = torch.rand(128, 400, generator=generator), torch.randn(784, 400), torch.randn(400, 784)
    products = (lambda: x @ w1, lambda: h @ w4, lambda: g @ w4.T, lambda: g.T @ h, lambda: x.T @ h)
    xn, w1n = x.numpy(), w1.numpy()
    timed = {
        "five 128x784x400 matmuls (torch)": lambda: [product() for product in products],
        "one of them in torch": lambda: x @ w1,
        "one of them in numpy": lambda: xn @ w1n,
    }
    out = {}
    for name, step in timed.items():
        step()
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        out[name] = (time.perf_counter() - started) / repeats * 1000
    return out


def time_step_parts(threads: int, seed: int, repeats: int = 200) -> dict[str, tuple[float, float]]:
    """Where a fit step's time goes: (min, median) milliseconds of each part of one step of the benchmark's
    model, and of the five-matmul floor, timed interleaved (each repetition runs every part once, so load from
    other work hits all alike). On a shared machine the min is the figure to compare: preemption only adds."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model_config, _ = vae_core_configs(1, seed, threads)
    model = build_model(model_config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    images = load_dataset("mnist", "train").images
    rows, order = images.reshape(len(images), -1), torch.randperm(len(images))
    batch = images[:128]
    generator = torch.Generator().manual_seed(0)
    x, g = torch.rand(128, 784, generator=generator), torch.rand(128, 784, generator=generator)
    h, w1, w4 = torch.rand(128, 400, generator=generator), torch.randn(784, 400), torch.randn(400, 784)

    def forward_backward(images: torch.Tensor = batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        model.loss(images, beta=1.0).objective.backward()

    # The whole step walks through the split as fit does: a few hundred Adam steps on one batch would drive its
    # gradients, and so the step's time, into the denormal range that fit's flush_tiny_moments guards against.
    batch_indices = itertools.cycle(order.split(128))
    steps = itertools.count(1)

    def whole_step() -> None:  # fit's loop body (vae_core/engine/training.py), callbacks aside
        xb = fresh_binarization(rows.index_select(0, next(batch_indices)).view(-1, 1, 28, 28))
        optimizer.zero_grad(set_to_none=True)
        terms = model.loss(xb, None, beta=1.0)
        terms.objective.backward()
        math.isfinite(terms.objective.item())
        optimizer.step()
        if next(steps) % FLUSH_EVERY == 0:
            flush_tiny_moments(optimizer)
        terms.scalars()

    parts: dict[str, Callable[[], object]] = {
        "floor: five 128x784x400 matmuls": lambda: (x @ w1, h @ w4, g @ w4.T, g.T @ h, x.T @ h),
        "a whole fit step": whole_step,
        "  forward + backward (VAE.loss)": forward_backward,
        "    the same for one image (op and autograd overhead)": lambda: forward_backward(batch[:1]),
        "  Adam step (fused)": optimizer.step,
        "  binarisation of the batch (fit's)": lambda: fresh_binarization(batch),
        "  binarisation by torch.bernoulli": lambda: torch.bernoulli(batch),
        "    one uniform per pixel (torch.rand)": lambda: torch.rand(batch.shape),
        "  batch gather (index_select)": lambda: rows.index_select(0, order[:128]),
    }
    forward_backward()
    times: dict[str, list[float]] = {name: [] for name in parts}
    for r in range(repeats + 10):
        for name, part in parts.items():
            started = time.perf_counter()
            part()
            if r >= 10:  # the first rounds warm the allocator and caches
                times[name].append((time.perf_counter() - started) * 1000)
    times["    memory floor: 28 bytes per parameter"] = adam_memory_floor(model, repeats)
    return {name: (min(values), statistics.median(values)) for name, values in times.items()}


def adam_memory_floor(model: nn.Module, repeats: int) -> list[float]:
    """Milliseconds to move the bytes an Adam step must: it reads a parameter, its gradient and two moments and
    writes three back, 28 bytes per parameter; a copy of 3.5 floats per parameter moves as many. Timed on its own,
    after the interleaved parts: 18 MB of copying between them would evict the moments Adam reads next."""
    n_floats = 7 * sum(p.numel() for p in model.parameters()) // 2
    source, target = torch.zeros(n_floats), torch.empty(n_floats)
    times = []
    for r in range(repeats + 10):
        started = time.perf_counter()
        target.copy_(source)
        if r >= 10:
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each loop, alternating")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for every loop")
    parser.add_argument("--choices", action="store_true", help="also time thread counts and BCE formulations")
    args = parser.parse_args()

    print(
        f"MNIST, 784-400-20 MLP VAE, Bernoulli decoder, Adam 1e-3, batch 128, {args.epochs} epochs, "
        f"{args.threads} torch threads, {args.rounds} alternating rounds on the main thread"
    )
    load_dataset("mnist", "train"), load_dataset("mnist", "test")  # the one-off load is not a per-epoch cost
    rows = alternate(args.epochs, args.seed, args.threads, args.rounds)
    labels = {
        "textbook": "textbook (DataLoader + ToTensor)",
        "fit": "vae_core fit",
    }
    for name, row in rows.items():
        each = ", ".join(f"{s:.2f}" for s in row.seconds_per_epoch)
        print(f"{labels[name]:42s} {row.median:6.2f} s/epoch (rounds: {each}), test -ELBO {row.test_neg_elbo:.2f} nats")
    textbook, fitted = rows["textbook"], rows["fit"]
    print(
        f"speed-up: {textbook.median / fitted.median:.2f}x; test -ELBO difference "
        f"{fitted.test_neg_elbo - textbook.test_neg_elbo:+.2f} nats"
    )

    if args.choices:
        for threads in (1, 2):
            started = time.perf_counter()
            train_vae_core(1, args.seed, threads)
            print(f"choice: vae_core with {threads} thread(s): {time.perf_counter() - started:.2f} s/epoch")
        for name, ms in time_bce_formulations(args.threads).items():
            print(f"choice: {name}: {ms:.3f} ms per 128 x 784 batch")
        for name, ms in time_matmul_floor(args.threads).items():
            print(f"floor: {name}: {ms:.2f} ms per step")
        steps_per_epoch = math.ceil(60_000 / 128)
        textbook_step_ms = textbook.median / steps_per_epoch * 1000
        fit_step_ms = fitted.median / steps_per_epoch * 1000
        floor_ms = time_matmul_floor(args.threads)["five 128x784x400 matmuls (torch)"]
        print(
            f"floor: the textbook's {textbook_step_ms:.1f} ms per step over the matmuls alone: "
            f"at most {textbook_step_ms / floor_ms:.2f}x for any loop that does the same products"
        )
        print(f"ratio: fit {fit_step_ms:.2f} ms per step (epochs above) = {fit_step_ms / floor_ms:.2f}x the floor")
        parts = time_step_parts(args.threads, args.seed)
        floor_min = parts["floor: five 128x784x400 matmuls"][0]
        for name, (least, median) in parts.items():
            print(f"step part: {name:40s} min {least:6.3f} ms ({least / floor_min:4.2f}x floor), median {median:6.3f}")
        whole = parts["a whole fit step"][0]
        print(f"ratio: a whole fit step (min over repeats) = {whole / floor_min:.2f}x the floor")
        fixed = [parts[name][0] for name in ("  Adam step (fused)", "  binarisation of the batch (fit's)")]
        fixed.append(parts["  batch gather (index_select)"][0])
        print(
            f"ratio: floor + Adam + binarisation + gather (mins) = {(floor_min + sum(fixed)) / floor_min:.2f}x: "
            "what a step pays before any bias, activation, small layer, loss term or autograd bookkeeping"
        )
        fixed.append(parts["    the same for one image (op and autograd overhead)"][0])
        print(
            f"ratio: the same + one image's forward + backward (mins) = {(floor_min + sum(fixed)) / floor_min:.2f}x: "
            "what a step pays before the batch-sized work of biases, activations, small layers and loss terms"
        )


if __name__ == "__main__":
    main()
