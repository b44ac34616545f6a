"""vae_core.engine.data: the digits split, the IDX reader on generated files, and what happens offline."""

from __future__ import annotations

import contextlib
import io
import shutil
import urllib.request

import numpy as np
import pytest
import torch
import torchvision.datasets
from sklearn.datasets import load_digits

from vae_core.engine.data import (
    DATA_DIR_ENV,
    FASHION_MNIST_CLASSES,
    DatasetUnavailable,
    ImageDataset,
    _load_digits,
    binarize,
    data_dir,
    is_available,
    load_dataset,
    read_extracted_idx,
)
from vae_core.engine.data_files import SOURCES, raw_folder, shipped_folder

FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


# --- digits ----------------------------------------------------------------------------------------------------


def test_digits_splits_shapes_and_values(digits_train, digits_test):
    assert (len(digits_train), len(digits_test)) == (1437, 360)
    for data in (digits_train, digits_test):
        assert isinstance(data, ImageDataset)
        assert data.images.shape == (len(data), 1, 8, 8) and data.images.dtype == torch.float32
        assert data.input_shape == (1, 8, 8)
        assert data.labels.dtype == torch.int64 and data.labels.shape == (len(data),)
        assert data.images.min() == 0 and data.images.max() == 1  # 0..16 scaled by 1/16
        assert data.class_names == tuple(str(d) for d in range(10))
    assert digits_test.split == "test" and digits_train.name == "digits"


def test_digits_split_is_a_stratified_partition_of_the_data_set(digits_train, digits_test):
    bunch = load_digits()
    full = [
        (img.astype(np.float32) / 16).tobytes() + bytes([lab])
        for img, lab in zip(bunch.images, bunch.target, strict=True)
    ]
    parts = [
        img.numpy().tobytes() + bytes([lab])
        for data in (digits_train, digits_test)
        for img, lab in zip(data.images[:, 0], data.labels.tolist(), strict=True)
    ]
    assert sorted(parts) == sorted(full)  # every image once: disjoint and complete
    class_counts = np.bincount(bunch.target)
    test_counts = np.bincount(digits_test.labels.numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * class_counts) <= 1)


def test_digits_split_is_deterministic(digits_train):
    again = _load_digits("train")  # uncached: a fresh split
    assert torch.equal(again.images, digits_train.images)
    assert torch.equal(again.labels, digits_train.labels)
    assert load_dataset("digits", "train") is load_dataset("digits", "train")  # cached per process


def test_unknown_name_or_split_is_refused():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_dataset("cifar", "train")
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        load_dataset("digits", "validation")


# --- MNIST-style files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_torchvision_loader_reads_idx_files(tmp_path, name, no_download, write_fake_mnist):
    written = write_fake_mnist(tmp_path, FOLDERS[name], {"train": 12, "test": 5})
    assert is_available(name, root=tmp_path)
    for split, (pixels, labels) in written.items():
        data = load_dataset(name, split, root=tmp_path)
        assert (data.name, data.split) == (name, split)
        assert data.images.shape == (len(labels), 1, 28, 28) and data.images.dtype == torch.float32
        assert torch.equal(data.images[:, 0], torch.from_numpy(pixels.astype(np.float32) / 255))
        assert data.images.min() == 0 and data.images.max() == 1
        assert data.labels.dtype == torch.int64
        assert data.labels.tolist() == labels.tolist()
        assert len(data.class_names) == 10
    expected_first = "0" if name == "mnist" else "T-shirt/top"
    assert data.class_names[0] == expected_first


