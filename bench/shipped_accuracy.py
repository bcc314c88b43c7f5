"""The shipped checkpoints on their full test sets (10,000 images each): accuracy, the figure their
metadata claims, and the calibration error (15 bins) of the app's probabilities on the images the
temperature was not fitted on, before and after it. tests/test_shipped_checkpoints.py checks CIFAR-10
on a fixed part (200 images a class) to keep the suite short; this is the whole figure.

    python bench/shipped_accuracy.py [--names mnist,cifar10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common  # noqa: F401
import torch
from common import header, table

from cnn.calibration import calibrated_probabilities, expected_calibration_error, split_halves
from cnn.cli.evaluate import evaluate_checkpoint
from cnn.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def row(name: str) -> dict:
    t0 = time.perf_counter()
    result, meta, _ = evaluate_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors", None, "cpu")
    seconds = time.perf_counter() - t0
    labels = load_dataset(name, None, train=False).test.labels
    unseen = torch.arange(len(labels))
    if meta["calibration"]["fit_on"] == "test_half":
        unseen = split_halves(len(labels), meta["calibration"]["seed"])[1]
    z, y = result.served_logits[unseen], labels[unseen]
    return {
        "checkpoint": name,
        "test images": len(result.predictions),
        "accuracy": f"{result.accuracy:.2%}",
        "metadata says": f"{meta['test_accuracy']:.2%}",
        "ECE images": len(unseen),
        "ECE before": f"{expected_calibration_error(calibrated_probabilities(z), y):.4f}",
        "ECE after": f"{expected_calibration_error(calibrated_probabilities(z, meta['temperature']), y):.4f}",
        "eval s": f"{seconds:.1f}",
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--names", default="mnist,cifar10")
    args = p.parse_args(argv)
    header("the shipped checkpoints on their full test sets")
    rows = [row(n) for n in args.names.split(",")]
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
