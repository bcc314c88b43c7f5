"""MNIST checkpoints on the test set and on each drawing style (cnn/data/drawing_styles.py), scored
the way the checkpoint's own test pass scores (python -m cnn.evaluate: its normalisation and
test-time augmentation). The styles' held half (test images 5,000-9,999) is the result; the tune half
(0-4,999) is printed apart, only with --tune, for choosing a recipe, never as a result.

    bash bench/log_run.sh docs/benchmarks/cpu/drawing_accuracy.log \
        python bench/drawing_accuracy.py checkpoints/mnist.safetensors NEW.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
from common import header, table

from cnn.checkpoint import load_checkpoint
from cnn.cli.evaluate import evaluate_split
from cnn.data import Split, load_dataset
from cnn.data.drawing_styles import HELD, TUNE, drawing_styles


def scores(path: Path, sets: dict, labels, half: slice) -> dict:
    model, meta = load_checkpoint(path, map_location="cpu")
    row = {"checkpoint": str(path), "recipe": meta["recipe"]["name"], "augment": meta.get("augment", "(not recorded)")}
    row["test (all 10,000)"] = f"{100 * evaluate_split(model, meta, Split(sets['test'], labels), 'cpu').accuracy:.2f}"
    styles = [k for k in sets if k != "test"]
    for name in styles:
        row[name] = f"{100 * evaluate_split(model, meta, Split(sets[name][half], labels[half]), 'cpu').accuracy:.2f}"
    row["styles mean"] = f"{sum(float(row[k]) for k in styles) / len(styles):.2f}"
    row["worst style"] = f"{min(float(row[k]) for k in styles):.2f}"
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--tune", action="store_true", help="score the styles' tune half (for choosing), not the held")
    args = p.parse_args(argv)
    half_name, half = ("tune (images 0-4,999)", TUNE) if args.tune else ("held (images 5,000-9,999)", HELD)
    header(f"MNIST checkpoints on the test set and on the drawing styles' {half_name}")
    test = load_dataset("mnist").test
    sets = {"test": test.images, **drawing_styles(test.images)}
    rows = [scores(path, sets, test.labels, half) for path in args.checkpoints]
    print(f"style columns: the {half_name} half of each style, in %")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
