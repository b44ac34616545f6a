"""The training loop: whole-tensor shuffled batches, Adam, callbacks, a stop request and NaN rollback.

fit() reads top to bottom like the textbook loop (loss, backward, step); its helpers follow it.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.data import ImageDataset, binarize, load_dataset
from vae_core.engine.evaluation import mean_loss_terms
from vae_core.engine.losses import SCALAR_TERMS
from vae_core.engine.models import LatentModel, build_model
from vae_core.engine.results import EpochRecord, TermMeans


@dataclass
class StepProgress:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    global_step: int
    total_steps: int
    objective: float  # this batch's objective, nats per image
    beta: float  # the KL weight this step trained with (ramps up during KL warm-up)
    scalars: torch.Tensor | None = None  # this batch's terms, detached, in SCALAR_TERMS order: read .terms

    @property
    def terms(self) -> TermMeans | None:
        """This batch's terms (nats per image), for curves finer than an epoch. Typed when a callback asks, so
        the loop itself never leaves torch between steps."""
        return None if self.scalars is None else TermMeans.from_named(SCALAR_TERMS, self.scalars.tolist())


class TrainingCallback:
    """Override what you need; fit calls these from the training thread."""

    def on_step(self, progress: StepProgress) -> None:
        pass

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        pass


@dataclass
class FitResult:
    model: LatentModel
    model_config: ModelConfig
    train_config: TrainConfig
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False  # a stop was requested before the last epoch finished


class TrainingDiverged(RuntimeError):
    """The objective became NaN or infinite. `result.model` holds the last good weights."""

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


def kl_weight(train_config: TrainConfig, beta: float, epoch: int) -> float:
    """beta for a 1-based epoch: a linear warm-up from beta/warmup to beta, then beta."""
    if train_config.kl_warmup_epochs <= 0:
        return beta
    return beta * min(1.0, epoch / train_config.kl_warmup_epochs)


def fit(
    model_config: ModelConfig,
    train_config: TrainConfig,
    callback: TrainingCallback | None = None,
    *,
    stop: threading.Event | None = None,
    train_data: ImageDataset | None = None,
    test_data: ImageDataset | None = None,
    model: LatentModel | None = None,
) -> FitResult:
    """Train a model from scratch (or continue `model`) and return it with its per-epoch history."""
    callback = callback or TrainingCallback()
    cfg = train_config
    train_data = train_data or load_dataset(cfg.dataset, "train")
    if test_data is None and cfg.eval_each_epoch:
        test_data = load_dataset(cfg.dataset, "test")
    if train_data.input_shape != model_config.input_shape:
        raise ValueError(
            f"the model expects images shaped {model_config.input_shape} but {cfg.dataset} "
            f"images are {train_data.input_shape}"
        )

    device = torch.device(cfg.device)
    shuffle = seed_everything(cfg.seed)
    model = (model or build_model(model_config)).to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
    x_train = train_data.images.to(device)
    x_test = fixed_test_images(test_data, cfg, device)
    # Models that take labels (the conditional VAE) get each batch's classes; the others get None.
    y_train = train_data.labels.to(device) if model.needs_labels else None
    y_test = test_data.labels.to(device) if model.needs_labels and test_data is not None else None
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    result = FitResult(model, model_config, cfg)
    last_good = LastGoodWeights(model)
    started = time.perf_counter()
    try:
        with torch_threads(cfg.num_threads):
            for epoch in range(1, cfg.epochs + 1):
                beta = kl_weight(cfg, model_config.beta, epoch)
                epoch_start = time.perf_counter()
                model.train()
                train_sums = TermSums(device)
                batches = shuffled_batches(x_train, cfg.batch_size, shuffle, labels=y_train)
                for step, (xb, yb) in enumerate(batches, start=1):
                    if stop is not None and stop.is_set():
                        result.stopped = True
                        break
                    if cfg.dynamic_binarization:
                        xb = fresh_binarization(xb)
                    optimizer.zero_grad(set_to_none=True)
                    terms = model.loss(xb, yb, beta=beta)
                    terms.objective.backward()
                    objective = terms.objective.item()
                    if not math.isfinite(objective):
                        last_good.restore()
                        raise TrainingDiverged(
                            f"the objective became {objective} at epoch {epoch}, step {step}; the weights were "
                            f"restored to the end of epoch {epoch - 1}. Try a lower learning rate.",
                            result,
                        )
                    optimizer.step()
                    global_step = (epoch - 1) * steps_per_epoch + step
                    if global_step % FLUSH_EVERY == 0:
                        flush_tiny_moments(optimizer)
                    scalars = terms.scalars()
                    train_sums.add(scalars, len(xb))
                    callback.on_step(
                        StepProgress(epoch, step, steps_per_epoch, global_step, total_steps, objective, beta, scalars)
                    )
                if train_sums.images == 0:
                    break
                scheduler.step()  # lr * lr_decay ** epoch from the next epoch on
                model.eval()
                test_terms = mean_loss_terms(model, x_test, beta=beta, labels=y_test) if x_test is not None else None
                record = EpochRecord(epoch, beta, time.perf_counter() - epoch_start, train_sums.means(), test_terms)
                result.history.append(record)
                last_good.save()
                callback.on_epoch(record, model)
                if result.stopped:
                    break
    finally:
        result.seconds = time.perf_counter() - started
        model.eval()
    return result


# --- fit's helpers ----------------------------------------------------------------------------------------------


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with n torch intra-op threads (0: leave torch's setting), then restore the previous count."""
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator (initial weights, posterior samples, dynamic binarisation) and return
    a separate generator for the shuffling, so the batch order depends on the seed alone."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def fresh_binarization(images: torch.Tensor) -> torch.Tensor:
    """Dynamic binarisation: each pixel becomes 1 with probability equal to its intensity, a fresh draw from
    torch's global generator on every call.

    uniform < intensity is that Bernoulli draw; on the CPU it takes ~25% less time than torch.bernoulli, whose
    sampler draws pixel by pixel (benchmarks/train_speed.py --choices, the binarisation step parts), and gives
    the same pixels: torch's CPU sampler compares the same uniforms in the same order (tests/engine/test_training.py),
    so training runs repeat bit for bit. The fixed test binarisation keeps torch.bernoulli (data.binarize).
    """
    return torch.rand_like(images).lt_(images)


