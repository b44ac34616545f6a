"""vae_core.engine.vocabulary: the shared words, and that the rest of the code takes them from there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vae_core.engine import vocabulary
from vae_core.engine.config import MODEL_KINDS, ModelConfig, config_from_dict, config_to_dict, parameter_count_bound

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dimension_names_are_one_based_subscripts():
    assert [vocabulary.dim_name(d) for d in (0, 1, 9, 11)] == ["z₁", "z₂", "z₁₀", "z₁₂"]


def test_the_kind_table_is_the_configs_list_of_kinds_and_its_flags():
    assert tuple(vocabulary.KINDS) == MODEL_KINDS
    assert [k for k in MODEL_KINDS if ModelConfig(kind=k).is_variational] == ["vae", "cvae", "tcvae"]
    assert [k for k in MODEL_KINDS if ModelConfig(kind=k).needs_labels] == ["cvae"]
    assert [k.name for k in vocabulary.KINDS.values() if k.penalty] == ["sae", "cae"]
    assert [k.name for k in vocabulary.KINDS.values() if k.is_plain] == ["ae", "vae"]
    assert [k.name for k in vocabulary.KINDS.values() if k.tc_weighted] == ["tcvae"]
    assert vocabulary.kind_label("dae") == "Denoising AE" and vocabulary.kind_noun("dae") == "denoising AE"
    assert vocabulary.kind_label("made-up") == "made-up"  # an unknown kind is shown as it is
    with pytest.raises(ValueError, match="kind must be one of ae, dae"):
        vocabulary.model_kind("made-up")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_config_without_sizes_gets_its_kinds_default_for_the_body(kind):
    for arch, sizes in vocabulary.KINDS[kind].hidden_dims.items():
        assert ModelConfig(kind=kind, arch=arch).hidden_dims == sizes
    assert ModelConfig(kind=kind).hidden_dims == vocabulary.DEFAULT_HIDDEN["mlp"] == (512, 256)


def test_a_conv_config_without_sizes_gets_conv_channels_not_mlp_widths():
    conv = ModelConfig(arch="conv")
    assert conv.hidden_dims == vocabulary.DEFAULT_HIDDEN["conv"] == (32, 64)
    assert parameter_count_bound(conv) < 100_000  # MLP widths as channels made a 2.46M-parameter model
    assert ModelConfig(arch="conv", hidden_dims=(512, 256)).hidden_dims == (512, 256)  # named sizes are kept
    with pytest.raises(ValueError, match="a cvae model has an MLP body only"):
        ModelConfig(kind="cvae", arch="conv")


def test_stored_configs_keep_their_own_sizes():
    stored = config_to_dict(ModelConfig(arch="conv", hidden_dims=(8, 4), input_shape=(1, 8, 8)))
    assert config_from_dict(ModelConfig, stored).hidden_dims == (8, 4)


def test_roles_and_sources_are_plain_strings_a_checkpoint_can_store():
    # Metadata is a JSON document of plain values (vae_core.engine.checkpoint_info): a str subclass such as a
    # StrEnum member would be written as its text but read back as a plain str, unequal in type.
    for value in (*vocabulary.ROLES, vocabulary.SOURCE_SHIPPED, vocabulary.SOURCE_USER):
        assert type(value) is str and json.loads(json.dumps(value)) == value


def test_the_words_are_not_spelled_again_elsewhere():
    literals = re.compile(
        r"""["'](beta-sweep|family-2d|Denoising AE|Contractive AE)["']|ACTIVE_KL_NATS|INFORMATIVE_KL\b|KIND_NAMES"""
        r"|VARIATIONAL_KINDS|LABELLED_KINDS|KIND_LABELS|ACTIVE_THRESHOLD|fraction_active|IMAGE_ROLES"
    )
    offenders = []
    for folder in ("vae_core", "ui", "pages"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path.name != "vocabulary.py" and literals.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []
