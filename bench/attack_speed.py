"""Make it say N (cnn/serving/attack.py): success rate and seconds per attack of its two engines, our
loop (`plain`, stops as soon as the uint8 image says the target) and captum.robust.PGD (`captum`, in
rounds of fixed steps), side by side on the same images in one invocation, alternating per image.

Digits: MNIST test digits drawn black on a transparent canvas as the Sketchpad delivers them and
prepared as the Draw tab does (cnn/serving/digits.py), shipped digit model, epsilon 0.3, target
(label + 1 + i mod 9) mod 10 (every other class in turn). Photos: CIFAR-10 test photos, shipped photo
model, epsilon 8/255. Success is the served model's answer on the returned uint8 image.

    python bench/attack_speed.py [--digits 300] [--photos 40] [--held 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import common  # (sets the data directory)
from common import header, table
from unsure_threshold import canvas_digit

from cnn.data import load_dataset
from cnn.serving.attack import ENGINES, make_it_say
from cnn.serving.digits import prepare_digit
from cnn.serving.predictor import Predictor

ROOT = common.Path(__file__).resolve().parents[1]


def row(what: str, engine: str, eps: float, results: list) -> dict:
    s = sorted(r.seconds for r in results)
    return {
        "images": what,
        "engine": engine,
        "epsilon": f"{eps:.4g}",
        "n": len(results),
        "success": f"{sum(r.success for r in results) / len(results):.1%}",
        "mean s": f"{statistics.mean(s):.3f}",
        "median s": f"{statistics.median(s):.3f}",
        "p95 s": f"{s[int(0.95 * (len(s) - 1))]:.3f}",
        "max s": f"{s[-1]:.3f}",
        "mean steps": f"{statistics.mean(r.steps for r in results):.1f}",
        "max linf": f"{max(r.linf for r in results):.4f}",
    }


def run(pred, images, labels, eps, engines) -> dict[str, list]:
    """Each engine on each image in turn (alternating, so that the machine's load falls on both)."""
    out = {e: [] for e in engines}
    for e in engines:  # warm-up, not counted: the first call pays captum's import and torch's first graph
        make_it_say(pred, images[0], (int(labels[0]) + 1) % 10, eps, engine=e)
    for i, (x, y) in enumerate(zip(images, labels)):
        target = (int(y) + 1 + i % 9) % 10
        for e in engines if i % 2 == 0 else engines[::-1]:
            out[e].append(make_it_say(pred, x, target, eps, engine=e))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=int, default=300)
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--held", type=int, default=40, help="digits at epsilon 0.05, where most attacks hold")
    a = ap.parse_args(argv)
    header("Make it say N: our PGD loop against captum.robust.PGD")
    rows = []
    digits = Predictor.from_checkpoint(ROOT / "checkpoints" / "mnist.safetensors")
    test = load_dataset("mnist", train=False).test
    n = max(a.digits, a.held)
    drawn = [prepare_digit(canvas_digit(test.images[i][0].numpy())).image for i in range(n)]
    labels = test.labels[:n].tolist()
    for e, res in run(digits, drawn[: a.digits], labels, 0.3, ENGINES).items():
        rows.append(row("MNIST test, drawn", e, 0.3, res))
    for e, res in run(digits, drawn[: a.held], labels, 0.05, ("plain",)).items():
        rows.append(row("MNIST test, drawn", e, 0.05, res))
    photos = Predictor.from_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors")
    ctest = load_dataset("cifar10", train=False).test.subset(a.photos, seed=0)
    for e, res in run(photos, ctest.images, ctest.labels.tolist(), 8 / 255, ENGINES).items():
        rows.append(row("CIFAR-10 test", e, 8 / 255, res))
    cols = list(rows[0])
    print(table(rows, cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
