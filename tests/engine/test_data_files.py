"""vae_core.engine.data_files and the shipped test splits: md5s against torchvision's list, loading with nothing
downloaded, the data directory winning, and fetching from a mirror on 127.0.0.1 (this machine has no network)."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets

from vae_core.engine.data import DatasetUnavailable, has_split, is_available, load_dataset, offered_datasets
from vae_core.engine.data_files import (
    MIRRORS_ENV,
    SOURCES,
    FetchFailed,
    fetch_split,
    md5_of,
    mirrors,
    raw_folder,
    shipped_folder,
)
from vae_core.zoo import cli

TORCHVISION = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST}


# --- the shipped files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_the_file_table_is_torchvisions(name):
    source, reference = SOURCES[name], TORCHVISION[name]
    assert source.folder == reference.__name__  # torchvision's <root>/<class name>/raw layout
    assert list(source.mirrors) == list(reference.mirrors)
    listed = [(f.name, f.md5) for split in ("train", "test") for f in source.files(split)]
    assert listed == [tuple(r) for r in reference.resources]


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_shipped_test_split_has_torchvisions_md5_and_a_licence(name):
    folder = shipped_folder(name)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["LICENCE.txt", *(f.name for f in SOURCES[name].files("test"))]
    )
    for raw in SOURCES[name].files("test"):
        assert md5_of(folder / raw.name) == raw.md5
        assert (folder / raw.name).stat().st_size == raw.size
    licence = (folder / "LICENCE.txt").read_text()
    assert (
        ("CC BY-SA 3.0" in licence and "LeCun" in licence)
        if name == "mnist"
        else ("MIT" in licence and "Zalando" in licence)
    )


def test_with_nothing_downloaded_the_test_splits_load_from_the_package(tmp_path):
    empty = tmp_path / "no_data"  # not even created: nothing may be written there by loading
    assert offered_datasets(empty) == ["mnist", "fashion-mnist", "digits", "sprites"]  # sprites: drawn in code
    before = {p: (p.stat().st_mtime_ns, md5_of(p)) for p in shipped_folder("mnist").parent.rglob("*") if p.is_file()}
    mnist = load_dataset("mnist", "test", root=empty)
    fashion = load_dataset("fashion-mnist", "test", root=empty)
    assert mnist.images.shape == fashion.images.shape == (10000, 1, 28, 28)
    assert mnist.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # MNIST's test set as everyone knows it
    assert torch.equal(torch.bincount(fashion.labels), torch.full((10,), 1000))
    assert mnist.images.min() == 0 and mnist.images.max() == 1
    # The pixels are the gzip file's bytes after its 16-byte IDX header, scaled to [0, 1].
    raw = np.frombuffer(
        gzip.decompress((shipped_folder("mnist") / "t10k-images-idx3-ubyte.gz").read_bytes())[16:], np.uint8
    )
    assert torch.equal(mnist.images.flatten(), torch.from_numpy(raw.astype(np.float32) / 255))
    assert not empty.exists()
    after = {p: (p.stat().st_mtime_ns, md5_of(p)) for p in shipped_folder("mnist").parent.rglob("*") if p.is_file()}
    assert after == before  # the shipped copy is only read (and nothing derived from it is put beside it)


def test_without_the_training_split_loading_says_how_to_fetch_it(tmp_path):
    assert has_split("mnist", "test", tmp_path) and not has_split("mnist", "train", tmp_path)
    assert not is_available("mnist", tmp_path)
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("mnist", "train", root=tmp_path)
    message = str(info.value)
    assert "python -m vae_core data fetch mnist" in message and "10 MB" in message
    assert str(tmp_path / "MNIST" / "raw") in message and "train-images-idx3-ubyte.gz" in message


def test_the_data_directory_wins_over_the_shipped_copy(tmp_path, write_fake_mnist):
    written = write_fake_mnist(tmp_path, "FashionMNIST", {"test": 7})
    data = load_dataset("fashion-mnist", "test", root=tmp_path)
    assert len(data) == 7 and data.labels.tolist() == written["test"][1].tolist()


def test_gzipped_files_in_the_data_directory_are_read_as_they_are(tmp_path):
    folder = raw_folder("mnist", tmp_path)
    folder.mkdir(parents=True)
    for raw in SOURCES["mnist"].files("test"):
        # as "training" files: the loader only needs IDX files under the split's names
        train_name = raw.name.replace("t10k", "train")
        shutil.copy(shipped_folder("mnist") / raw.name, folder / train_name)
    assert is_available("mnist", tmp_path)
    train = load_dataset("mnist", "train", root=tmp_path)
    assert torch.equal(train.images, load_dataset("mnist", "test", root=tmp_path / "none").images)
    assert sorted(p.name for p in folder.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


# --- fetching from a mirror on this machine ---------------------------------------------------------------------


class Mirror:
    """A static-file HTTP server on 127.0.0.1 over one folder, counting the requests it answers."""

    def __init__(self, folder: Path):
        self.folder, self.requests = folder, []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                mirror.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(tmp_path):
    """A mirror serving MNIST's test files (the shipped copies: the real files with their real md5s)."""
    folder = tmp_path / "mirror"
    shutil.copytree(shipped_folder("mnist"), folder)
    served = Mirror(folder)
    yield served
    served.close()


