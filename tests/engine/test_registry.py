"""The checkpoint registry: scanning both folders, fitting data sets, pairing AE with VAE, sweeps."""

import dataclasses
from pathlib import Path

import pytest
import torch

from tests.hostile_files import write_checkpoint
from vae_core.engine.checkpoint_info import FORMAT_NAME, FORMAT_VERSION
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig, config_to_dict
from vae_core.engine.models import build_model
from vae_core.engine.registry import (
    beta_sweeps,
    comparison_pair,
    counterpart,
    default_entry,
    folder_signature,
    registry_folders,
    scan_registry,
)
from vae_core.engine.vocabulary import SOURCE_SHIPPED, SOURCE_USER

DIGITS = (1, 8, 8)


def scan(zoo_folder: Path, user: Path):
    return scan_registry(((SOURCE_SHIPPED, str(zoo_folder)), (SOURCE_USER, str(user))))


def save_untrained(path: Path, **model_kwargs) -> Path:
    model = build_model(ModelConfig(hidden_dims=(8,), **model_kwargs))
    return save_checkpoint(path, model, TrainConfig(dataset="mnist" if model.config.input_shape[1] == 28 else "digits"))


def test_folders_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "b"))
    assert registry_folders() == ((SOURCE_SHIPPED, str(tmp_path / "a")), (SOURCE_USER, str(tmp_path / "b")))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "a"))
    assert registry_folders() == ((SOURCE_SHIPPED, str(tmp_path / "a")),)  # the same folder is scanned once


def test_scan_lists_both_folders_and_reports_unreadable_files(tiny_zoo, tmp_path):
    user = tmp_path / "user"
    save_untrained(user / "mine.safetensors", input_shape=DIGITS)
    (user / "broken.safetensors").write_bytes(b"not a checkpoint")
    registry = scan(tiny_zoo.folder, user)
    names = {(e.source, e.info.name) for e in registry.entries}
    assert (SOURCE_SHIPPED, "digits-vae-z2") in names and (SOURCE_USER, "mine") in names
    assert len(registry.entries) == 7
    assert [Path(p).name for p, _ in registry.problems] == ["broken.safetensors"]
    assert next(e for e in registry.entries if e.key == "user/mine").info.name == "mine"
    assert all(e.key != "user/nothing" for e in registry.entries)


def test_only_models_whose_input_fits_are_offered(tiny_zoo, tmp_path):
    user = tmp_path / "user"
    save_untrained(user / "mnist-shaped.safetensors", input_shape=(1, 28, 28))
    registry = scan(tiny_zoo.folder, user)
    digits = registry.for_dataset("digits", DIGITS)
    assert "mnist-shaped" not in [e.info.name for e in digits]
    assert len(digits) == 6
    assert [e.info.name for e in registry.for_dataset("mnist", (1, 28, 28))] == ["mnist-shaped"]
    # the 2-D family comes first in the picker
    assert [e.role for e in digits[:2]] == ["family-2d", "family-2d"]


def test_default_entry_is_the_2d_vae(tiny_zoo, tmp_path):
    entries = scan(tiny_zoo.folder, tmp_path).for_dataset("digits", DIGITS)
    assert default_entry(entries, "digits").info.name == "digits-vae-z2"
    assert default_entry([], "digits") is None


def test_counterpart_pairs_ae_and_vae_of_the_same_family(tiny_zoo, tmp_path):
    entries = scan(tiny_zoo.folder, tmp_path).for_dataset("digits", DIGITS)
    by_name = {e.info.name: e for e in entries}
    assert counterpart(entries, by_name["digits-vae-z2"]).info.name == "digits-ae-z2"
    assert counterpart(entries, by_name["digits-ae-z2"]).info.name == "digits-vae-z2"
    assert counterpart(entries, by_name["digits-vae-z4"]) is None  # no 4-D autoencoder
    ae, vae = comparison_pair(entries, by_name["digits-ae-z2"])
    assert (ae.kind, vae.kind) == ("ae", "vae")
    assert comparison_pair(entries, by_name["digits-vae-z4"]) == (None, by_name["digits-vae-z4"])


def test_beta_sweeps_group_by_metadata_and_sort_by_beta(tiny_zoo, tmp_path):
    entries = scan(tiny_zoo.folder, tmp_path).for_dataset("digits", DIGITS)
    sweeps = beta_sweeps(entries, "digits")
    assert list(sweeps) == ["digits-beta-sweep"]
    assert [e.beta for e in sweeps["digits-beta-sweep"]] == [0.5, 1.0, 4.0]
    assert beta_sweeps(entries, "mnist") == {}


def test_a_file_whose_weights_do_not_fit_its_config_is_listed_but_cannot_load(tmp_path):
    # Metadata reads fine, so the scan lists it; loading fails later and the app then skips it.
    model = build_model(ModelConfig(input_shape=DIGITS, latent_dim=2, hidden_dims=(8,)))
    wrong = ModelConfig(input_shape=DIGITS, latent_dim=3, hidden_dims=(8,))
    write_checkpoint(
        tmp_path / "mismatch.safetensors",
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model_config": config_to_dict(wrong),
            "train_config": config_to_dict(TrainConfig()),
            "metadata": {},
        },
        model.state_dict(),
    )
    registry = scan(tmp_path, tmp_path / "none")
    assert [e.info.name for e in registry.entries] == ["mismatch"]


