"""vae_core.engine.training: history, determinism, callbacks, cooperative stop, NaN recovery and the beta warm-up."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.limits import MAX_LEARNING_RATE
from vae_core.engine.models import build_model
from vae_core.engine.results import EpochRecord
from vae_core.engine.training import (
    TrainingCallback,
    TrainingDiverged,
    fit,
    fresh_binarization,
    hardware_description,
    kl_weight,
    torch_threads,
    training_metadata,
)

STEPS_PER_EPOCH = math.ceil(1437 / 128)  # digits train split, default batch size


def run(tiny_config, digits_train, digits_test, callback=None, stop=None, model_kwargs=None, **train_kwargs):
    train_values = {"dataset": "digits", "epochs": 1, "seed": 0, "lr": 3e-3}
    train_values.update(train_kwargs)
    return fit(
        tiny_config(**(model_kwargs or {})),
        TrainConfig(**train_values),
        callback,
        stop=stop,
        train_data=digits_train,
        test_data=digits_test,
    )


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Recorder(TrainingCallback):
    def __init__(self):
        self.steps, self.epochs = [], []

    def on_step(self, progress):
        self.steps.append(progress)

    def on_epoch(self, record, model):
        self.epochs.append(record)


def test_history_and_callbacks(tiny_config, digits_train, digits_test):
    recorder = Recorder()
    result = run(tiny_config, digits_train, digits_test, recorder, epochs=2)
    assert len(result.history) == 2 and not result.stopped
    assert [r.epoch for r in result.history] == [1, 2]
    assert recorder.epochs == result.history
    assert len(recorder.steps) == 2 * STEPS_PER_EPOCH
    assert [p.global_step for p in recorder.steps] == list(range(1, 2 * STEPS_PER_EPOCH + 1))
    assert recorder.steps[-1].total_steps == 2 * STEPS_PER_EPOCH
    assert recorder.steps[STEPS_PER_EPOCH].epoch == 2 and recorder.steps[STEPS_PER_EPOCH].step == 1
    for record in result.history:
        terms = [*record.train.to_dict().values(), *record.test.to_dict().values()]
        assert all(math.isfinite(v) for v in terms)
        assert record.test.objective == pytest.approx(record.test.recon + record.beta * record.test.kl, rel=1e-5)
        assert record.seconds > 0
    as_dict = result.history[0].to_dict()
    assert as_dict["train"] == result.history[0].train.to_dict() and as_dict["epoch"] == 1
    assert EpochRecord.from_dict(as_dict) == result.history[0]
    assert not result.model.training  # handed back in eval mode


def test_objective_decreases_over_epochs(tiny_config, digits_train, digits_test):
    result = run(tiny_config, digits_train, digits_test, epochs=4)
    train = [r.train.objective for r in result.history]
    test = [r.test.objective for r in result.history]
    assert train[-1] < train[0] - 1.0, train
    assert test[-1] < test[0] - 1.0, test


def test_step_terms_average_to_the_epochs_record(tiny_config, digits_train, digits_test):
    recorder = Recorder()
    result = run(tiny_config, digits_train, digits_test, recorder, epochs=2, batch_size=512)
    sizes = [512, 512, len(digits_train) - 1024]  # the last batch is smaller and weighs less
    for record, steps in zip(result.history, (recorder.steps[:3], recorder.steps[3:]), strict=True):
        for name in ("objective", "recon", "kl", "regularizer"):
            values = [getattr(p.terms, name) for p in steps]
            mean = sum(v * n for v, n in zip(values, sizes, strict=True)) / len(digits_train)
            assert getattr(record.train, name) == pytest.approx(mean, rel=1e-5, abs=1e-7), name
        assert [p.terms.objective for p in steps] == pytest.approx([p.objective for p in steps], rel=1e-6)


def test_test_terms_match_an_evaluation_of_the_returned_model(tiny_config, digits_train, digits_test):
    result = run(tiny_config, digits_train, digits_test, model_kwargs={"kind": "ae"}, epochs=1)
    with torch.no_grad():
        recon = result.model.loss(digits_test.images).recon.item()
    assert result.history[-1].test.recon == pytest.approx(recon, rel=1e-5)


def test_same_seed_same_weights_other_seed_other_weights(tiny_config, digits_train, digits_test):
    a = weights(run(tiny_config, digits_train, digits_test, seed=3).model)
    b = weights(run(tiny_config, digits_train, digits_test, seed=3).model)
    c = weights(run(tiny_config, digits_train, digits_test, seed=4).model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_no_test_split_when_eval_is_off(tiny_config, digits_train):
    result = fit(tiny_config(), TrainConfig(dataset="digits", epochs=1, eval_each_epoch=False), train_data=digits_train)
    assert result.history[0].test is None and result.history[0].to_dict()["test"] is None


def test_stop_event_stops_cooperatively(tiny_config, digits_train, digits_test):
    stop = threading.Event()

    class StopAfterThree(Recorder):
        def on_step(self, progress):
            super().on_step(progress)
            if progress.global_step == 3:
                stop.set()

    recorder = StopAfterThree()
    result = run(tiny_config, digits_train, digits_test, recorder, stop=stop, epochs=3)
    assert result.stopped
    assert len(recorder.steps) == 3
    assert len(result.history) == 1  # the partial epoch is still recorded
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_stop_set_before_start_trains_nothing(tiny_config, digits_train, digits_test):
    stop = threading.Event()
    stop.set()
    recorder = Recorder()
    result = run(tiny_config, digits_train, digits_test, recorder, stop=stop, epochs=2)
    assert result.stopped and result.history == [] and recorder.steps == []


def test_nan_raises_and_restores_last_good_weights(tiny_config, digits_train, digits_test):
    class PoisonAfterFirstEpoch(TrainingCallback):
        def __init__(self):
            self.good: dict[str, torch.Tensor] = {}

        def on_epoch(self, record: EpochRecord, model) -> None:
            if record.epoch == 1:
                self.good = weights(model)
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))

    poison = PoisonAfterFirstEpoch()
    with pytest.raises(TrainingDiverged) as info:
        run(tiny_config, digits_train, digits_test, poison, epochs=3)
    message = str(info.value)
    assert "nan" in message and "epoch 2, step 1" in message and "end of epoch 1" in message
    assert "lower learning rate" in message
    result = info.value.result
    assert len(result.history) == 1
    restored = weights(result.model)
    assert all(torch.isfinite(v).all() for v in restored.values())
    assert poison.good.keys() == restored.keys()
    assert all(torch.equal(restored[k], poison.good[k]) for k in poison.good)


def test_huge_learning_rate_diverges_cleanly(tiny_config, digits_train, digits_test):
    # A gaussian decoder has an unbounded loss, so the largest learning rate the config accepts
    # (limits.MAX_LEARNING_RATE) drives it to inf/nan within the first epoch.
    with pytest.raises(TrainingDiverged) as info:
        run(
            tiny_config,
            digits_train,
            digits_test,
            model_kwargs={"likelihood": "gaussian"},
            lr=MAX_LEARNING_RATE,
            epochs=2,
        )
    initial = weights(build_model_seeded(tiny_config(likelihood="gaussian"), seed=0))
    restored = weights(info.value.result.model)
    assert "end of epoch 0" in str(info.value)
    assert all(torch.equal(restored[k], initial[k]) for k in initial)  # nothing good was reached: the init


def build_model_seeded(config: ModelConfig, seed: int):
    torch.manual_seed(seed)  # fit seeds the same way before building its model
    return build_model(config)


def test_kl_weight_schedule():
    warm = TrainConfig(kl_warmup_epochs=4)
    assert [kl_weight(warm, 2.0, e) for e in range(1, 7)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert [kl_weight(TrainConfig(kl_warmup_epochs=0), 2.0, e) for e in (1, 5)] == [2.0, 2.0]


def test_warm_up_reaches_the_history_and_every_step(tiny_config, digits_train, digits_test):
    recorder = Recorder()
    result = run(
        tiny_config,
        digits_train,
        digits_test,
        recorder,
        model_kwargs={"beta": 3.0},
        epochs=3,
        kl_warmup_epochs=2,
        batch_size=512,
    )
    assert [r.beta for r in result.history] == [1.5, 3.0, 3.0]
    assert [p.beta for p in recorder.steps] == [1.5] * 3 + [3.0] * 6  # 3 steps of 512 images per epoch
    for r in result.history:
        assert r.test.objective == pytest.approx(r.test.recon + r.beta * r.test.kl, rel=1e-5)


def test_dynamic_binarisation_feeds_binary_batches(tiny_config, digits_train, digits_test):
    torch.manual_seed(0)
    model = build_model(tiny_config())
    seen: list[torch.Tensor] = []
    original = model.loss  # what fit calls each step

    def recording(x, y=None, *, beta=None):
        seen.append(x)
        return original(x, y, beta=beta)

    model.loss = recording  # instance attribute: only this model records
    config = TrainConfig(dataset="digits", epochs=1, dynamic_binarization=True, batch_size=256, eval_each_epoch=False)
    result = fit(tiny_config(), config, train_data=digits_train, model=model)
    assert result.model is model and len(result.history) == 1
    batches = torch.cat(seen)
    assert len(batches) == len(digits_train)
    assert set(batches.unique().tolist()) == {0.0, 1.0}
    assert batches.mean().item() == pytest.approx(digits_train.images.mean().item(), abs=0.01)


def test_fresh_binarization_draws_each_pixel_from_a_bernoulli_of_its_intensity():
    draws_per_pixel = 20_000
    intensities = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    images = intensities.repeat(draws_per_pixel, 1)
    torch.manual_seed(3)
    draws = fresh_binarization(images)
    assert draws.shape == images.shape and draws.dtype == images.dtype
    assert set(draws.unique().tolist()) == {0.0, 1.0}
    assert not draws[:, 0].any() and draws[:, -1].all()  # intensity 0 is never on, 1 always
    standard_error = (intensities * (1 - intensities) / draws_per_pixel).sqrt()
    assert torch.all((draws.mean(0) - intensities).abs() <= 5 * standard_error)
    torch.manual_seed(3)  # the global generator, as seed_everything seeds it
    assert torch.equal(fresh_binarization(images), draws)
    assert not torch.equal(fresh_binarization(images), draws)  # and a fresh draw on every call


def test_fresh_binarization_draws_the_same_pixels_as_torch_bernoulli_on_the_cpu():
    # torch's CPU sampler compares the same uniforms, drawn in the same order: models trained before the change
    # are trained again bit for bit (the zoo's weights do not move). A torch release that breaks this only
    # changes which pixels are drawn, not their distribution: update the zoo's notes, then this test.
    images = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    by_bernoulli = torch.bernoulli(images)
    torch.manual_seed(5)
    assert torch.equal(fresh_binarization(images), by_bernoulli)


def test_shape_mismatch_is_refused(digits_train, digits_test):
    with pytest.raises(ValueError, match=r"expects images shaped \(1, 28, 28\).*\(1, 8, 8\)"):
        fit(
            ModelConfig(input_shape=(1, 28, 28), hidden_dims=(8,)),
            TrainConfig(dataset="digits"),
            train_data=digits_train,
            test_data=digits_test,
        )


def test_thread_setting_is_restored(tiny_config, digits_train, digits_test):
    before = torch.get_num_threads()
    run(tiny_config, digits_train, digits_test, num_threads=1, eval_each_epoch=False)
    assert torch.get_num_threads() == before


def test_lr_decay_scales_the_rate_after_every_epoch(tiny_config, digits_train, digits_test):
    # lr_decay = 1e-30 leaves a rate of 1e-33 from epoch 2 on, far below a float32 weight's resolution: the
    # weights stop where epoch 1 left them.
    class KeepFirstEpoch(TrainingCallback):
        def on_epoch(self, record, model):
            if record.epoch == 1:
                self.after_first = weights(model)

    keep = KeepFirstEpoch()
    result = run(tiny_config, digits_train, digits_test, keep, epochs=3, lr_decay=1e-30, eval_each_epoch=False)
    final = weights(result.model)
    assert all(torch.equal(final[k], keep.after_first[k]) for k in final)
    constant = weights(run(tiny_config, digits_train, digits_test, epochs=3, eval_each_epoch=False).model)
    assert not all(torch.equal(final[k], constant[k]) for k in final)


def test_torch_threads_sets_and_restores_the_count():
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0 leaves torch's setting alone
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(other):
        raise RuntimeError("restored on the way out of an error too")
    assert torch.get_num_threads() == before


def test_hardware_names_the_device_that_trained(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU 80GB")
    on_cpu = hardware_description(1, device="cpu")
    assert on_cpu.startswith("CPU ") and on_cpu.endswith("1 torch thread") and "Fake GPU" not in on_cpu
    assert hardware_description(3, device=torch.device("cpu")).endswith("3 torch threads")
    assert hardware_description(device="cuda").startswith("Fake GPU 80GB")
    meta = training_metadata(1.234, 10, 5, 2, 1, device="cpu")
    assert meta == {"train_seconds": 1.23, "split_sizes": {"train": 10, "test": 5}, "epochs_run": 2, "hardware": on_cpu}
