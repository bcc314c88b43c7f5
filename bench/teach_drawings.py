"""Teach it your own classes, measured: five hand-drawn shapes, 10 drawings each, fine-tuned from the
shipped MNIST model and from scratch, side by side in the same run.

    python bench/teach_drawings.py                 # the table in docs/teach.md
    python bench/teach_drawings.py --variants all  # also the schedules the default was chosen from
    python bench/teach_drawings.py --also "fine-tune, classifier alone for the first third"

The drawings are made offline as the Sketchpad delivers them (RGBA, transparent ground, 420x420):
circle, triangle, square, star and arrow, drawn as wobbly strokes of 6 to 32 px at any size
(90 to 360 px), place, rotation (up to 25 degrees) and slant, each vertex and stroke a little off.
Each class gets 12 drawings in a project (cnn.projects: the project holds 2 of each out, so 10 are
learned from), and every model is scored on 60 fresh drawings per class that no run has seen,
prepared exactly as the Draw tab prepares what it classifies. 'train s' is the engine's time for the
whole run (its per-epoch evaluations on the project's 10 held-out drawings included).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import numpy as np
import torch
from common import header, table
from PIL import Image, ImageDraw

from cnn.data import Split
from cnn.data.normalize import Normalizer
from cnn.evaluation import evaluate
from cnn.projects import FINE_TUNE_FROM, Project, plan, prepare
from cnn.training import train

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("circle", "triangle", "square", "star", "arrow")
CANVAS = 420


def _outline(shape: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The shape's strokes in unit coordinates (about [-1, 1]), before any jitter."""
    if shape == "circle":
        start, sweep = rng.uniform(0, 2 * math.pi), 2 * math.pi + rng.uniform(-0.3, 0.4)
        t = start + np.linspace(0, sweep, 48)
        return [np.stack([np.cos(t), np.sin(t)], 1)]
    if shape in ("triangle", "square"):
        n = 3 if shape == "triangle" else 4
        a = np.arange(n + 1) * 2 * math.pi / n + (-math.pi / 2 if n == 3 else math.pi / 4)
        return [np.stack([np.cos(a), np.sin(a)], 1)]
    if shape == "star":
        a = -math.pi / 2 + np.arange(6) * 4 * math.pi / 5
        return [np.stack([np.cos(a), np.sin(a)], 1)]
    head = rng.uniform(0.3, 0.5)
    return [
        np.array([[-1.0, 0.0], [1.0, 0.0]]),
        np.array([[1 - head, -head * 0.8], [1.0, 0.0], [1 - head, head * 0.8]]),
    ]


def _hand(stroke: np.ndarray, rng: np.random.Generator, wobble: float) -> np.ndarray:
    """Corners a little off, then the stroke densified with a slow wobble along it."""
    pts = stroke + rng.normal(0, 0.06 if len(stroke) <= 8 else 0.0, stroke.shape)  # a curve: the wobble only
    dense = []
    for p, q in zip(pts[:-1], pts[1:]):
        k = max(2, int(np.linalg.norm(q - p) * 20))
        dense.append(p + (q - p) * np.linspace(0, 1, k, endpoint=False)[:, None])
    dense.append(pts[-1:])
    d = np.concatenate(dense)
    phase = rng.uniform(0, 2 * math.pi, 2)
    s = np.linspace(0, rng.uniform(2, 6) * math.pi, len(d))[:, None]
    return d + wobble * np.sin(s + phase)


def drawing(shape: str, rng: np.random.Generator, strokes: list[np.ndarray] | None = None) -> Image.Image:
    """One drawing of the shape on a transparent 420x420 canvas, black strokes (as the Sketchpad).
    strokes: other strokes to draw the same way, in unit coordinates (bench/unsure_threshold.py's letters)."""
    size, width = rng.uniform(90, 360), int(rng.integers(6, 33))
    angle, slant = math.radians(rng.uniform(-25, 25)), rng.uniform(-0.3, 0.3)
    aspect = rng.uniform(0.8, 1.25)
    m = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ np.array(
        [[aspect, slant], [0, 1 / aspect]]
    )
    half = size / 2 + width
    centre = rng.uniform(half, CANVAS - half, 2) if half < CANVAS / 2 else np.array([CANVAS / 2] * 2)
    im = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    for stroke in strokes if strokes is not None else _outline(shape, rng):
        pts = _hand(stroke, rng, 0.03) @ m.T * (size / 2) + centre
        xy = [tuple(p) for p in pts]
        d.line(xy, fill=(0, 0, 0, 255), width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round ends, as a brush leaves
            d.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(0, 0, 0, 255))
    return im


def make_project(data_dir: Path, per_class: int, seed: int) -> Project:
    rng = np.random.default_rng(seed)
    project = Project.create("Shapes", "drawings", data_dir=data_dir)
    for shape in SHAPES:
        project.add_class(shape)
        for i in range(per_class):
            # fixed file names (a project's files may have any names): the held-out share, picked
            # by a hash of the names, is then the same in every run of this benchmark
            added = project.add_example(shape, drawing(shape, rng))
            added.rename(added.with_name(f"{shape}-{i:02d}.png"))
    return project


