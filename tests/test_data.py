"""Data sources on the real data sets, and image folders built on the fly."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from cnn.data import load_dataset, load_image_folder, resolve_data_dir
from cnn.errors import DataError

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_mnist_whole_splits_as_uint8(mnist):
    assert mnist.train.images.shape == (60000, 1, 28, 28) and mnist.train.images.dtype == torch.uint8
    assert mnist.test.images.shape == (10000, 1, 28, 28)
    assert mnist.classes == [str(i) for i in range(10)]
    assert torch.bincount(mnist.test.labels).tolist()[:3] == [980, 1135, 1032]  # MNIST's published counts


def test_cifar10_reads_the_image_folder_copy(data_dir):
    ds = load_dataset("cifar10", data_dir, train=False)
    assert ds.name == "cifar10" and ds.classes == CIFAR and ds.train is None
    assert ds.test.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(ds.test.labels).tolist() == [1000] * 10
    mean, _ = ds.test.mean_std()
    assert np.allclose(mean, [0.4942, 0.4851, 0.4504], atol=2e-3)  # CIFAR-10 test-set channel means


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_DATA_DIR", str(tmp_path))
    assert resolve_data_dir("/x") == resolve_data_dir("/x") and str(resolve_data_dir("/x")) == "/x"
    assert resolve_data_dir(None) == tmp_path
    monkeypatch.delenv("CNN_DATA_DIR")
    assert str(resolve_data_dir(None)) == "data"


def _write_images(folder, n, colour, size=(12, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, tuple(min(255, c + i) for c in colour)).save(folder / f"{i}.png")


def test_image_folder_held_out_split_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    _write_images(tmp_path / "pics" / "red", 10, (200, 0, 0))
    _write_images(tmp_path / "pics" / "blue", 5, (0, 0, 200))
    ds = load_image_folder(tmp_path / "pics")
    assert ds.classes == ["blue", "red"]
    assert len(ds.train) + len(ds.test) == 15
    assert sorted(ds.test.labels.tolist()) == [0, 1, 1]  # 20% of each class held out
    assert ds.train.images.shape[1:] == (3, 12, 12)
    assert (ds.train.images[ds.train.labels == 1][:, 0] >= 200).all()  # red stays red
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    again = load_image_folder(tmp_path / "pics")
    assert torch.equal(again.train.images, ds.train.images)
    # an image replaced in place (same name) is seen: the cache is keyed by each file's size and time
    Image.new("RGB", (12, 12), (0, 255, 0)).save(tmp_path / "pics" / "red" / "0.png")
    os.utime(tmp_path / "pics" / "red" / "0.png", ns=(1, 1))
    changed = load_image_folder(tmp_path / "pics")
    greens = lambda d: sum(int((s.images[:, 1] == 255).all(dim=(1, 2)).sum()) for s in (d.train, d.test))
    assert (greens(ds), greens(changed)) == (0, 1)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2


def test_image_folder_with_train_test_and_mixed_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    for split in ("train", "test"):
        _write_images(tmp_path / "f" / split / "a", 3, (10, 10, 10), size=(40, 30))
        _write_images(tmp_path / "f" / split / "b", 3, (90, 90, 90), size=(20, 50))
    ds = load_image_folder(tmp_path / "f")
    assert ds.train.images.shape == (6, 1, 64, 64)  # grey kept as one channel, resized to 64x64
    assert ds.test.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_folder_outside_data_dir_needs_permission(tmp_path):
    _write_images(tmp_path / "out" / "a", 2, (0, 0, 0))
    _write_images(tmp_path / "out" / "b", 2, (255, 255, 255))
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="outside the data directory"):
        load_dataset(str(tmp_path / "out"), tmp_path / "data")
    with pytest.raises(DataError, match="outside the data directory"):
        load_dataset("../out", tmp_path / "data")
    assert load_dataset(str(tmp_path / "out"), tmp_path / "data", allow_any_path=True).classes == ["a", "b"]
