"""What fitting the temperature at the end of a run costs, against the run's final test evaluation.

    python bench/calibration_cost.py [--repeats 3]

For each shipped checkpoint's model: the engine's end-of-run fit (cnn.training.calibrate.fit_on_holdout:
the logits of the 5,000 held-out training images averaged as predictions average them (the mirror
where the checkpoint flips, no shifts), the LBFGS fit, both reliability diagrams) against the evaluation
every finished run already does on the
10,000 test images (the baseline, same model, with the checkpoint's full test-time augmentation), on this
machine's CPU. Median of
--repeats, the two alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table

from cnn.checkpoint import load_checkpoint
from cnn.data import load_dataset
from cnn.data.normalize import Normalizer
from cnn.evaluation import Augmentation, EvalPlan, evaluate
from cnn.training.calibrate import fit_on_holdout, split_holdout

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    header("The temperature's fit at the end of a run, against the final test evaluation")
    rows, cpu = [], torch.device("cpu")
    for name in ("mnist", "cifar10"):
        model, meta = load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        data = load_dataset(meta["dataset"])
        hold = split_holdout(data.train, data.test, None)
        norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], cpu, meta["input_shape"][0])
        scored = EvalPlan(Augmentation.of_checkpoint(meta))
        test_s, fit_s = [], []
        for _ in range(args.repeats):
            test_s.append(timed(lambda: evaluate(model, data.test, norm, len(meta["classes"]), scored)))
            fit_s.append(
                timed(lambda: fit_on_holdout(model, hold, norm, len(meta["classes"]), tta_flip=scored.scoring.flip))
            )
        base, fit = statistics.median(test_s), statistics.median(fit_s)
        aug = "flip + shifts" if scored.scoring.translate else ("flip" if scored.scoring.flip else "none")
        rows.append(
            {
                "model": meta["architecture"],
                "test-time augmentation": aug,
                "test evaluation, 10,000 images (baseline) s": f"{base:.2f}",
                "temperature fit, 5,000 held-out images s": f"{fit:.2f}",
                "ratio": f"{fit / base:.2f}",
            }
        )
        print(
            f"{name}: test {', '.join(f'{v:.2f}' for v in test_s)} s; fit {', '.join(f'{v:.2f}' for v in fit_s)} s",
            flush=True,
        )
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
