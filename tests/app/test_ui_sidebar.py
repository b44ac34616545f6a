"""The sidebar takes each data set's image shape from vae_core.engine.data.INPUT_SHAPES instead of loading the data
(loading MNIST cost seconds of the first page's start-up); the table must agree with the data it stands for."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.shell.lessons import LESSONS
from vae_core.engine.data import DATASET_NAMES, INPUT_SHAPES, has_split, load_dataset

REPO_DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_the_shape_table_matches_the_loaded_data(name):
    assert has_split(name, "test", REPO_DATA)  # MNIST's and Fashion-MNIST's ship with the package
    assert INPUT_SHAPES[name] == load_dataset(name, "test", REPO_DATA).input_shape


def test_the_first_page_reads_no_data_set(open_page, monkeypatch):
    # The sidebar and the home page need no images: no split is loaded until a page shows some.
    from ui.state import loaders

    loaders.load_split.clear()  # a split an earlier test loaded would not reach load_dataset again
    calls = []
    real = loaders.load_dataset
    monkeypatch.setattr(loaders, "load_dataset", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    at = open_page()
    assert not at.exception
    assert at.sidebar.selectbox(key="sidebar_model").value == "shipped/digits-vae-z2"
    assert calls == []
    at.switch_page(LESSONS["interpolation"].script).run()
    assert not at.exception and calls  # the check above would notice a load: this page does load one
