"""Evaluate a checkpoint on its data set's full test split: python -m cnn.evaluate CHECKPOINT [--data-dir D]

Prints the confusion matrix and, as its last line, `test accuracy: 0.XXXX`.
"""
from __future__ import annotations

import argparse
import sys

from ..checkpoint import load_checkpoint
from ..data import load_dataset
from ..data.normalize import Normalizer
from ..errors import DataError
from ..evaluation import EvalResult, evaluate, format_confusion
from ..hardware import describe, pick_device
from .common import add_data_flags, friendly_errors


def evaluate_checkpoint(path, data_dir=None, device=None) -> tuple[EvalResult, dict, list[str]]:
    """(evaluation on the full test split, metadata, class names)."""
    device = pick_device(device)
    model, meta = load_checkpoint(path, map_location=device)
    data = load_dataset(meta["dataset"], data_dir, train=False, allow_any_path=True)
    if list(data.classes) != list(meta["classes"]):
        raise DataError(f"The test set's classes {data.classes} differ from the checkpoint's {meta['classes']}.")
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], device, meta["input_shape"][0])
    result = evaluate(model, data.test, norm, len(data.classes), device, tta_flip=meta.get("tta_flip", False),
                      tta_translate=meta.get("tta_translate", False),
                      cuda_dtype=meta.get("recipe", {}).get("cuda_dtype", "bf16"))  # the dtype it trained in
    return result, meta, data.classes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    add_data_flags(p)
    args = p.parse_args(argv)
    with friendly_errors():
        result, meta, classes = evaluate_checkpoint(args.checkpoint, args.data_dir, args.device)
        print(f"{meta['architecture']} on {meta['dataset']} ({len(result.predictions)} test images, "
              f"{describe(pick_device(args.device))})")
        print(format_confusion(result.confusion, classes))
        print(f"test loss: {result.loss:.4f}")
        print(f"test accuracy: {result.accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
