"""The anomaly scores' warm-up: it writes exactly the entries the page reads, stops and waits when asked, lets one
process warm a data directory at a time, and runs from the CLI and in the server's child process."""

from __future__ import annotations

import threading
import time

import pytest

from ui.shell import warmup
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.registry import registry_folders, scan_registry
from vae_core.lessons import anomaly
from vae_core.serving import anomaly_scores, disk_cache
from vae_core.serving.anomaly_scores import SCORES_CACHE_KIND, WarmStopped, scores_key, warm
from vae_core.zoo.cli import main

PROTOCOL = DataProtocol.GREY_BERNOULLI.value  # the tiny zoo's: grey levels, Bernoulli decoder
DIGITS_SETS = ("in-distribution", "uniform-noise", "bernoulli-noise", "inverted", "rotated", "flipped")
# The page's offer on digits (360 test images): 250 or all 360 images, K = 10, 50 or 100, all under the bound.
DIGITS_SETTINGS = {(250, 10), (250, 50), (250, 100), (360, 10), (360, 50), (360, 100)}


@pytest.fixture
def warm_env(tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tiny_zoo.folder))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    return tiny_zoo


def expected_files(zoo) -> set[str]:
    """The entries of the digits page's opening pair (the 2-D family VAE and AE), every set, every setting."""
    names = set()
    for subset, k in DIGITS_SETTINGS:
        for key in DIGITS_SETS:
            entry = scores_key(
                str(zoo.vae_2d), str(zoo.ae_2d), PROTOCOL, "digits", key, subset=subset, iw_samples=k, seed=0
            )
            names.add(disk_cache.cache_path(SCORES_CACHE_KIND, entry).name)
    return names


def stored_files() -> set[str]:
    folder = disk_cache.cache_folder() / "anomaly-scores"
    return {p.name for p in folder.glob("*.safetensors")} if folder.exists() else set()


def test_the_page_offers_these_settings():
    assert set(anomaly.offered_settings(360)) == DIGITS_SETTINGS
    assert anomaly.offered_settings(360)[0] == (360, 50)  # the page's default first
    # MNIST: 2000 images hold K at 50 and the whole test set (10 000) at 10 (images x K <= 100 000)
    mnist = {(n, k) for n in (250, 500, 1000) for k in (10, 50, 100)} | {(2000, 10), (2000, 50), (10000, 10)}
    assert set(anomaly.offered_settings(10000)) == mnist
    assert anomaly.offered_settings(10000)[0] == (500, 50)


def test_warm_writes_every_entry_of_the_opening_pair_once(warm_env):
    registry = scan_registry(registry_folders())
    first = warm(registry, ["digits"])
    assert (first.scored, first.found) == (len(DIGITS_SETTINGS) * len(DIGITS_SETS), 0)
    assert stored_files() == expected_files(warm_env)
    again = warm(registry, ["digits"])
    assert (again.scored, again.found) == (0, first.scored)


def test_a_stop_between_batches_leaves_no_entry(warm_env):
    calls = []

    def pause() -> None:
        calls.append(1)
        if len(calls) == 3:  # before the first set, after its first batch, then stop after its second
            raise WarmStopped

    with pytest.raises(WarmStopped):
        warm(scan_registry(registry_folders()), ["digits"], pause=pause)
    assert stored_files() == set()


def test_the_background_warm_up_waits_while_pages_run(warm_env, monkeypatch):
    import os

    quiet = threading.Event()  # clear: a page is running
    thread = threading.Thread(target=anomaly_scores.warm_in_background, args=(quiet, os.getppid()), daemon=True)
    thread.start()
    time.sleep(1.5)
    assert stored_files() == set() and thread.is_alive()
    quiet.set()
    thread.join(120)
    assert not thread.is_alive()
    assert stored_files() == expected_files(warm_env)


def test_one_warmer_per_data_directory(warm_env):
    with anomaly_scores._only_warmer() as first, anomaly_scores._only_warmer() as second:
        assert first and not second
    with anomaly_scores._only_warmer() as after:
        assert after


def test_the_cli_warms_and_says_what_it_did(warm_env, capsys):
    assert main(["cache", "warm", "--datasets", "digits"]) == 0
    err = capsys.readouterr().err
    assert f"[1/{len(expected_files(warm_env))}] digits / digits-vae-z2 / in-distribution, 360 images, K = 50" in err
    assert f"{len(expected_files(warm_env))} sets scored, 0 already on disk" in err
    assert main(["cache", "warm", "--datasets", "digits"]) == 0
    assert f"0 sets scored, {len(expected_files(warm_env))} already on disk" in capsys.readouterr().err


def test_the_servers_child_scores_only_once_runs_are_quiet(warm_env, monkeypatch):
    monkeypatch.setattr(warmup, "_runs_in_progress", 1)  # a page is running
    exit_codes = []
    thread = threading.Thread(target=lambda: exit_codes.append(warmup.warm_scores()), daemon=True)
    thread.start()
    time.sleep(4.0)  # the child is up (imports) and waiting
    assert stored_files() == set()
    monkeypatch.setattr(warmup, "_runs_in_progress", 0)
    monkeypatch.setattr(warmup, "_last_run_end", time.monotonic() - warmup.QUIET_S)
    thread.join(180)
    assert exit_codes == [0]
    assert stored_files() == expected_files(warm_env)
