"""The zoo's specs and a quick zoo run end to end: train, measure on stored weights, skip, refuse to overwrite."""

from __future__ import annotations

import re

import pytest
import torch

from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.engine.checkpoints import load_checkpoint
from vae_core.engine.data import is_available, load_dataset
from vae_core.engine.evaluation import evaluate
from vae_core.engine.protocol import protocol_of
from vae_core.engine.replay_recorder import MIN_FRAME_GAP_STEPS, frame_steps
from vae_core.zoo.cli import main
from vae_core.zoo.specs import DEFAULT_IW_SAMPLES, MNIST_BETAS, QuickSizes, run_zoo, select_specs, split_for, zoo_specs

QUICK = QuickSizes()
CONTRACT_NAME = re.compile(
    r"^(mnist|fashion-mnist|digits)-(ae|vae|dae|sae|cae|cvae)-z2$"
    r"|^(mnist|digits)-vae-z\d+-beta[0-9.]+$|^mnist-(vae|ae)-default$"
    r"|^(mnist|digits)-sae-wide-(kl|nopenalty)$"
    r"|^sprites-(vae|tcvae)-z10-beta\d+$"
)
REQUIRED_METADATA = (
    "role",
    "group",
    "train_seconds",
    "train_cpu_seconds",
    "split_sizes",
    "epochs_run",
    "hardware",
    "metrics",
    "seed",
    "train_seed",
    "eval_seed",
    "test_binarized",
    "test_binarization",
    "iw_samples",
)


def quick_names() -> list[str]:
    """The whole quick zoo when MNIST and Fashion-MNIST are on disk, else its digits part."""
    offline = not (is_available("mnist") and is_available("fashion-mnist"))
    return [s.name for s in zoo_specs(quick=True) if not offline or s.train.dataset == "digits"]


@pytest.fixture(scope="module")
def quick_zoo(tmp_path_factory):
    """One quick zoo run through the CLI, shared by the tests below."""
    out = tmp_path_factory.mktemp("quick-zoo")
    assert main(["zoo", "--quick", "--out", str(out), "--only", *quick_names()]) == 0
    return out


def test_specs_are_the_zoo_the_issue_asks_for():
    specs = zoo_specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert all(CONTRACT_NAME.match(name) for name in names), names
    family = {(s.train.dataset, s.model.kind) for s in specs if s.role == "family-2d"}
    assert family == (
        {("mnist", k) for k in ("ae", "vae", "dae", "sae", "cae")}
        | {(d, k) for d in ("fashion-mnist", "digits") for k in ("ae", "vae")}
        | {("digits", k) for k in ("dae", "cae")}  # the autoencoder lesson's, so that nothing trains at page open
    )
    assert all(s.model.latent_dim == 2 and s.model.beta == 1.0 for s in specs if s.role == "family-2d")
    mnist_sweep = [s for s in specs if s.group == "mnist-beta-sweep"]
    assert sorted(s.model.beta for s in mnist_sweep) == sorted(MNIST_BETAS) == [0.1, 0.25, 0.5, 1, 2, 4, 8, 16]
    # One architecture: the sweep's models differ only by beta.
    assert len({(s.model.hidden_dims, s.model.latent_dim, s.train.epochs) for s in mnist_sweep}) == 1
    assert len([s for s in specs if s.group == "digits-beta-sweep"]) >= 3
    # Every zoo model is a likelihood model: trained binarised, measured on a fixed binarisation; the sprites are
    # binary images already (vae_core.engine.protocol.BINARY_DATASETS), with nothing to binarise.
    assert all(s.train.dynamic_binarization and s.test_binarized for s in specs if s.train.dataset != "sprites")
    default, contrast = ([s for s in specs if s.role == "default" and s.model.kind == kind] for kind in ("vae", "ae"))
    (default,), (contrast,) = default, contrast
    assert default.name == "mnist-vae-default" and default.group == contrast.group == "mnist-default"
    assert (contrast.model.hidden_dims, contrast.model.latent_dim) == (
        default.model.hidden_dims,
        default.model.latent_dim,
    )
    assert default.iw_samples == DEFAULT_IW_SAMPLES == 5000
    assert all(s.iw_samples > 0 for s in specs if s.model.is_variational)
    assert all(s.iw_samples == 0 for s in specs if not s.model.is_variational)
    conditional = {s.name: s for s in specs if s.role == "conditional"}
    assert set(conditional) == {"mnist-cvae-z2", "digits-cvae-z2"}
    # The same body, data and schedule as the 2-D VAE of the same data set: only the label input differs.
    by_name = {s.name: s for s in specs}
    for dataset in ("mnist", "digits"):
        cvae, vae = conditional[f"{dataset}-cvae-z2"], by_name[f"{dataset}-vae-z2"]
        assert (cvae.model.hidden_dims, cvae.model.latent_dim, cvae.train) == (
            vae.model.hidden_dims,
            vae.model.latent_dim,
            vae.train,
        )
    assert len({s.train.seed for s in specs}) == 1