def fixed_test_images(test_data: ImageDataset | None, cfg: TrainConfig, device: torch.device) -> torch.Tensor | None:
    """The test images fit measures after each epoch (None when there are none).

    A model trained on binarised images is measured on one fixed binarisation of the test set, the same
    protocol evaluate(..., protocol=DataProtocol.BINARIZED, seed=cfg.seed) uses, so the history and the final
    metrics agree.
    """
    if test_data is None:
        return None
    if cfg.dynamic_binarization:
        return binarize(test_data.images, torch.Generator().manual_seed(cfg.seed)).to(device)
    return test_data.images.to(device)


def shuffled_batches(
    images: torch.Tensor, batch_size: int, generator: torch.Generator, labels: torch.Tensor | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """One epoch of (images, labels) batches in a fresh random order; the last batch may be smaller. labels is
    None unless given (models that take labels); the order depends on the generator alone.

    The images stay one tensor in memory (no DataLoader, no per-image transforms). index_select on the
    images as rows of pixels gathers a batch ~3x faster than fancy indexing the 4-D tensor.
    """
    rows = images.reshape(len(images), -1)
    order = torch.randperm(len(images), generator=generator).to(images.device)
    for start in range(0, len(images), batch_size):
        index = order[start : start + batch_size]
        yield (
            rows.index_select(0, index).view(-1, *images.shape[1:]),
            labels.index_select(0, index) if labels is not None else None,
        )


class TermSums:
    """Batch-size-weighted sums of an epoch's loss terms, one tensor on the training device: a step adds its
    batch without leaving torch, and the typed means are read once, when the epoch ends."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(len(SCALAR_TERMS), device=device)  # SCALAR_TERMS order
        self.images = 0

    def add(self, scalars: torch.Tensor, n_images: int) -> None:
        self.sums.add_(scalars, alpha=n_images)
        self.images += n_images

    def means(self) -> TermMeans:
        return TermMeans.from_named(SCALAR_TERMS, (self.sums / self.images).tolist())


class LastGoodWeights:
    """A copy of the model's weights at the end of the last finished epoch, for rolling back a divergence."""

    def __init__(self, model: LatentModel):
        self.model = model
        self.save()

    def save(self) -> None:
        self.state = copy.deepcopy(self.model.state_dict())

    def restore(self) -> None:
        self.model.load_state_dict(self.state)


# Adam's running averages of parameters whose gradient is zero for many steps in a row (the weights of pixels
# that are almost always blank) decay geometrically until they become denormal floats, which x86 CPUs handle
# with slow microcode assists (after 3 MNIST epochs, 83k of them made a whole training step 40% slower; with
# torch.optim.Adam(fused=True), 83k denormal moments made its step ~2x slower, interleaved A/B on 2 busy cores).
# torch.set_flush_denormal(True) would cure that only in the calling thread, not in the OpenMP threads that
# run the other half of every kernel. So every FLUSH_EVERY steps, averages below TINY are set to 0: from TINY
# the first moment needs ~170 steps at beta1 = 0.9 to reach the denormal range, so none gets there, and the
# update changes by at most lr * TINY / eps = 1e-25, far below float32 resolution.
FLUSH_EVERY = 50
TINY = 1e-30


@torch.no_grad()
def flush_tiny_moments(optimizer: torch.optim.Optimizer) -> None:
    """Set Adam's running averages below TINY to exactly 0, before they become denormal."""
    for state in optimizer.state.values():
        for name in ("exp_avg", "exp_avg_sq"):
            moment = state[name]
            moment.masked_fill_(moment.abs() < TINY, 0.0)


def training_metadata(
    seconds: float,
    n_train: int,
    n_test: int,
    epochs_run: int,
    threads: int | None = None,
    *,
    device: str | torch.device = "cpu",
) -> dict:
    """Where and how long a model was trained, for its checkpoint (threads and device: those training used)."""
    return {
        "train_seconds": round(seconds, 2),
        "split_sizes": {"train": n_train, "test": n_test},
        "epochs_run": epochs_run,
        "hardware": hardware_description(threads, device=device),
    }


def hardware_description(threads: int | None = None, *, device: str | torch.device = "cpu") -> str:
    """The device training ran on, e.g. "CPU x86_64 (2 cores), 1 torch thread" or "NVIDIA H200, x86_64".

    A machine may have a GPU and still train on its CPU: the caller says which device trained (TrainConfig's)
    and, for the CPU, how many threads (fit restores torch's thread count when it returns).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, {platform.machine()}"
    if device.type != "cpu":
        return f"{device.type} device, {platform.machine()}"
    threads = threads or torch.get_num_threads()
    return (
        f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
        f"{threads} torch thread{'s' if threads != 1 else ''}"
    )
