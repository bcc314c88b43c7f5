"""How the temperature is chosen, tried on many splits: the NLL's T (Guo et al. 2017) against the T
cnn.calibration.calibration_temperature uses (the NLL's, moved within 0.8-1.25x of it to the lowest
ECE), each fitted on one random half of the test set and measured on the other half.

    python bench/temperature_choice.py [--checkpoint checkpoints/cifar10.safetensors] [--splits 10]

The logits are those the app's predictions get (cnn.evaluation.EvalPlan.served: the mirror where
the checkpoint flips, no shifts), computed once on the CPU. A 5,000-image ECE moves by a few tenths
of a point with the split, so one split says little: this shows the spread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import common  # noqa: F401
import torch
from common import header, table

from cnn.calibration import (
    calibrated_probabilities,
    calibration_temperature,
    expected_calibration_error,
    nll,
    split_halves,
)
from cnn.checkpoint import load_checkpoint
from cnn.data import load_dataset
from cnn.data.normalize import Normalizer
from cnn.evaluation import EvalPlan, evaluate

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "cifar10.safetensors"))
    ap.add_argument("--splits", type=int, default=10, help="random halves (seeds 0 .. splits-1)")
    args = ap.parse_args(argv)
    header("The temperature: the NLL's against the one chosen by calibration_temperature, on random test halves")
    cpu = torch.device("cpu")
    model, meta = load_checkpoint(args.checkpoint)
    data = load_dataset(meta["dataset"], train=False)
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], cpu, meta["input_shape"][0])
    ev = evaluate(
        model,
        data.test,
        norm,
        len(meta["classes"]),
        EvalPlan.served(bool(meta.get("tta_flip"))),
    )
    z, y = ev.served_logits, data.test.labels
    print(
        f"checkpoint: {args.checkpoint} ({meta.get('architecture')}), served logits of {len(y)} test images, "
        f"accuracy {ev.accuracy:.4f}"
    )
    rows, ece_nll, ece_used = [], [], []
    for seed in range(args.splits):
        fit, held = split_halves(len(y), seed)
        t, t_nll = calibration_temperature(z[fit], y[fit])
        e_nll = expected_calibration_error(calibrated_probabilities(z[held], t_nll), y[held])
        e_used = expected_calibration_error(calibrated_probabilities(z[held], t), y[held])
        ece_nll.append(e_nll)
        ece_used.append(e_used)
        rows.append(
            {
                "split seed": seed,
                "NLL's T": f"{t_nll:.4f}",
                "chosen T": f"{t:.4f}",
                "held-out ECE, NLL's T": f"{e_nll:.2%}",
                "held-out ECE, chosen T": f"{e_used:.2%}",
                "held-out NLL, NLL's T": f"{nll(z[held], y[held], t_nll):.4f}",
                "held-out NLL, chosen T": f"{nll(z[held], y[held], t):.4f}",
            }
        )
    print(table(rows, list(rows[0])))
    for name, v in (("NLL's T", ece_nll), ("chosen T", ece_used)):
        print(
            f"{name}: held-out ECE median {statistics.median(v):.2%}, range {min(v):.2%}-{max(v):.2%}, "
            f"{sum(e <= 0.01 for e in v)} of {len(v)} splits at 1% or less"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