def test_folder_signature_changes_when_a_checkpoint_appears(tmp_path):
    folders = ((SOURCE_SHIPPED, str(tmp_path)), (SOURCE_USER, str(tmp_path / "missing")))
    before = folder_signature(folders)
    save_untrained(tmp_path / "new.safetensors", input_shape=DIGITS)
    after = folder_signature(folders)
    assert before == () and len(after) == 1 and after[0][1] == "new.safetensors"


def test_an_old_format_file_is_a_problem_that_says_how_to_convert_it(tmp_path):
    folders = ((SOURCE_USER, str(tmp_path)),)
    save_untrained(tmp_path / "new.safetensors", input_shape=DIGITS)
    torch.save({"state_dict": {}}, tmp_path / "old.pt")
    assert [name for _, name, *_ in folder_signature(folders)] == ["new.safetensors", "old.pt"]
    registry = scan_registry(folders)
    assert [e.info.name for e in registry.entries] == ["new"]
    assert registry.problems == (
        (
            str(tmp_path / "old.pt"),
            "old.pt: an old-format checkpoint (a torch pickle), which this version does not read; convert it once "
            f"with `python -m vae_core convert {tmp_path}`",
        ),
    )


def test_a_model_ref_names_the_checkpoint_and_device_and_is_a_cache_key(tiny_zoo, tmp_path):
    entry = next(e for e in scan(tiny_zoo.folder, tmp_path).entries if e.info.name == "digits-vae-z2")
    ref = entry.ref("cpu")
    assert (ref.checkpoint_id, ref.path, ref.device) == (entry.checkpoint_id, entry.path, "cpu")
    assert ref == entry.ref("cpu") and hash(ref) == hash(entry.ref("cpu")) and ref != entry.ref("cuda")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.device = "cuda"


def test_odd_entries_in_a_folder_are_skipped_with_a_note_and_the_rest_still_listed(tmp_path):
    import os

    from vae_core.engine.registry import folder_signature, scan_registry

    folder = tmp_path / "user"
    folder.mkdir()
    good = _odd_folder_good_checkpoint(folder)
    os.symlink(folder / "loop-b.safetensors", folder / "loop-a.safetensors")  # a symlink loop: stat raises ELOOP
    os.symlink(folder / "loop-a.safetensors", folder / "loop-b.safetensors")
    os.symlink(folder / "nowhere.safetensors", folder / "dangling.safetensors")
    (folder / "a-folder.safetensors").mkdir()
    os.mkfifo(folder / "a-fifo.safetensors")
    folders = (("user", str(folder)),)
    signature = folder_signature(folders)  # must not raise
    assert ("user", good.name) in {(source, name) for source, name, *_ in signature}
    registry = scan_registry(folders)
    assert [entry.info.path.name for entry in registry.entries] == [good.name]
    noted = " ".join(why for _, why in registry.problems)
    assert "loop-a.safetensors" in noted and "loop-b.safetensors" in noted


def _odd_folder_good_checkpoint(folder):
    from vae_core.engine.checkpoints import save_checkpoint
    from vae_core.engine.config import ModelConfig, TrainConfig
    from vae_core.engine.models import build_model

    config = ModelConfig(input_shape=(1, 8, 8), latent_dim=2, hidden_dims=(8,))
    path = folder / "good.safetensors"
    save_checkpoint(path, build_model(config), TrainConfig())
    return path


def test_a_sweep_member_with_another_latent_size_makes_its_own_sweep(tiny_zoo, tmp_path):
    from tests.conftest import train_tiny_checkpoint
    from vae_core.engine.vocabulary import ROLE_BETA_SWEEP

    user = tmp_path / "user"
    user.mkdir()
    shipped = beta_sweeps(scan(tiny_zoo.folder, user).for_dataset("digits", DIGITS), "digits")["digits-beta-sweep"]
    other_size = {e.latent_dim for e in shipped} ^ {2, 3}
    size = min(other_size)
    train_tiny_checkpoint(
        user / "odd-member.safetensors",
        latent_dim=size,
        beta=2.0,
        role=ROLE_BETA_SWEEP,
        group="digits-beta-sweep",
        epochs=1,
    )
    sweeps = beta_sweeps(scan(tiny_zoo.folder, user).for_dataset("digits", DIGITS), "digits")
    assert len(sweeps) == 2
    for members in sweeps.values():
        assert len({e.latent_dim for e in members}) == 1
    assert sorted(len(m) for m in sweeps.values()) == [1, len(shipped)]


def test_the_picker_orders_the_shipped_beta_sweep_by_beta_as_a_number(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "checkpoints"
    entries = scan(shipped, tmp_path).for_dataset("mnist", (1, 28, 28))
    sweep = [e for e in entries if e.role == "beta-sweep"]
    assert len(sweep) >= 4
    betas = [e.info.model_config.beta for e in sweep]  # from each file's header, not from its name
    assert betas == sorted(betas), [e.info.name for e in sweep]
