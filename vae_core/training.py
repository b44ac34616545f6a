"""The training loop: whole-tensor shuffled batches, Adam, callbacks, a stop request and NaN detection."""

from __future__ import annotations

import copy
import math
import os
import platform
import threading
import time
from dataclasses import dataclass, field

import torch

from .config import ModelConfig, TrainConfig
from .data import ImageDataset, binarize, load_dataset
from .evaluation import mean_loss_terms
from .losses import SCALAR_TERMS
from .models import LatentModel, build_model
from .optim import Adam
from .results import EpochRecord



@dataclass
class StepProgress:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    global_step: int
    total_steps: int
    objective: float  # this batch's objective, nats per image


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


def fit(model_config: ModelConfig, train_config: TrainConfig, callback: TrainingCallback | None = None, *,
        stop: threading.Event | None = None, train_data: ImageDataset | None = None,
        test_data: ImageDataset | None = None, model: LatentModel | None = None) -> FitResult:
    """Train a model from scratch (or continue `model`) and return it with its per-epoch history."""
    callback = callback or TrainingCallback()
    cfg = train_config
    train_data = train_data or load_dataset(cfg.dataset, "train")
    if test_data is None and cfg.eval_each_epoch:
        test_data = load_dataset(cfg.dataset, "test")
    if train_data.input_shape != model_config.input_shape:
        raise ValueError(f"the model expects images shaped {model_config.input_shape} but {cfg.dataset} "
                         f"images are {train_data.input_shape}")

    torch.manual_seed(cfg.seed)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model = (model or build_model(model_config)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    # One fused kernel call per step for all parameters (vae_core/optim.py says why not torch.optim.Adam).
    optimizer = Adam(params, lr=cfg.lr)
    x_train = train_data.images.to(device)
    # Rows of pixels: index_select on a 2-D tensor gathers a batch ~3x faster than fancy indexing a 4-D one.
    train_rows = x_train.reshape(x_train.shape[0], -1)
    x_test = test_data.images.to(device) if test_data is not None else None
    if x_test is not None and cfg.dynamic_binarization:
        # A model trained on binarised images is measured on one fixed binarisation of the test set, the same
        # protocol evaluate(..., binarized=True, seed=cfg.seed) uses, so the history and the final metrics agree.
        x_test = binarize(test_data.images, torch.Generator().manual_seed(cfg.seed)).to(device)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    result = FitResult(model, model_config, cfg)
    last_good = copy.deepcopy(model.state_dict())
    previous_threads = torch.get_num_threads()
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    started = time.perf_counter()
    try:
        for epoch in range(1, cfg.epochs + 1):
            beta = kl_weight(cfg, model_config.beta, epoch)
            optimizer.lr = cfg.lr * cfg.lr_decay ** (epoch - 1)
            epoch_start = time.perf_counter()
            model.train()
            sums = torch.zeros(len(SCALAR_TERMS), device=device)
            seen = 0
            order = torch.randperm(n, generator=shuffle).to(device)
            for step in range(1, steps_per_epoch + 1):
                if stop is not None and stop.is_set():
                    result.stopped = True
                    break
                rows = order[(step - 1) * cfg.batch_size: step * cfg.batch_size]
                xb = train_rows.index_select(0, rows).view(-1, *x_train.shape[1:])
                if cfg.dynamic_binarization:
                    xb = torch.bernoulli(xb)
                terms, grads = model.loss_and_grads(xb, beta=beta)
                objective = terms.objective.item()
                if not math.isfinite(objective):
                    model.load_state_dict(last_good)
                    result.seconds = time.perf_counter() - started
                    raise TrainingDiverged(
                        f"the objective became {objective} at epoch {epoch}, step {step}; the weights were "
                        f"restored to the end of epoch {epoch - 1}. Try a lower learning rate.", result)
                optimizer.step(grads)
                sums.add_(terms.scalars(), alpha=len(xb))
                seen += len(xb)
                callback.on_step(StepProgress(epoch, step, steps_per_epoch, (epoch - 1) * steps_per_epoch + step,
                                              cfg.epochs * steps_per_epoch, objective))
            if seen == 0:
                break
            model.eval()
            test_terms = mean_loss_terms(model, x_test, beta=beta) if x_test is not None else None
            record = EpochRecord(epoch, beta, time.perf_counter() - epoch_start,
                                 dict(zip(SCALAR_TERMS, (sums / seen).tolist())), test_terms)
            result.history.append(record)
            last_good = copy.deepcopy(model.state_dict())
            callback.on_epoch(record, model)
            if result.stopped:
                break
    finally:
        torch.set_num_threads(previous_threads)
        model.eval()
    result.seconds = time.perf_counter() - started
    return result


def training_metadata(seconds: float, n_train: int, n_test: int, epochs_run: int,
                      threads: int | None = None) -> dict:
    """Where and how long a model was trained, for its checkpoint (threads: those training used)."""
    return {"train_seconds": round(seconds, 2), "split_sizes": {"train": n_train, "test": n_test},
            "epochs_run": epochs_run, "hardware": hardware_description(threads)}


def hardware_description(threads: int | None = None) -> str:
    """The device training ran on, e.g. "CPU x86_64 (2 cores), 1 torch thread"."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, {platform.machine()}"
    # fit restores torch's thread count when it returns, so the caller says how many training used.
    threads = threads or torch.get_num_threads()
    return (f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
            f"{threads} torch thread{'s' if threads != 1 else ''}")
