"""What holding out training images for the temperature costs: test accuracy with the default
hold-out (min(5,000, 10%) of the training split) against training on every image
(calibration_holdout=0), same recipe and seeds, side by side in one invocation; and the test ECE of
the probabilities the app shows, with and without the fitted temperature.

    python bench/holdout_cost.py [--recipe cifar10_small] [--seeds 0,1]

Runs alternate (seed 0 held out, seed 0 on every image, seed 1 ...), so that load from other jobs
falls on both alike; only the accuracies matter here, not the time.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import common  # noqa: F401
from common import header, table

from cnn.calibration import calibrated_probabilities, expected_calibration_error
from cnn.data import load_dataset
from cnn.training import End, train
from cnn.training.recipes import get_recipe


def one_run(recipe, data, seed: int, holdout: int | None) -> dict:
    end = next(
        e
        for e in train(recipe, data, device="cpu", seed=seed, evaluate_each_epoch=False, calibration_holdout=holdout)
        if isinstance(e, End)
    )
    meta = end.metadata
    served = end.evaluation.served_logits  # the final test evaluation's, as the app predicts
    y = data.test.labels
    t = meta.get("temperature")
    return {
        "accuracy": end.test_accuracy,
        "T": t,
        "seconds": end.elapsed,
        "ece_before": expected_calibration_error(calibrated_probabilities(served), y),
        "ece_after": expected_calibration_error(calibrated_probabilities(served, t), y) if t else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="cifar10_small")
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args(argv)
    header("The calibration hold-out's cost in test accuracy")
    recipe = get_recipe(args.recipe)
    data = load_dataset(recipe.dataset)
    rows, acc = [], {"held out": [], "every image": []}
    for seed in map(int, args.seeds.split(",")):
        for name, holdout in (("held out", None), ("every image", 0)):
            r = one_run(recipe, data, seed, holdout)
            acc[name].append(r["accuracy"])
            rows.append(
                {
                    "recipe": recipe.name,
                    "seed": seed,
                    "trained on": name,
                    "test accuracy": f"{r['accuracy']:.4f}",
                    "T": f"{r['T']:.3f}" if r["T"] else "none",
                    "test ECE before T": f"{r['ece_before']:.2%}",
                    "test ECE after T": f"{r['ece_after']:.2%}" if r["ece_after"] is not None else "-",
                    "seconds": f"{r['seconds']:.0f}",
                }
            )
            print(rows[-1], flush=True)
    print(table(rows, list(rows[0])))
    held, every = statistics.mean(acc["held out"]), statistics.mean(acc["every image"])
    print(
        f"mean test accuracy: {held:.4f} with the hold-out, {every:.4f} on every image "
        f"({(held - every) * 100:+.2f} points)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
