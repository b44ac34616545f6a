"""The sidebar's notes on checkpoint files it does not list: each names the file (never a server path) and says
what stands there or why it is not offered."""

from __future__ import annotations

import re

import torch

from tests.hostile_files import CASES
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.literal_text import WORD_JOINER
from vae_core.engine.models import build_model

LINKS = ("symlink-loop", "dangling-symlink", "symlink-to-dev-zero", "symlink-to-its-folder")


def notes(at) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", w.value).replace(WORD_JOINER, "") for w in at.sidebar.warning]


def test_odd_links_and_a_foreign_data_set_are_named_and_explained(open_page, tmp_path):
    user = tmp_path / "user_checkpoints"  # app_env's user folder
    user.mkdir()
    for case in LINKS:
        build, _ = CASES[case]
        build(user / f"{case}.safetensors", None)
    torch.manual_seed(0)
    cifar = build_model(ModelConfig(input_shape=(3, 32, 32), latent_dim=2, hidden_dims=(8,)))
    save_checkpoint(user / "my-cifar-vae.safetensors", cifar, TrainConfig(dataset="cifar10"))
    at = open_page()
    assert not at.exception, at.exception
    shown = notes(at)
    for case in LINKS:
        (line,) = [n for n in shown if n.startswith(f"{case}.safetensors: ")]
        assert CASES[case][1] in line, line
    assert "dangling" not in next(n for n in shown if n.startswith("symlink-to-dev-zero"))
    assert not [n for n in shown if str(tmp_path) in n], "no note shows where the server keeps its files"
    (cifar_note,) = [n for n in shown if n.startswith("my-cifar-vae.safetensors")]
    assert "trained on cifar10 (3×32×32 images), which this app does not offer" in cifar_note
