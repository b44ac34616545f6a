"""Every number a page takes has the range of what it indexes or sizes, on every data set.

Each page is opened on digits, MNIST and Fashion-MNIST with the shipped checkpoints (checkpoints/), where MNIST and
Fashion-MNIST are small stand-ins (a few dozen random images in torchvision's layout, tests/conftest.write_idx): a
range copied from the real test split's 10 000 images, or from the 1000 images a lesson uses at most, is then past
the data's end, as it was on digits' 360. Three runs per page and data set: a link with every number parameter at
the widest bound its declaration allows (ui/shell/lessons.py), then every number widget the page draws set to its
maximum, then to its minimum. None may raise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP_FILE, REPO_ROOT
from tests.conftest import MNIST_RAW_NAMES, write_idx
from ui.shell.lessons import LESSONS, URL_PARAMS
from ui.shell.url_check import MAX_TEST_INDEX

SMALL_TEST = {"MNIST": 23, "FashionMNIST": 17}  # test images: far fewer than any index range copied from elsewhere
SMALL_TRAIN = 80  # PCA on the Undercomplete page fits up to 64 components: it needs 64 training images
# The autoencoder pages train their digits models on first use: seconds on a quiet machine, a minute under load.
RUN_TIMEOUT_S = 300
SMALL_STUDY = {"anomaly_subset": "250", "anomaly_k": "10"}  # the Anomaly page's smallest study: quick to score
DATASETS = ("digits", "mnist", "fashion-mnist")
NUMBER_WIDGETS = ("number_input", "slider")
# The default run walks, on every data set, the pages whose test-image numbers load nothing heavy (no toy model
# trained, no set scored); `-m slow` walks every page. The autoencoder parts' index (the IndexError of digits)
# is checked in the default run by test_an_index_past_the_data_is_dropped_with_a_note.
QUICK_PAGES = ("latent_space", "interpolation", "decoder_grid", "elbo_breakdown", "conditional_vae")


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small_data")
    rng = np.random.default_rng(0)
    for folder, n_test in SMALL_TEST.items():
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        for split, n in (("train", SMALL_TRAIN), ("test", n_test)):
            image_name, label_name = MNIST_RAW_NAMES[split]
            write_idx(raw / image_name, rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), 2051)
            write_idx(raw / label_name, np.arange(n, dtype=np.uint8) % 10, 2049)  # every class at least once
    return root


@pytest.fixture
def shipped_env(small_data, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(REPO_ROOT / "checkpoints"))
    monkeypatch.setenv("VAE_USER_CHECKPOINT_DIR", str(tmp_path / "user_checkpoints"))
    monkeypatch.setenv("VAE_DATA_DIR", str(small_data))


def number_params(slug: str) -> dict[str, str]:
    """A link with each of the page's number parameters at the largest value its declaration takes."""
    return {
        p.key: str(int(p.max_value)) if p.kind == "int" else f"{p.max_value:g}"
        for p in LESSONS[slug].url_params
        if p.kind in {"int", "float"} and p.max_value is not None
    }


def walk_bounds(slug: str, dataset: str) -> list[str]:
    """Open the page from a link at its numbers' widest bounds, then set every number widget to its maximum and
    its minimum; the exceptions shown, with where."""
    at = AppTest.from_file(str(APP_FILE), default_timeout=RUN_TIMEOUT_S)
    params = {"dataset": dataset, **number_params(slug)}
    if slug == "anomaly_detection":
        params |= SMALL_STUDY
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(LESSONS[slug].script).run()
    failures = [f"link: {e.value}" for e in at.exception]
    assert at.sidebar.selectbox(key="sidebar_dataset").value == dataset
    for end in ("max", "min"):
        widgets = [w for kind in NUMBER_WIDGETS for w in getattr(at, kind) if not w.disabled]
        for w in widgets:
            w.set_value(getattr(w, end))
        at.run()
        failures += [f"{end} of {[w.key for w in widgets]}: {e.value}" for e in at.exception]
    return failures


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("slug", QUICK_PAGES)
def test_a_pages_numbers_at_their_bounds_on_every_data_set(shipped_env, navigation_only, slug, dataset):
    assert not walk_bounds(slug, dataset)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("slug", sorted(set(LESSONS) - set(QUICK_PAGES)))
def test_the_other_pages_numbers_at_their_bounds_on_every_data_set(shipped_env, navigation_only, slug, dataset):
    assert not walk_bounds(slug, dataset)


def test_an_index_past_the_data_is_dropped_with_a_note(shipped_env, navigation_only):
    """digits has 360 test images: `?ae_sparse_index=700` (an IndexError before) opens on image 0, with the note."""
    at = AppTest.from_file(str(APP_FILE), default_timeout=RUN_TIMEOUT_S)
    at.query_params.update(dataset="digits", ae_sparse_index="700")
    at.switch_page(LESSONS["sparse_autoencoders"].script).run()
    assert not at.exception, at.exception
    index = at.number_input(key="ae_sparse_index")
    assert (index.value, index.max) == (0, 359)
    assert [t.value for t in at.toast] == ["A setting in the link was out of range and was reset."]
    assert "ae_sparse_index" not in at.query_params


def test_the_declared_bounds_hold_the_largest_test_split():
    assert URL_PARAMS["latent_index"].max_value == MAX_TEST_INDEX == 10_000 - 1
