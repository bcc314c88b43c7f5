"""Evaluate a checkpoint on its data set's full test split: python -m cnn.evaluate CHECKPOINT [--data-dir D]

Prints the confusion matrix, the loss, the expected calibration error (15 bins) before and, where
the checkpoint has a temperature, after it, and as its last line `test accuracy: 0.XXXX`. The
accuracy is scored with all of the checkpoint's test-time augmentation; the calibration, and the
fit, use the probabilities the app shows (averaged over the mirror image only, where the checkpoint
flips, in fp32: cnn.evaluation.EvalPlan.served).

--fit-temperature first fits a temperature (temperature scaling, cnn/calibration.py) and rewrites
only the checkpoint's metadata (atomically; the weights are unchanged). --fit-on says on what:
  train      a fixed sample of 5,000 training images (seed 0). Honest only for a model that did not
             train on them: the tool warns when the model is markedly more accurate there.
  test-half  a fixed random half of the test set (seed 0, "half A"); the calibration is then
             reported on the other half ("half B"), which the fit never saw.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

import torch

from ..calibration import (
    ECE_BINS,
    METHOD,
    calibrated_probabilities,
    calibration_temperature,
    expected_calibration_error,
    split_halves,
)
from ..checkpoint import load_checkpoint, rewrite_metadata
from ..data import Dataset, Split
from ..data.normalize import Normalizer
from ..errors import DataError
from ..evaluation import Augmentation, EvalPlan, EvalResult, evaluate, format_confusion
from ..hardware import describe, pick_device
from ..projects import load_training_data
from .common import add_data_flags, friendly_errors

FIT_SAMPLE = 5000  # training images a temperature is fitted on (--fit-on train)
SEED = 0  # of that sample, and of the test set's split into halves


def _load(path, data_dir, device, train: bool):
    model, meta = load_checkpoint(path, map_location=device)
    # A project: its held-out share. A folder: its test/ split, else its fixed held-out share, decoded
    # at the size the model trained at (a folder fine-tuned with --init-from takes the checkpoint's).
    data = load_training_data(
        meta["dataset"], data_dir, train=train, allow_any_path=True, image_size=int(meta["input_shape"][1])
    )
    if list(data.classes) != list(meta["classes"]):
        raise DataError(f"The test set's classes {data.classes} differ from the checkpoint's {meta['classes']}.")
    return model, meta, data


def evaluate_split(model, meta: dict, split: Split, device) -> EvalResult:
    """The evaluation the checkpoint was made for: its normalisation, its run's test pass (test-time
    augmentation, and on CUDA its training arithmetic), and the logits the app serves beside."""
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], device, meta["input_shape"][0])
    plan = EvalPlan.test_pass(
        Augmentation.of_checkpoint(meta),
        meta.get("recipe") or {},
        device,
        serving=Augmentation.served(bool(meta.get("tta_flip"))),
    )
    return evaluate(model, split, norm, len(meta["classes"]), plan)


def evaluate_checkpoint(path, data_dir=None, device=None, rows=None) -> tuple[EvalResult, dict, list[str]]:
    """(evaluation on the test split, metadata, class names); rows (indices into the test split) picks
    a part of it (the suite's quick check), default all of it."""
    device = pick_device(device)
    model, meta, data = _load(path, data_dir, device, train=False)
    test = data.test if rows is None else Split(data.test.images[rows], data.test.labels[rows])
    return evaluate_split(model, meta, test, device), meta, data.classes


def fit_checkpoint_temperature(
    path, model, meta: dict, data: Dataset, test: EvalResult, device, fit_on: str = "train"
) -> dict:
    """Fit a temperature (see the module's doc), write it into the checkpoint's metadata and return
    the new metadata."""
    labels = data.test.labels
    if fit_on == "train":
        if data.train is None or len(data.train) == 0:
            raise DataError("This data set has no training split to fit a temperature on; use --fit-on test-half.")
        sample = data.train.subset(FIT_SAMPLE, seed=SEED)
        fitted = evaluate_split(model, meta, sample, device)
        logits, fit_labels, held_out = fitted.served_logits, sample.labels, torch.arange(len(labels))
        where = f"a fixed sample of {len(sample)} training images (seed {SEED})"
        if fitted.accuracy - test.accuracy > 0.01:
            print(
                f"warning: the model is right on {fitted.accuracy:.2%} of the fitting sample but on "
                f"{test.accuracy:.2%} of the test set, so it probably trained on these images and the "
                f"temperature is biased low (over-confident); consider --fit-on test-half.",
                file=sys.stderr,
            )
    else:
        half_a, held_out = split_halves(len(labels), SEED)
        logits, fit_labels = test.served_logits[half_a], labels[half_a]
        where = f"test half A ({len(half_a)} test images, seed {SEED}); ECE measured on half B"
    t, t_nll = calibration_temperature(logits, fit_labels)
    z, y = test.served_logits[held_out], labels[held_out]
    meta = dict(
        meta,
        temperature=t,
        calibration={
            "method": METHOD,
            "temperature_nll": t_nll,
            "fit_on": fit_on.replace("-", "_"),
            "fitted_on": where,
            "seed": SEED,
            "bins": ECE_BINS,
            "ece_before": expected_calibration_error(calibrated_probabilities(z), y),
            "ece_after": expected_calibration_error(calibrated_probabilities(z, t), y),
            "ece_images": len(held_out),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    rewrite_metadata(path, meta)
    return meta


def calibration_lines(result: EvalResult, labels: torch.Tensor, meta: dict) -> list[str]:
    """The ECE before and (where there is a temperature) after it, on the test set; for a
    temperature fitted on half of the test set, also on the other half alone."""
    z = result.served_logits  # as predictions get them (cnn.evaluation.EvalPlan.served)
    before = expected_calibration_error(calibrated_probabilities(z), labels)
    t = meta.get("temperature")
    if t is None:
        return [f"test ECE ({ECE_BINS} bins): {before:.4f} (no temperature in this checkpoint)"]
    after = expected_calibration_error(calibrated_probabilities(z, t), labels)
    lines = [f"test ECE ({ECE_BINS} bins): {before:.4f} before the temperature, {after:.4f} after (T = {t:.4f})"]
    cal = meta.get("calibration") or {}
    if cal.get("fitted_on"):
        lines.append(f"temperature fitted on {cal['fitted_on']}")
    if cal.get("fit_on") == "test_half":
        _, b = split_halves(len(labels), cal.get("seed", SEED))
        b_before = expected_calibration_error(calibrated_probabilities(z[b]), labels[b])
        b_after = expected_calibration_error(calibrated_probabilities(z[b], t), labels[b])
        lines.append(
            f"held-out test half B ({len(b)} images, unseen by the fit) ECE: {b_before:.4f} before, {b_after:.4f} after"
        )
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cnn.evaluate",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint")
    add_data_flags(p)
    p.add_argument(
        "--fit-temperature",
        action="store_true",
        help="fit a temperature and write it into the checkpoint's metadata (weights unchanged)",
    )
    p.add_argument(
        "--fit-on",
        choices=("train", "test-half"),
        default="train",
        help="what --fit-temperature fits on (default: 5,000 training images)",
    )
    args = p.parse_args(argv)
    with friendly_errors():
        device = pick_device(args.device)
        model, meta, data = _load(
            args.checkpoint, args.data_dir, device, train=args.fit_temperature and args.fit_on == "train"
        )
        result = evaluate_split(model, meta, data.test, device)
        print(
            f"{meta['architecture']} on {meta['dataset']} ({len(result.predictions)} test images, {describe(device)})"
        )
        print(format_confusion(result.confusion, data.classes))
        print(f"test loss: {result.loss:.4f}")
        if args.fit_temperature:
            meta = fit_checkpoint_temperature(args.checkpoint, model, meta, data, result, device, args.fit_on)
            print(f"wrote temperature {meta['temperature']:.4f} into {args.checkpoint} (weights unchanged)")
        print("\n".join(calibration_lines(result, data.test.labels, meta)))
        print(f"test accuracy: {result.accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