def closed_port_url() -> str:
    with socket.socket() as probe:  # a port nobody listens on: connecting is refused, as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_fetch_downloads_checks_and_reports_progress(tmp_path, mirror):
    root = tmp_path / "data"
    seen = []
    paths = fetch_split("mnist", "test", root, mirror_urls=(mirror.url,), progress=lambda d, t: seen.append((d, t)))
    files = SOURCES["mnist"].files("test")
    assert paths == [raw_folder("mnist", root) / f.name for f in files]
    assert [md5_of(p) for p in paths] == [f.md5 for f in files]
    assert sorted(p.name for p in raw_folder("mnist", root).iterdir()) == sorted(f.name for f in files)  # no temp
    total = sum(f.size for f in files)
    assert seen[-1] == (total, total) and all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # Files already there with the right md5 are not fetched again.
    count = len(mirror.requests)
    fetch_split("mnist", "test", root, mirror_urls=(mirror.url,))
    assert len(mirror.requests) == count


def test_fetch_tries_the_next_mirror(tmp_path, mirror):
    missing = mirror.url + "nothing-here/"  # 404 for every file
    fetch_split("mnist", "test", tmp_path, mirror_urls=(missing, mirror.url))
    assert has_split("mnist", "test", tmp_path)


def test_an_md5_mismatch_leaves_nothing_behind(tmp_path, mirror):
    served = mirror.folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(served.read_bytes())
    data[100] ^= 0xFF  # one byte changed: same size, wrong md5
    served.write_bytes(bytes(data))
    root = tmp_path / "data"
    with pytest.raises(FetchFailed, match="md5 mismatch") as info:
        fetch_split("mnist", "test", root, mirror_urls=(mirror.url,))
    assert "Nothing was written" in str(info.value)
    # The images, served intact, are kept (checked and complete); the bad labels file left no trace, not even a temp.
    assert sorted(p.name for p in raw_folder("mnist", root).iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_a_larger_file_than_listed_is_cut_off(tmp_path, mirror):
    served = mirror.folder / "t10k-labels-idx1-ubyte.gz"
    served.write_bytes(served.read_bytes() + bytes(10 * 2**20))
    with pytest.raises(FetchFailed, match="more than the expected"):
        fetch_split("mnist", "test", tmp_path, mirror_urls=(mirror.url,))
    assert not any(p.name.startswith(".t10k-labels") for p in raw_folder("mnist", tmp_path).iterdir())


def test_offline_says_so_and_writes_nothing(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(FetchFailed) as info:
        fetch_split("fashion-mnist", "train", root, mirror_urls=(closed_port_url(),))
    message = str(info.value)
    assert "offline" in message and MIRRORS_ENV in message and "train-images-idx3-ubyte.gz" in message
    assert not any(raw_folder("fashion-mnist", root).iterdir())


def test_mirrors_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(MIRRORS_ENV, raising=False)
    assert mirrors("mnist") == SOURCES["mnist"].mirrors
    monkeypatch.setenv(MIRRORS_ENV, "http://a.example/x/, http://b.example/")
    assert mirrors("fashion-mnist") == ("http://a.example/x/", "http://b.example/")


def test_the_cli_fetches_and_reports_offline_in_one_line(tmp_path, mirror, monkeypatch, capsys):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(MIRRORS_ENV, mirror.url)
    assert cli.main(["data", "fetch", "mnist", "--split", "test"]) == 0
    assert has_split("mnist", "test", tmp_path / "data")
    assert (
        md5_of(raw_folder("mnist", tmp_path / "data") / "t10k-labels-idx1-ubyte.gz")
        == "ec29112dd5afa0611ce80d1b7f02629c"
    )
    assert cli.main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert f"test in {raw_folder('mnist', tmp_path / 'data')}" in out
    assert "fashion-mnist: train missing (python -m vae_core data fetch fashion-mnist), test shipped" in out
    monkeypatch.setenv(MIRRORS_ENV, closed_port_url())
    assert cli.main(["data", "fetch", "mnist"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: Could not download MNIST's train images") and "offline" in err[-1]


@pytest.mark.skipif(not is_available("mnist"), reason="MNIST's training files are not in the data directory")
def test_fetching_the_real_training_split_from_a_local_mirror(tmp_path):
    from vae_core.engine.data import data_dir

    served = Mirror(raw_folder("mnist", data_dir()))
    try:
        fetch_split("mnist", "train", tmp_path, mirror_urls=(served.url,))
    finally:
        served.close()
    assert load_dataset("mnist", "train", root=tmp_path).images.shape == (60000, 1, 28, 28)


def test_fits_use_held_out_test_images_until_the_training_split_is_here(tmp_path, digits_train):
    from vae_core.engine.data import fitting_images

    fit = fitting_images("mnist", 100, held_out=1000, root=tmp_path)
    test = load_dataset("mnist", "test", root=tmp_path).images
    assert torch.equal(fit.images, test[1000:1100])  # none of the first 1000, which a lesson measures
    assert fit.source == "test images 1001–1100 (MNIST's training images are not on this machine)"
    digits = fitting_images("digits", held_out=10**6)  # the held-out count only matters without a training split
    assert torch.equal(digits.images, digits_train.images) and digits.source == "the first 1437 training images"
    with pytest.raises(ValueError, match="none left after the first 10000"):
        fitting_images("fashion-mnist", held_out=10000, root=tmp_path)
