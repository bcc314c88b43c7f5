"""The shipped checkpoints are real: evaluated on their full test sets, they meet the floors."""
from pathlib import Path

import pytest

from cnn.cli.evaluate import evaluate_checkpoint

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def check(name, floor, data_dir):
    path = CHECKPOINTS / f"{name}.safetensors"
    result, meta, _ = evaluate_checkpoint(path, data_dir, "cpu")
    assert len(result.predictions) == 10000  # the full test split
    assert result.accuracy == pytest.approx(meta["test_accuracy"], abs=2e-3)  # what the metadata claims
    assert result.accuracy >= floor, f"{name}: {result.accuracy:.4f} < {floor}"
    return meta


def test_mnist_checkpoint_meets_99_4(data_dir):
    meta = check("mnist", 0.994, data_dir)
    assert meta["dataset"] == "mnist" and meta["input_shape"] == [1, 28, 28]


def test_cifar10_checkpoint_meets_93(data_dir):
    meta = check("cifar10", 0.93, data_dir)
    assert meta["dataset"] == "cifar10" and meta["input_shape"] == [3, 32, 32]
    assert meta["tta_flip"] and meta["tta_translate"]  # evaluated as it was trained to be
