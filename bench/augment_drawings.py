"""What augmentation buys on drawings (issue 32): the same quick MNIST run (5,000 training images,
mnist_best's settings for --epochs) with each augmentation spec, scored on the MNIST test set and on
each drawing-style version of it (cnn/data/drawing_styles.py), on its two halves: 'tune' (test
images 0-4,999, where a spec is chosen) and 'held' (5,000-9,999, only reported).

    bash bench/log_run.sh docs/benchmarks/cpu/augment_drawings.log python bench/augment_drawings.py
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table

from cnn.data import Dataset, load_dataset
from cnn.data.drawing_styles import HELD, TUNE, drawing_styles
from cnn.data.normalize import Normalizer
from cnn.training import get_recipe, train

SPECS = [
    "none",
    "crop=2",  # mnist_best's own
    "crop=2,stroke=1",
    "crop=2,elastic=0.3",
    "crop=2,blur=1,blocky=2",
    "crop=2,stroke=1,elastic=0.3,blur=1,blocky=2",
]


def accuracy(model, x, y, norm) -> float:
    with torch.no_grad():
        right = sum(
            int((model(norm(x[i : i + 1000])).argmax(1) == y[i : i + 1000]).sum()) for i in range(0, len(y), 1000)
        )
    return right / len(y)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=int, default=5000)
    p.add_argument("--epochs", type=float, default=4)
    p.add_argument("--recipe", default="mnist_best")
    p.add_argument("--specs", nargs="*", default=SPECS)
    args = p.parse_args(argv)
    header(f"{args.recipe} on {args.train} MNIST images for {args.epochs} epochs, per augmentation")
    mnist = load_dataset("mnist")
    data = Dataset("mnist", mnist.classes, mnist.train.subset(args.train, seed=0), mnist.test)
    sets = {"test": mnist.test.images, **drawing_styles(mnist.test.images)}
    y = mnist.test.labels
    rows = []
    for spec in args.specs:
        recipe = get_recipe(args.recipe).replace(epochs=args.epochs).with_augment(spec)
        t0 = time.perf_counter()
        torch.manual_seed(0)
        end = [
            ev for ev in train(recipe, data, device="cpu", seed=0, evaluate_each_epoch=False, calibration_holdout=0)
        ][-1]
        model = end.model.eval().float()
        n = end.metadata["normalization"]
        norm = Normalizer(n["mean"], n["std"], torch.device("cpu"), 1)
        row = {
            "augmentation": spec,
            "train s": f"{time.perf_counter() - t0:.0f}",
            "run test": f"{100 * end.test_accuracy:.2f}",
        }
        for name, x in sets.items():
            for half, sl in (("tune", TUNE), ("held", HELD)):
                row[f"{name} {half}"] = f"{100 * accuracy(model, x[sl], y[sl], norm):.2f}"
        styles = [k for k in sets if k != "test"]
        row["styles mean tune"] = f"{sum(float(row[f'{k} tune']) for k in styles) / len(styles):.2f}"
        row["styles mean held"] = f"{sum(float(row[f'{k} held']) for k in styles) / len(styles):.2f}"
        rows.append(row)
        print(row, flush=True)
    cols = list(rows[0])
    print(table(rows, cols))


if __name__ == "__main__":
    main()
