"""Shared test set-up: real data from ../shared/data (or $CNN_DATA_DIR), offline Gradio."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("CNN_DATA_DIR", str((ROOT.parent / "shared" / "data").resolve()))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
DATA_DIR = Path(os.environ["CNN_DATA_DIR"])


def pytest_configure(config):
    """The test process serves the app, so it limits its malloc arenas from the start, as a server's
    process does (ui/launch.py serve, before any thread of its own): arenas made before the limit stay.
    A pytest-xdist worker has threads of its own before the first app; it grew 87 MiB over
    test_train_api's 20 runs (docs/benchmarks/cpu/suite_xdist_n2_cb15347.log) against 40 allowed."""
    from cnn.memory import limit_malloc_arenas

    limit_malloc_arenas()
    share_the_cores_between_workers()


def share_the_cores_between_workers() -> None:
    """Under pytest-xdist, each worker's torch gets its share of the cores (one each of two on the
    2-core machine), as cnn.cpu_share gives each of two runs: a worker's two threads beside the
    other's waited for each other on OpenMP's barriers. Three training modules on two workers spent
    103-105 CPU-s so, against 116-127 with two threads each (2026-12-08). Set before cnn.cpu_share
    is imported, so its PROCESS_THREADS is the worker's share; subprocesses keep their own count."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        from cnn.cpu_count import usable_cpus

        torch.set_num_threads(max(1, usable_cpus() // workers))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "MNIST" / "raw").is_dir(), f"MNIST not found under {DATA_DIR}; set CNN_DATA_DIR"
    return DATA_DIR


@pytest.fixture(scope="session")
def mnist(data_dir):
    from cnn.data import load_dataset

    return load_dataset("mnist", data_dir)


@pytest.fixture()
def mnist_small(mnist):
    """A fresh small copy of MNIST (5,000 train / 2,000 test images) each test may change."""
    from cnn.data import Dataset

    return Dataset("mnist", mnist.classes, mnist.train.subset(5000), mnist.test.subset(2000))


@pytest.fixture(scope="session")
def cifar_small(data_dir):
    """CIFAR-10 (the lossless PNG copy, decoded once and cached): 5,000 train / 1,000 test images."""
    from cnn.data import Dataset, load_dataset

    full = load_dataset("cifar10", data_dir)
    return Dataset("cifar10", full.classes, full.train.subset(5000), full.test.subset(1000))


@pytest.fixture()
def ctx(tmp_path, data_dir):
    """The app's context for handler tests; its run is stopped and waited for afterwards."""
    from app_helpers import make_ctx

    c = make_ctx(tmp_path / "runs", data_dir)
    yield c
    c.runs.stop()
    assert c.runs.wait_idle(30)


@pytest.fixture()
def manager(tmp_path, data_dir):
    """A CPU RunManager over a fresh runs folder; its run is stopped and waited for afterwards."""
    from cnn.runs import RunManager

    m = RunManager(tmp_path / "runs", data_dir, device="cpu")
    yield m
    m.stop()
    assert m.wait_idle(30)
