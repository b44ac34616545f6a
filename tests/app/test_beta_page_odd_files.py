"""The β page survives odd sweep files in the user folder: another latent size, a one-model sweep."""

from __future__ import annotations

from tests.conftest import train_tiny_checkpoint
from ui.shell.lessons import LESSONS
from vae_core.engine.vocabulary import ROLE_BETA_SWEEP


def test_a_sweep_member_of_another_latent_size_gets_its_own_sweep_and_the_page_still_draws(open_page, tmp_path):
    user = tmp_path / "user_checkpoints"
    user.mkdir()
    train_tiny_checkpoint(
        user / "odd-member.safetensors",
        latent_dim=2,
        beta=2.0,
        role=ROLE_BETA_SWEEP,
        group="digits-beta-sweep",
        epochs=1,
    )
    at = open_page(LESSONS["beta_tradeoff"].script)
    assert not at.exception, at.exception
    picker = at.selectbox(key="beta_group")
    assert len(picker.options) == 2
    for option in picker.options:
        picker.set_value(option).run()
        assert not at.exception, (option, at.exception)
        picker = at.selectbox(key="beta_group")
