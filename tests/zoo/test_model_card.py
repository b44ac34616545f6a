"""The model card is generated from the checkpoints' metadata: every number in it is read back from a file."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import train_tiny_checkpoint
from vae_core.engine.checkpoint_info import list_checkpoints
from vae_core.engine.data import is_available
from vae_core.engine.literal_text import WORD_JOINER, literal
from vae_core.zoo.cli import main
from vae_core.zoo.model_card import ANCHOR_BURDA_NLL, format_kl_per_dim, render_model_card, write_model_card
from vae_core.zoo.specs import run_zoo, select_specs, zoo_specs

DIGITS_NAMES = [s.name for s in zoo_specs() if s.train.dataset == "digits"]


@pytest.fixture(scope="module")
def digits_zoo(tmp_path_factory):
    """The quick digits part of the zoo (works offline)."""
    out = tmp_path_factory.mktemp("card-zoo")
    run_zoo(out, select_specs(zoo_specs(quick=True), DIGITS_NAMES), quick=True, log=lambda message: None)
    return out


def table_row(card: str, name: str) -> list[str]:
    rows = [line for line in card.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"no row for {name}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def test_card_has_one_metrics_row_per_checkpoint_with_its_numbers(digits_zoo):
    card = render_model_card(digits_zoo)
    infos = list_checkpoints(digits_zoo).infos
    assert sorted(i.name for i in infos) == sorted(DIGITS_NAMES)
    for info in infos:
        metrics = info.metrics
        # one row in the metrics tables, one in the provenance table, and one in the replays' if it has one
        rows = 2 + (info.replay is not None)
        assert sum(line.startswith(f"| `{info.name}` |") for line in card.splitlines()) == rows
        row = table_row(card, info.name)
        header = table_row(card.replace("| checkpoint |", "| `HEADER` |", 1), "HEADER")
        cells = dict(zip(header, row, strict=True))
        mark = "" if metrics.data_protocol.is_likelihood else " †"
        assert cells["protocol"] == metrics.data_protocol.value
        assert cells["recon"] == f"{metrics.recon:.2f}{mark}"
        assert cells["active units"] == str(metrics.active_units)
        assert cells["epochs"] == str(info.metadata["epochs_run"])
        if info.model_config.is_variational:
            assert cells["-ELBO"] == f"{metrics.recon + metrics.kl:.2f}{mark}"
            assert cells["KL"] == f"{metrics.kl:.2f}"
            if mark:  # a cross-entropy on grey levels has no IW estimate of -log p(x)
                assert cells["IW -log p(x)"] == "-"
            else:
                assert cells["IW -log p(x)"] == f"{metrics.iw_nll:.2f} (K={metrics.iw_samples})"
            assert cells["beta"] == f"{info.model_config.beta:g}"
        else:
            assert cells["-ELBO"] == cells["KL"] == cells["IW -log p(x)"] == "-"


def test_beta_paragraph_numbers_come_from_the_sweep_endpoints(digits_zoo):
    card = render_model_card(digits_zoo)
    sweep = sorted(
        (i for i in list_checkpoints(digits_zoo).infos if i.metadata["group"] == "digits-beta-sweep"),
        key=lambda i: i.model_config.beta,
    )
    low, high = sweep[0], sweep[-1]
    assert (
        f"From beta = {low.model_config.beta:g} to beta = {high.model_config.beta:g}, the test KL goes from "
        f"{low.metrics.kl:.2f} to {high.metrics.kl:.2f} nats"
    ) in card
    for info in sweep:
        assert f"beta {info.model_config.beta:g}: {info.metrics.active_units}" in card
    assert "--quick" in card  # quick models are flagged as such


def test_card_lists_the_replays_with_their_frames_and_bytes(digits_zoo):
    card = render_model_card(digits_zoo)
    section = card.split("## Training replays", 1)[1].split("\n## ", 1)[0]
    infos = {info.name: info for info in list_checkpoints(digits_zoo).infos}
    carrying = sorted(name for name, info in infos.items() if info.replay is not None)
    assert carrying and f"{len(carrying)} of the {len(infos)} checkpoints" in section
    for name in carrying:
        replay = infos[name].replay
        row = table_row(section, name)
        assert row[1] == str(replay.frames) and row[5] == f"{replay.stored_bytes:,}"
        # the bytes are those of the file's replay tensors, read from its safetensors header
        data = (digits_zoo / f"{name}.safetensors").read_bytes()
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
        spans = [e["data_offsets"][1] - e["data_offsets"][0] for k, e in header.items() if k.startswith("replay.")]
        assert replay.stored_bytes == sum(spans)
    assert "digits-cvae-z2" not in section


def test_card_totals_are_sums_over_the_files(digits_zoo):
    card = render_model_card(digits_zoo)
    infos = list_checkpoints(digits_zoo).infos
    total_minutes = sum(i.metadata["train_seconds"] for i in infos) / 60
    assert f"Training time of the whole zoo: {total_minutes:.1f} min" in card
    assert f"Checkpoints: {len(infos)}," in card


def test_card_is_deterministic_and_written_atomically(digits_zoo):
    path = write_model_card(digits_zoo)
    assert path == digits_zoo / "README.md"
    assert path.read_text(encoding="utf-8") == render_model_card(digits_zoo)
    assert not [p for p in digits_zoo.iterdir() if p.name.endswith(".tmp")]
    assert main(["model-card", str(digits_zoo)]) == 0
    assert path.read_text(encoding="utf-8") == render_model_card(digits_zoo)


def test_default_section_states_the_anchors(tmp_path):
    spec = select_specs(zoo_specs(quick=True), ["mnist-vae-default"])[0]
    if not is_available("mnist"):
        pytest.skip("MNIST is not in the data directory")
    run_zoo(tmp_path, [spec], quick=True, log=lambda message: None)
    info = list_checkpoints(tmp_path).infos[0]
    card = render_model_card(tmp_path)
    assert f"Test -log p(x) ≈ {info.metrics.iw_nll:.2f} nats" in card
    assert f"K = {info.metrics.iw_samples}" in card
    assert literal(info.metadata["test_binarization"]) in card  # as text (vae_core.engine.literal_text)
    assert f"{ANCHOR_BURDA_NLL:.2f} nats" in card and "3,280 epochs" in card
    assert "reproduction" not in card  # no figure without a source


def test_empty_or_missing_folder_gives_a_clear_message(tmp_path, capsys):
    with pytest.raises(ValueError, match="no readable checkpoints"):
        render_model_card(tmp_path)
    assert main(["model-card", str(tmp_path / "missing")]) == 1
    assert "is not a folder of checkpoints" in capsys.readouterr().err
    assert not (tmp_path / "README.md").exists()


def test_format_kl_per_dim_sorts_and_collapses_zeros():
    assert format_kl_per_dim([0.01, 3.26, 0.0, 12.04], decimals=1) == "12.0 3.3 0.0 ×2"
    assert format_kl_per_dim([0.01, 3.26, 0.0, 12.04]) == "12.04 3.26 0.01 0.00 ×1"
    assert format_kl_per_dim([1.0, 2.0]) == "2.00 1.00"
    assert format_kl_per_dim([]) == ""


# A β-sweep group name and a file name as a stranger's checkpoint may carry them: HTML (a tracking image), Markdown,
# bare addresses, a line break.
HOSTILE_GROUP = "<img src=https://track.example/p.gif> **x** [y](https://e.example) www.evil.example a@b.example\n# h"
HOSTILE_NAME = "vae `tick` <b>www.evil.example a@b.example"  # no "/": a file name
AUTOLINK = re.compile(r"(https?://|www\.)|[-.\w+]@[-\w]+\.", re.IGNORECASE)
UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def test_strings_from_a_checkpoint_are_text_in_the_card(tmp_path):
    """Names and metadata reach the README as text: in code spans or escaped, with no HTML, link or address that
    GitHub would render, and on the line they belong to."""
    path = train_tiny_checkpoint(
        tmp_path / f"{HOSTILE_NAME}.safetensors", epochs=1, role="beta-sweep", group=HOSTILE_GROUP
    )
    card = render_model_card(tmp_path)
    prose = CODE_SPAN.sub("", card)  # a code span shows its text verbatim: nothing in it renders
    bare = UNESCAPE.sub("", prose)  # what is left once every escaped pair is removed
    assert "<img" not in bare and "<b>" not in bare and "](" not in bare and "**" not in bare
    shown = UNESCAPE.sub(r"\1", prose).replace(WORD_JOINER, "")
    assert "<img src=https://track.example/p.gif>" in shown, "the group is all there, as text"
    assert not AUTOLINK.search(UNESCAPE.sub(r"\1", prose)), "no bare address is left for GitHub to link"
    assert not [line for line in card.splitlines() if line.startswith("# h")], "no line break from a file"
    row = next(line for line in card.splitlines() if line.startswith("| ``vae `tick`"))
    assert row.startswith(f"| ``{path.stem}`` |"), "the file name in a code span fenced past its backtick"
