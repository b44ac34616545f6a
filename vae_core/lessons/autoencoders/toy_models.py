"""Small autoencoders for the toy manifolds of toy_data.py, and the short seeded loop that trains them.

Why not vae_core's models and fit(): those are built for images with pixels in [0, 1]. Their decoders clamp
to [0, 1], the denoising AE clamps its corrupted input to [0, 1], the likelihoods are per-pixel Bernoulli or
fixed-sigma Gaussian NLLs in nats per image, and fit() takes ImageDataset splits and evaluates a test split
every epoch. Toy points are unbounded real vectors whose natural loss is the squared distance, and the
lesson draws vector fields well outside the data. A 40-line full-batch loop says all of that more plainly.

Kinds (TOY_KINDS):
- linear: x -> W_e x + b_e -> W_d z + b_d; its optimum spans PCA's subspace (Baldi & Hornik 1989).
- ae: tanh MLP encoder and decoder, trained on the squared reconstruction error.
- dae: the same, fed x + N(0, noise^2 I) and asked for the clean x (Vincent et al. 2008).
- cae: the same, plus weight * ||d code / d x||_F^2 (Rifai et al. 2011).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vae_core.engine.models.autoencoders import jacobian_frobenius_sq
from vae_core.engine.training import torch_threads

TOY_KINDS = ("linear", "ae", "dae", "cae")


@dataclass(frozen=True)
class ToyTrainSpec:
    """One toy model and how it is trained; a frozen dataclass so it can key a cache."""

    kind: str = "ae"  # linear | ae | dae | cae
    code_dim: int = 1  # the bottleneck
    hidden: int = 64  # width of each of the two tanh layers of encoder and decoder (ignored by linear)
    steps: int = 1500  # full-batch Adam steps
    lr: float = 1e-2
    noise: float = 0.2  # dae: std of the Gaussian corruption, in the units of the points
    contractive_weight: float = 0.1  # cae: weight on the mean ||J||_F^2
    seed: int = 0  # seeds the initialisation and the dae's corruption

    def __post_init__(self) -> None:
        if self.kind not in TOY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TOY_KINDS)}; got {self.kind!r}")
        if self.code_dim < 1 or self.hidden < 1 or self.steps < 1:
            raise ValueError("code_dim, hidden and steps must be at least 1")


class ToyAutoencoder(nn.Module):
    """Encoder and decoder for d-dimensional points; linear, or two tanh layers each way."""

    encoder: nn.Module  # one Linear, or a Sequential of them
    decoder: nn.Module

    def __init__(self, input_dim: int, code_dim: int, hidden: int = 64, linear: bool = False):
        super().__init__()
        self.input_dim, self.code_dim, self.linear = input_dim, code_dim, linear
        if linear:
            self.encoder = nn.Linear(input_dim, code_dim)
            self.decoder = nn.Linear(code_dim, input_dim)
        else:
            self.encoder = nn.Sequential(
                nn.Linear(input_dim, hidden),
                nn.Tanh(),
                nn.Linear(hidden, hidden),
                nn.Tanh(),
                nn.Linear(hidden, code_dim),
            )
            self.decoder = nn.Sequential(
                nn.Linear(code_dim, hidden),
                nn.Tanh(),
                nn.Linear(hidden, hidden),
                nn.Tanh(),
                nn.Linear(hidden, input_dim),
            )

    def embed(self, x: Tensor) -> Tensor:
        """The code f(x), (N, code_dim)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def reconstruct(self, x: Tensor) -> Tensor:
        """r(x) = g(f(x)), (N, d)."""
        return self.decoder(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.reconstruct(x)

    @property
    def decoder_directions(self) -> Tensor:
        """For the linear AE: the (d, code_dim) matrix whose columns span the subspace it reconstructs into."""
        if not self.linear:
            raise ValueError("only the linear autoencoder reconstructs into a subspace")
        assert isinstance(self.decoder, nn.Linear)
        return self.decoder.weight.detach()


@dataclass
class ToyFit:
    """A trained toy model and its record."""

    model: ToyAutoencoder
    spec: ToyTrainSpec
    losses: list[float]  # the training objective after every step (a shipped model keeps only the last)
    seconds: float

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def squared_error(x: Tensor, x_hat: Tensor) -> Tensor:
    """||x - x_hat||^2 per point (or per image), shape (N,): the lesson's one unit of reconstruction error."""
    return (x - x_hat).pow(2).flatten(1).sum(1)


def toy_objective(model: ToyAutoencoder, x: Tensor, spec: ToyTrainSpec, generator: torch.Generator) -> Tensor:
    """The mean training objective of a batch for spec.kind (squared error, plus the cae's penalty)."""
    if spec.kind == "dae":
        x_in = x + spec.noise * torch.randn(x.shape, generator=generator)
        return squared_error(x, model(x_in)).mean()  # the target is the clean x
    if spec.kind == "cae":
        x_in = x.detach().clone().requires_grad_(True)
        code = model.embed(x_in)
        penalty = jacobian_frobenius_sq(code, x_in, create_graph=True).mean()
        return squared_error(x, model.decode(code)).mean() + spec.contractive_weight * penalty
    return squared_error(x, model(x)).mean()


def train_toy_autoencoder(
    points: Tensor,
    spec: ToyTrainSpec,
    progress: Callable[[int, int, float], None] | None = None,
    progress_every: int = 50,
    threads: int = 1,
) -> ToyFit:
    """Full-batch Adam on `points` (N, d) for spec.steps steps; deterministic for a given spec and data.

    progress(step, total_steps, loss) is called every `progress_every` steps and after the last. The loop runs
    with `threads` torch threads: on tensors this small more threads only contend (the machine is shared).
    """
    with torch_threads(threads):
        return _train(points, spec, progress, progress_every)


def _train(
    points: Tensor, spec: ToyTrainSpec, progress: Callable[[int, int, float], None] | None, progress_every: int
) -> ToyFit:
    torch.manual_seed(spec.seed)  # the initialisation
    generator = torch.Generator().manual_seed(spec.seed + 1)  # the dae's corruption
    model = ToyAutoencoder(points.shape[1], spec.code_dim, spec.hidden, linear=spec.kind == "linear")
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)  # the first use in a process imports torch._dynamo
    # Decay the rate tenfold over the run: fast early progress, then a settled minimum to compare.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.1 ** (step / spec.steps))
    x = points.detach().float()
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(1, spec.steps + 1):
        loss = toy_objective(model, x, spec, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if progress is not None and (step % progress_every == 0 or step == spec.steps):
            progress(step, spec.steps, losses[-1])
    model.eval()
    return ToyFit(model, spec, losses, time.perf_counter() - started)
