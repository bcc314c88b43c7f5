"""What augmentation buys a Teach drawings project of 10 examples a class (issue 32): the project
fine-tuned as the Teach tab does (cnn.projects.plan: from the shipped MNIST checkpoint, the preset for
its size) with each augmentation spec, scored on drawings no run has seen, as drawn ("as drawn") and
in each drawing style (cnn/data/drawing_styles.py: thick, blurred, blocky, wobbly).

Two projects, 12 examples a class (the project holds 2 of each out, so 10 are learned from):
  shapes  bench/teach_drawings.py's five hand-drawn shapes; scored on 60 fresh drawings a class;
  digits  MNIST training digits 0-9 given as drawings (dark ink on a transparent 280 px canvas, as
          the Sketchpad sends them); scored on the held half of the MNIST test set (images
          5,000-9,999) and of each style. Nothing here is tuned on: it is a report.

    bash bench/log_run.sh docs/benchmarks/cpu/teach_augment.log python bench/teach_augment.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table
from PIL import Image
from teach_drawings import fresh_test, make_project

from cnn.data import Split, load_dataset
from cnn.data.drawing_styles import HELD, drawing_styles
from cnn.data.normalize import Normalizer
from cnn.evaluation import evaluate
from cnn.projects import FINE_TUNE_FROM, Project, plan
from cnn.training import train

ROOT = Path(__file__).resolve().parents[1]
TEACH = "shift=0.08,rotate=12,zoom=0.15"  # teach_drawings' own
SPECS = [
    "none",
    TEACH,
    f"{TEACH},blur=1,blocky=2",  # what mnist_drawings adds to mnist_best
    f"{TEACH},stroke=1",
    f"{TEACH},stroke=1,elastic=0.3,blur=1,blocky=2",
]


def digit_drawing(x: torch.Tensor) -> Image.Image:
    """An MNIST digit (1 x 28 x 28, white on black) as the Sketchpad sends a drawing: black ink whose
    alpha is the digit's grey, on a transparent canvas, scaled up 10 times."""
    a = Image.fromarray(x[0].numpy()).resize((280, 280), Image.BILINEAR)
    im = Image.new("RGBA", a.size, (0, 0, 0, 0))
    im.putalpha(a)
    return im


def digits_project(folder: Path, per_class: int) -> tuple[Project, Split]:
    mnist = load_dataset("mnist")
    project = Project.create("Digits", "drawings", data_dir=folder)
    g = torch.Generator().manual_seed(7)
    order = torch.randperm(len(mnist.train.labels), generator=g)
    for c in range(10):
        project.add_class(str(c))
        picks = order[mnist.train.labels[order] == c][:per_class]
        for i, k in enumerate(picks.tolist()):
            added = project.add_example(str(c), digit_drawing(mnist.train.images[k]))
            added.rename(added.with_name(f"{c}-{i:02d}.png"))  # fixed names: the same held-out share
    return project, Split(mnist.test.images[HELD], mnist.test.labels[HELD])


def shapes_project(folder: Path, per_class: int) -> tuple[Project, Split]:
    return make_project(folder, per_class, seed=7), fresh_test(60, seed=1234)


def run(project: Project, sets: dict, labels, spec: str, seed: int, init: Path) -> dict:
    p = plan(project.path, init)
    recipe = p.recipe.with_augment(spec)
    end = None
    for ev in train(recipe, p.data, device="cpu", seed=seed, init_state=p.init_state, log_every=10**9):
        end = ev if ev.kind == "end" else end
    n = end.metadata["normalization"]
    norm = Normalizer(n["mean"], n["std"], "cpu", 1)
    model, k = end.model.cpu().float().eval(), len(p.data.classes)
    scores = {name: evaluate(model, Split(x, labels), norm, k).accuracy for name, x in sets.items()}
    return {**scores, "seconds": end.elapsed}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--projects", default="shapes,digits")
    ap.add_argument("--per-class", type=int, default=12, help="examples a class (the project holds 2 out)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--init-from", type=Path, default=ROOT / FINE_TUNE_FROM["drawings"])
    ap.add_argument("--specs", nargs="*", default=SPECS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as the Teach tab trains
    header(f"a Teach drawings project of 10 examples a class, fine-tuned from {args.init_from}, per augmentation")
    make = {"shapes": shapes_project, "digits": digits_project}
    for name in args.projects.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            project, test = make[name](Path(tmp), args.per_class)
            sets = {"as drawn": test.images, **drawing_styles(test.images)}
            print(f"project {name}: {sum(c.count for c in project.classes())} examples; scored on {len(test)}")
            rows = []
            for spec in args.specs:
                runs = [run(project, sets, test.labels, spec, s, args.init_from) for s in range(args.seeds)]
                row = {"project": name, "augmentation": spec}
                for k in sets:
                    row[k] = f"{100 * statistics.mean(r[k] for r in runs):.2f}"
                styles = [k for k in sets if k != "as drawn"]
                row["styles mean"] = f"{statistics.mean(float(row[k]) for k in styles):.2f}"
                row["train s"] = f"{statistics.mean(r['seconds'] for r in runs):.1f}"
                print(row, flush=True)
                rows.append(row)
            print(table(rows, list(rows[0])), flush=True)


if __name__ == "__main__":
    main()
