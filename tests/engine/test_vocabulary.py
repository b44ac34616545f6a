"""vae_core.engine.vocabulary: the shared words, and that the rest of the code takes them from there."""

from __future__ import annotations

import json
import re
from pathlib import Path

from vae_core.engine import vocabulary
from vae_core.engine.config import MODEL_KINDS, ModelConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dimension_names_are_one_based_subscripts():
    assert [vocabulary.dim_name(d) for d in (0, 1, 9, 11)] == ["z₁", "z₂", "z₁₀", "z₁₂"]


def test_every_model_kind_has_a_label_and_a_noun():
    assert set(vocabulary.KIND_LABELS) == set(vocabulary.KIND_NOUNS) == set(MODEL_KINDS)
    assert vocabulary.kind_label("made-up") == "made-up"  # an unknown kind is shown as it is


def test_roles_and_sources_are_plain_strings_a_checkpoint_can_store():
    # Metadata is a JSON document of plain values (vae_core.engine.checkpoint_info): a str subclass such as a
    # StrEnum member would be written as its text but read back as a plain str, unequal in type.
    for value in (*vocabulary.ROLES, vocabulary.SOURCE_SHIPPED, vocabulary.SOURCE_USER):
        assert type(value) is str and json.loads(json.dumps(value)) == value


def test_the_default_body_is_the_configs_default():
    assert ModelConfig().hidden_dims == vocabulary.DEFAULT_HIDDEN["mlp"]


def test_the_words_are_not_spelled_again_elsewhere():
    literals = re.compile(r"""["'](beta-sweep|family-2d)["']|ACTIVE_KL_NATS|INFORMATIVE_KL\b|KIND_NAMES""")
    offenders = []
    for folder in ("vae_core", "ui", "pages"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path.name != "vocabulary.py" and literals.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []
