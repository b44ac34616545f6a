"""Seconds per epoch: the textbook MNIST VAE loop vs vae_core, side by side in one run.

Both train the 784-400-20 MLP VAE (Bernoulli decoder, Adam 1e-3, batch 128) for the same number of
epochs on MNIST and report seconds per epoch and the final test -ELBO (nats per image).

    python benchmarks/train_speed.py [--epochs 3] [--threads 2] [--choices]

--choices also times one vae_core epoch for each thread count and each BCE formulation, the
measurements behind vae_core's defaults.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from any folder

from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import data_dir, load_dataset
from vae_core.evaluation import mean_loss_terms
from vae_core.training import fit


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


def run_textbook(epochs: int, seed: int) -> tuple[float, float]:
    """(seconds per epoch, test -ELBO) for the DataLoader + ToTensor loop."""
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    root = str(data_dir())
    train = datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor())
    test = datasets.MNIST(root, train=False, transform=transforms.ToTensor())
    train_loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=128)
    model = TextbookVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for data, _ in train_loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = textbook_loss(recon, data, mu, logvar)
            loss.backward()
            optimizer.step()
    per_epoch = (time.perf_counter() - started) / epochs
    model.eval()
    total = 0.0
    with torch.no_grad():
        for data, _ in test_loader:
            recon, mu, logvar = model(data)
            total += textbook_loss(recon, data, mu, logvar).item()
    return per_epoch, total / len(test)


def vae_core_configs(epochs: int, seed: int, threads: int) -> tuple[ModelConfig, TrainConfig]:
    model = ModelConfig(kind="vae", arch="mlp", input_shape=(1, 28, 28), latent_dim=20, hidden_dims=(400,))
    train = TrainConfig(dataset="mnist", epochs=epochs, batch_size=128, lr=1e-3, seed=seed,
                        num_threads=threads, eval_each_epoch=False)
    return model, train


def run_vae_core(epochs: int, seed: int, threads: int) -> tuple[float, float]:
    """(seconds per epoch, test -ELBO) for vae_core.fit; data loading is outside the timing, as it is cached."""
    train_data, test_data = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    model_config, train_config = vae_core_configs(epochs, seed, threads)
    result = fit(model_config, train_config, train_data=train_data, test_data=test_data)
    model = result.model.eval()
    torch.manual_seed(seed)
    return result.seconds / epochs, mean_loss_terms(model, test_data.images)["neg_elbo"]


def time_bce_formulations(threads: int, repeats: int = 200) -> dict[str, float]:
    """Milliseconds for forward + backward of the reconstruction term on one 128-image batch."""
    torch.set_num_threads(threads)
    x = load_dataset("mnist", "train").images[:128].flatten(1)
    logits = torch.randn(128, 784, requires_grad=True)
    formulations = {
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
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for vae_core")
    parser.add_argument("--choices", action="store_true", help="also time thread counts and BCE formulations")
    args = parser.parse_args()

    print(f"MNIST, 784-400-20 MLP VAE, Bernoulli decoder, Adam 1e-3, batch 128, {args.epochs} epochs, "
          f"{torch.get_num_threads()} torch threads by default")
    load_dataset("mnist", "train"), load_dataset("mnist", "test")  # the one-off load is not a per-epoch cost
    textbook_s, textbook_loss_value = run_textbook(args.epochs, args.seed)
    print(f"textbook (DataLoader + ToTensor): {textbook_s:6.2f} s/epoch, test -ELBO {textbook_loss_value:.2f} nats")
    core_s, core_loss = run_vae_core(args.epochs, args.seed, args.threads)
    print(f"vae_core ({args.threads} threads):          {core_s:6.2f} s/epoch, test -ELBO {core_loss:.2f} nats")
    print(f"speed-up: {textbook_s / core_s:.1f}x; test -ELBO difference {core_loss - textbook_loss_value:+.2f} nats")

    if args.choices:
        for threads in (1, 2):
            seconds, _ = run_vae_core(1, args.seed, threads)
            print(f"choice: vae_core with {threads} thread(s): {seconds:.2f} s/epoch")
        for name, ms in time_bce_formulations(args.threads).items():
            print(f"choice: {name}: {ms:.3f} ms per batch (forward + backward)")


if __name__ == "__main__":
    main()