def test_the_2d_ae_and_vae_and_the_digits_sweep_record_replays():
    expected = {f"{d}-{k}-z2" for d in ("mnist", "fashion-mnist", "digits") for k in ("ae", "vae")}
    expected |= {s.name for s in zoo_specs() if s.group == "digits-beta-sweep"}
    assert len(expected) == 12
    assert {s.name for s in zoo_specs() if s.record_replay} == expected
    assert {s.name for s in zoo_specs(quick=True) if s.record_replay} == expected


def test_quick_zoo_files_carry_their_replays(quick_zoo):
    for spec in zoo_specs(quick=True):
        if spec.name in quick_names():
            info = read_checkpoint_info(quick_zoo / spec.filename)
            assert (info.replay is not None) == spec.record_replay, spec.name
            if spec.record_replay:
                steps = QUICK.epochs * -(-QUICK.train_images // spec.train.batch_size)
                # a quick run is shorter than the gap between frames, so its frames are the schedule of a short
                # run: MIN_FRAMES of them (one per step when it has fewer), up to the zoo's own cap
                assert steps < MIN_FRAME_GAP_STEPS, spec.name
                expected = frame_steps(steps, max_frames=spec.replay_frames)
                assert list(info.replay.steps) == expected and len(expected) == min(steps + 1, spec.replay_frames)


def test_quick_specs_keep_names_and_roles_but_shrink():
    full, quick = zoo_specs(), zoo_specs(quick=True)
    assert [(s.name, s.role, s.group, s.model.kind) for s in full] == [
        (s.name, s.role, s.group, s.model.kind) for s in quick
    ]
    assert all(s.train.epochs == QUICK.epochs and s.model.hidden_dims == QUICK.hidden_dims for s in quick)


def test_select_specs_refuses_unknown_names():
    specs = zoo_specs(quick=True)
    assert [s.name for s in select_specs(specs, ["digits-vae-z2"])] == ["digits-vae-z2"]
    with pytest.raises(ValueError, match="no zoo model named nope"):
        select_specs(specs, ["nope"])
    assert main(["zoo", "--quick", "--out", "unused", "--only", "nope"]) == 1


def test_quick_zoo_writes_every_model_with_its_metadata(quick_zoo):
    specs = {s.name: s for s in zoo_specs(quick=True)}
    for name in quick_names():
        spec = specs[name]
        info = read_checkpoint_info(quick_zoo / spec.filename)
        meta = info.metadata
        missing = [key for key in REQUIRED_METADATA if key not in meta]
        assert not missing, f"{name} lacks {missing}"
        assert (meta["role"], meta["group"]) == (spec.role, spec.group)
        assert info.model_config == spec.model and info.train_config == spec.train
        n_test = min(QUICK.test_images, len(load_dataset(spec.train.dataset, "test")))
        assert meta["split_sizes"] == {"train": QUICK.train_images, "test": n_test}
        assert meta["epochs_run"] == QUICK.epochs == len(meta["history"])
        assert meta["seed"] == meta["train_seed"] == spec.train.seed
        assert meta["quick"] is True and meta["stored_dtype"] == "float16"
        metrics = meta["metrics"]
        assert metrics["n_images"] == n_test
        assert len(metrics["kl_per_dim"]) == spec.model.latent_dim
        if spec.model.is_variational:
            assert metrics["iw_samples"] == QUICK.iw_samples and metrics["iw_nll"] is not None
            assert metrics["neg_elbo"] == pytest.approx(metrics["recon"] + metrics["kl"])
        else:
            assert metrics["iw_nll"] is None and metrics["neg_elbo"] is None
        assert metrics["binarized"] == spec.test_binarized == meta["test_binarized"]


def test_recorded_metrics_are_those_of_the_stored_weights(quick_zoo):
    for name in ("digits-vae-z8-beta1", "digits-ae-z2"):
        spec = select_specs(zoo_specs(quick=True), [name])[0]
        model, info = load_checkpoint(quick_zoo / spec.filename)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        meta = info.metadata
        report = evaluate(
            model,
            split_for(spec, "test"),
            iw_samples=meta["iw_samples"],
            seed=meta["eval_seed"],
            protocol=protocol_of(info.train_config, info.model_config),
        )
        recorded = info.metrics
        # Same weights, data, seed and protocol: the numbers must agree to rounding.
        for key in ("recon", "kl", "regularizer", "mse"):
            assert getattr(report, key) == pytest.approx(getattr(recorded, key), abs=1e-4), key
        assert report.kl_per_dim == pytest.approx(recorded.kl_per_dim, abs=1e-5)
        assert report.active_units == recorded.active_units
        if recorded.iw_nll is not None:
            assert report.iw_nll == pytest.approx(recorded.iw_nll, abs=1e-4)


def test_second_run_skips_existing_models(quick_zoo, capsys):
    names = ["digits-ae-z2", "digits-vae-z2"]
    before = {n: (quick_zoo / f"{n}.safetensors").stat().st_mtime_ns for n in names}
    specs = select_specs(zoo_specs(quick=True), names)
    outcome = run_zoo(quick_zoo, specs, quick=True)
    assert [p.stem for p in outcome.skipped] == names and not outcome.trained and not outcome.problems
    assert {n: (quick_zoo / f"{n}.safetensors").stat().st_mtime_ns for n in names} == before
    assert "exists, skipped" in capsys.readouterr().err


def test_zoo_reports_progress_on_stderr(tmp_path, capsys):
    assert main(["zoo", "--quick", "--out", str(tmp_path), "--only", "digits-ae-z2", "--card"]) == 0
    err = capsys.readouterr().err
    assert "[1/1] digits-ae-z2: training ae" in err
    assert "epoch 1:" in err and "saved" in err and "1 trained, 0 skipped" in err
    assert (tmp_path / "README.md").is_file()


def test_a_foreign_or_broken_file_is_left_alone(tmp_path, capsys):
    broken = tmp_path / "digits-ae-z2.safetensors"
    broken.write_bytes(b"not a checkpoint")
    specs = select_specs(zoo_specs(quick=True), ["digits-ae-z2", "digits-vae-z2"])
    # Same name, different settings: a full-size model must not be mistaken for the quick one.
    run_zoo(
        tmp_path,
        select_specs(zoo_specs(quick=True, quick_sizes=QuickSizes(hidden_dims=(16,))), ["digits-vae-z2"]),
        quick=True,
    )
    outcome = run_zoo(tmp_path, specs, quick=True)
    assert not outcome.trained and not outcome.skipped
    assert [p.name for p, _ in outcome.problems] == ["digits-ae-z2.safetensors", "digits-vae-z2.safetensors"]
    assert "not a readable checkpoint" in outcome.problems[0][1]
    assert "other settings" in outcome.problems[1][1]
    assert broken.read_bytes() == b"not a checkpoint"
    assert main(["zoo", "--quick", "--out", str(tmp_path), "--only", "digits-ae-z2"]) == 1
    assert "left alone" in capsys.readouterr().err