def fresh_test(per_class: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, shape in enumerate(SHAPES):
        for _ in range(per_class):
            xs.append(prepare("drawings", drawing(shape, rng))[0])
            ys.append(label)
    return Split(torch.stack(xs), torch.tensor(ys))


VARIANTS = {  # name: (fine-tune?, recipe changes)
    "fine-tune (default)": (True, {}),
    "from scratch": (False, {}),
}
MORE = {  # the alternatives the default schedule was chosen from (cnn/projects/teaching.py)
    "fine-tune, classifier alone for the first third": (True, "head_third"),
    "fine-tune, lr x3": (True, {"lr_scale": 3}),
    "fine-tune, lr /3": (True, {"lr_scale": 1 / 3}),
    "fine-tune, half the steps": (True, {"epochs_scale": 0.5}),
    "fine-tune, twice the steps": (True, {"epochs_scale": 2}),
    "fine-tune, no augmentation": (True, {"rotate": 0.0, "scale": 0.0, "shift": 0.0, "stroke": 0}),
    "fine-tune, with stroke-width augmentation (1 px)": (True, {"stroke": 1}),
    "fine-tune, SGD 0.02 nesterov": (True, {"optimizer": "sgd", "lr": 0.02, "momentum": 0.9, "nesterov": True}),
    "from scratch, lr /3 (fine-tuning's)": (False, {"lr_scale": 1 / 3}),
    "from scratch, no augmentation": (False, {"rotate": 0.0, "scale": 0.0, "shift": 0.0, "stroke": 0}),
}


def run(name: str, project: Project, test: Split, seed: int, device: str) -> dict:
    fine, changes = VARIANTS.get(name) or MORE[name]
    p = plan(project.path, ROOT / FINE_TUNE_FROM["drawings"] if fine else None)
    recipe = p.recipe
    if changes == "head_third":
        recipe = recipe.replace(head_only_epochs=math.ceil(recipe.epochs / 3))
    elif changes:
        changes = dict(changes)
        scale, longer = changes.pop("lr_scale", 1), changes.pop("epochs_scale", 1)
        recipe = recipe.replace(**changes).replace(
            lr=changes.get("lr", recipe.lr) * scale, epochs=recipe.epochs * longer
        )
    end = None
    for ev in train(recipe, p.data, device=device, seed=seed, init_state=p.init_state, log_every=10**9):
        end = ev if ev.kind == "end" else end
    norm = Normalizer(end.metadata["normalization"]["mean"], end.metadata["normalization"]["std"], "cpu", 1)
    fresh = evaluate(end.model.cpu(), test, norm, len(SHAPES))
    return {
        "held": end.test_accuracy,
        "fresh": fresh.accuracy,
        "seconds": end.elapsed,
        "steps": round(recipe.epochs * math.ceil(len(p.data.train) / recipe.batch_size)),
        "recipe": recipe,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=12, help="drawings per class in the project (2 held out)")
    ap.add_argument("--test-per-class", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=3, help="runs of each variant (training seeds 0..n-1)")
    ap.add_argument("--variants", default="default", help="'default' or 'all'")
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        choices=list(MORE),
        metavar="VARIANT",
        help="with the default variants, also this one of the others (repeatable)",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1, as the Teach tab trains: batches of 16 gain nothing from more)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    header("Teach it your own classes: five drawn shapes, fine-tuned vs from scratch")
    names = list(VARIANTS) + (list(MORE) if args.variants == "all" else args.also)
    test = fresh_test(args.test_per_class, seed=1234)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), args.per_class, seed=7)
        n_train = sum(c.count for c in project.classes())
        print(
            f"project: {len(SHAPES)} classes x {args.per_class} drawings ({n_train}); fresh test: {len(test)} drawings",
            flush=True,
        )
        for name in names:
            runs = [run(name, project, test, seed, args.device) for seed in range(args.seeds)]
            for r in runs:
                print(f"  {name}: fresh {r['fresh']:.4f}, held-out {r['held']:.4f}, {r['seconds']:.1f} s", flush=True)
            r0 = runs[0]["recipe"]
            rows.append(
                {
                    "variant": name,
                    "model": r0.model,
                    "steps": runs[0]["steps"],
                    "fresh test accuracy (mean, min)": f"{statistics.mean(r['fresh'] for r in runs):.2%}, "
                    f"{min(r['fresh'] for r in runs):.2%}",
                    "held-out (10)": f"{statistics.mean(r['held'] for r in runs):.2%}",
                    "train s (mean, max)": f"{statistics.mean(r['seconds'] for r in runs):.1f}, "
                    f"{max(r['seconds'] for r in runs):.1f}",
                }
            )
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