def test_missing_training_files_raise_dataset_unavailable_without_the_network(tmp_path, monkeypatch):
    # Loading never downloads (fetching is asked for: vae_core.engine.data_files.fetch_split).
    def refuse(*args, **kwargs):
        raise AssertionError("load_dataset used the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert not is_available("mnist", root=tmp_path)
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("mnist", "train", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "python -m vae_core data fetch mnist" in message
    assert DATA_DIR_ENV in message and "digits" in message and "ubyte.gz" in message


def test_digits_is_always_available(tmp_path):
    assert is_available("digits", root=tmp_path)


@pytest.mark.skipif(not is_available("mnist"), reason="MNIST files are not in the data directory")
def test_real_mnist_test_split():
    data = load_dataset("mnist", "test")
    assert data.images.shape == (10000, 1, 28, 28)
    assert data.images.min() == 0 and data.images.max() == 1
    assert sorted(set(data.labels.tolist())) == list(range(10))


@pytest.mark.skipif(not is_available("fashion-mnist"), reason="Fashion-MNIST files are not in the data directory")
def test_real_fashion_mnist_test_split():
    data = load_dataset("fashion-mnist", "test")
    assert data.images.shape == (10000, 1, 28, 28)
    assert data.class_names[-1] == "Ankle boot" and len(data.class_names) == 10
    assert torch.equal(torch.bincount(data.labels), torch.full((10,), 1000))


@pytest.mark.skipif(not is_available("mnist"), reason="MNIST's training files are not in the data directory")
@pytest.mark.parametrize("split", ["train", "test"])
def test_the_idx_reader_equals_torchvisions(split, tmp_path):
    # The direct IDX reader against torchvision's own reader of the same files, which torchvision checks (md5)
    # and extracts in a copy: the data directory's training files and the shipped test files (torchvision
    # wants all four before it reads either split).
    copy = raw_folder("mnist", tmp_path)
    copy.mkdir(parents=True)
    for part, folder in (("train", raw_folder("mnist", data_dir())), ("test", shipped_folder("mnist"))):
        for raw in SOURCES["mnist"].files(part):
            shutil.copy(folder / raw.name, copy / raw.name)
    with contextlib.redirect_stdout(io.StringIO()):  # its "Extracting ..." lines
        reference = torchvision.datasets.MNIST(str(tmp_path), train=split == "train", download=True)
    data = load_dataset("mnist", split)
    assert torch.equal(data.images[:, 0], reference.data.to(torch.float32) / 255)
    assert torch.equal(data.labels, reference.targets)


def test_fashion_class_names_are_torchvisions():
    assert tuple(torchvision.datasets.FashionMNIST.classes) == FASHION_MNIST_CLASSES


def test_malformed_idx_files_are_skipped(tmp_path, write_fake_mnist):
    write_fake_mnist(tmp_path, "MNIST", {"train": 3, "test": 2})
    raw = tmp_path / "MNIST" / "raw"
    assert read_extracted_idx(raw, "test") is not None
    images = raw / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])  # truncated
    assert read_extracted_idx(raw, "test") is None
    images.write_bytes(b"\x00\x00\x0d\x03" + bytes(20))  # floats, not bytes
    assert read_extracted_idx(raw, "test") is None
    assert read_extracted_idx(tmp_path / "absent", "train") is None


# --- binarisation -----------------------------------------------------------------------------------------------


def test_binarize_gives_bernoulli_pixels():
    images = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    images[:, :, 0, 0], images[:, :, 0, 1] = 0.0, 1.0
    binary = binarize(images, torch.Generator().manual_seed(1))
    assert binary.shape == images.shape
    assert set(binary.unique().tolist()) == {0.0, 1.0}
    assert binary.mean().item() == pytest.approx(images.mean().item(), abs=0.01)
    assert torch.all(binary[:, :, 0, 0] == 0) and torch.all(binary[:, :, 0, 1] == 1)
    # Pixel by pixel the frequency of ones follows the intensity.
    grey = torch.full((20000, 1), 0.3)
    assert binarize(grey, torch.Generator().manual_seed(2)).mean().item() == pytest.approx(0.3, abs=0.015)
    assert torch.equal(binary, binarize(images, torch.Generator().manual_seed(1)))


def test_is_available_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        is_available("cifar")
