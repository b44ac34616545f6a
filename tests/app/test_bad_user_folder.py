"""Every page renders with every kind of bad file in the user checkpoint folder (issue #15).

One folder holds one file per hostile case of tests/hostile_files.py (damaged, truncated and absurd headers,
absurd configs, non-finite weights, odd metadata, old-format pickles carrying code, a symlink loop, a dangling
link, a folder and a FIFO named *.safetensors) plus odd-but-loadable files (partial or string metrics, a β-sweep member
of another latent size) and one good model. Each page of app.py's navigation is rendered once with that folder:
no exception, its title shown, the sidebar's note naming each skipped file and why, the good models offered.
Focused checks pick the odd models in the sidebar.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.hostile_files import CASES, LOAD_ONLY, MARKER, tiny_model, with_metadata
from ui.shell.lessons import LESSONS
from vae_core.engine.checkpoints import save_checkpoint
from vae_core.engine.config import TrainConfig
from vae_core.engine.literal_text import WORD_JOINER
from vae_core.engine.vocabulary import ROLE_BETA_SWEEP

# Each lesson's own st.title, which shows that the page's script ran past its first lines.
PAGE_TITLES = {
    "home": "VAE Latent Explorer",
    "autoencoders": "The autoencoder family",
    "sparse_autoencoders": "The autoencoder family",
    "denoising_autoencoders": "The autoencoder family",
    "contractive_autoencoders": "The autoencoder family",
    "latent_space": "Latent space",
    "decoder_grid": "Decoder grid",
    "interpolation": "Interpolation",
    "beta_tradeoff": "β trade-off",
    "disentanglement": "Disentanglement",
    "elbo_breakdown": "ELBO breakdown",
    "inference": "Inference: the true posterior",
    "anomaly_detection": "Anomaly detection",
    "conditional_vae": "Conditional VAE",
    "train": "Train a model",
}

# Files beyond CASES: (builder, words of the refusal, or None for a file that is listed and must keep working).
EXTRA_CASES = {
    "sweep-group-a-list": (with_metadata(role=ROLE_BETA_SWEEP, group=["digits-beta-sweep"]), "group must be str"),
    "sweep-group-an-int": (with_metadata(role=ROLE_BETA_SWEEP, group=7), "group must be str"),
    "metrics-neg-elbo-only": (with_metadata(metrics={"neg_elbo": 1.0}), None),
    "metrics-a-string-value": (with_metadata(metrics={"neg_elbo": 30.0, "recon": "twenty"}), None),
    "sweep-member-z2": (with_metadata(role=ROLE_BETA_SWEEP, group="digits-beta-sweep"), None),
}
GOOD_USER_MODEL = "good-user-model"


def skipped_cases(folder: Path) -> dict[str, str]:
    """file name -> the words its sidebar note must hold, for every file the registry refuses."""
    names = {path.stem: path.name for path in folder.iterdir()}  # the old-format cases are named *.pt
    skipped = {names[case]: words for case, (_, words) in CASES.items() if case not in LOAD_ONLY}
    skipped.update({names[case]: words for case, (_, words) in EXTRA_CASES.items() if words is not None})
    return skipped


def unescaped(text: str) -> str:
    """Markdown source as literal() wrote it, with its backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")  # literal() breaks addresses with it


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> Path:
    """The user folder: one file per case, named <case>.safetensors (or .pt), and one good model."""
    folder = tmp_path_factory.mktemp("bad_user") / "user_checkpoints"
    folder.mkdir()
    model = tiny_model()
    for case, (build, _) in {**CASES, **EXTRA_CASES}.items():
        build(folder / f"{case}.safetensors", model)
    save_checkpoint(
        folder / f"{GOOD_USER_MODEL}.safetensors", model, TrainConfig(dataset="digits"), metrics={"neg_elbo": 30.0}
    )
    return folder


@pytest.fixture
def bad_user_folder(bad_folder, app_env, monkeypatch) -> Path:
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(bad_folder))
    monkeypatch.chdir(bad_folder.parent)  # any marker a payload would write lands beside the folder
    yield bad_folder
    assert not (bad_folder.parent / MARKER).exists() and not (bad_folder / MARKER).exists(), "a pickle ran code"


def sidebar_notes(at) -> str:
    return "\n".join(unescaped(str(w.value)) for w in at.sidebar.warning)


def test_the_parametrized_pages_are_the_navigations():
    assert sorted(LESSONS) == sorted(PAGE_TITLES)


@pytest.mark.parametrize("page", list(PAGE_TITLES))
def test_every_page_renders_beside_every_bad_file(page, bad_user_folder, app_env, open_page):
    at = open_page(LESSONS[page].script)
    assert not at.exception, [e.value for e in at.exception]
    assert PAGE_TITLES[page] in [t.value for t in at.main.title]

    notes = sidebar_notes(at)
    expander = next(e for e in at.sidebar.expander if "skipped" in e.label)
    assert expander.label.startswith(f"⚠️ {len(at.sidebar.warning)} checkpoint file(s) skipped")
    for name, words in skipped_cases(bad_user_folder).items():
        line = next((line for line in notes.splitlines() if name in line), None)
        assert line is not None, f"no note names {name}"
        assert words in line, (name, line)

    offered = at.sidebar.selectbox(key="sidebar_model").options
    for path in (app_env.ae_2d, app_env.vae_2d, *app_env.sweep, app_env.vae_4d):
        assert any(f"— {path.stem} (shipped)" in option for option in offered), (path.stem, offered)
    assert any(f"— {GOOD_USER_MODEL} (trained here)" in option for option in offered)


def pick(at, name: str):
    return at.sidebar.selectbox(key="sidebar_model").set_value(f"user/{name}").run()


@pytest.mark.parametrize("name", ["metrics-neg-elbo-only", "metrics-a-string-value", "sweep-member-z2"])
def test_picking_an_odd_but_loadable_model_keeps_every_model_page_working(name, bad_user_folder, open_page):
    at = pick(open_page(), name)
    assert not at.exception, [e.value for e in at.exception]
    for page in ("latent_space", "decoder_grid", "beta_tradeoff"):
        at.switch_page(LESSONS[page].script).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert PAGE_TITLES[page] in [t.value for t in at.main.title]


@pytest.mark.parametrize("case", sorted(LOAD_ONLY))
def test_a_model_whose_weights_are_refused_is_dropped_with_a_note(case, bad_user_folder, open_page):
    # Listing reads no weights, so these are offered; the first page that loads one marks it failed, says why
    # in the sidebar, and reruns on another model.
    at = open_page(LESSONS["decoder_grid"].script)
    at = pick(at, case)
    assert not at.exception, [e.value for e in at.exception]
    assert "Decoder grid" in [t.value for t in at.main.title]
    assert not any(f"— {case} (trained here)" in o for o in at.sidebar.selectbox(key="sidebar_model").options)
    line = next((line for line in sidebar_notes(at).splitlines() if f"{case}.safetensors" in line), None)
    assert line is not None and CASES[case][1] in line, line


def test_the_folder_holds_the_file_system_oddities(bad_folder):
    # A builder that quietly wrote a plain file instead would leave the page checks above without their case.
    assert (bad_folder / "symlink-loop.safetensors").is_symlink()
    assert not (bad_folder / "symlink-loop.safetensors").exists()
    assert (bad_folder / "dangling-symlink.safetensors").is_symlink()
    assert (bad_folder / "a-directory.safetensors").is_dir()
    assert (bad_folder / "a-fifo.safetensors").is_fifo()
    assert (bad_folder / "old-format-with-code.pt").is_file()
