"""Teach it your own classes with photos: a photos project of 12 images per class (10 learned from),
fine-tuned from the shipped CIFAR-10 model and trained from scratch, side by side.

    python bench/teach_photos.py --task cifar   # cat / dog / horse from CIFAR-10's test images
    python bench/teach_photos.py --task digits  # MNIST digits 0 / 1 / 7 as colour photos (a new domain)

The CIFAR task is optimistic for fine-tuning (the shipped model was trained on those classes, though
not on these images); the digits task is one its features were not made for. Each model is scored
on 100 fresh images per class, prepared as the Photo tab prepares a photo.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

import common  # noqa: F401  (sets the data directory)
from common import header, table

from cnn.data import Split, load_dataset
from cnn.data.normalize import Normalizer
from cnn.evaluation import evaluate
from cnn.projects import FINE_TUNE_FROM, Project, plan, prepare
from cnn.serving.render import to_pil
from cnn.training import train

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cifar": ("cifar10", ["cat", "dog", "horse"]), "digits": ("mnist", ["0", "1", "7"])}


def photos(task: str) -> dict[str, list[Image.Image]]:
    """112 images per class (12 for the project, 100 fresh), as RGB photos of 64x64."""
    source, names = TASKS[task]
    test = load_dataset(source, train=False).test
    classes = load_dataset(source, train=False).classes
    out = {}
    for name in names:
        idx = (test.labels == classes.index(name)).nonzero().flatten()[:112]
        out[name] = [to_pil(test.images[i]).convert("RGB").resize((64, 64), Image.Resampling.BICUBIC) for i in idx]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=list(TASKS), default="cifar")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    header(f"Teach it your own classes: photos ({args.task})")
    images = photos(args.task)
    fresh = Split(torch.stack([prepare("photos", im)[0] for ims in images.values() for im in ims[12:]]),
                  torch.tensor([k for k, ims in enumerate(images.values()) for _ in ims[12:]]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create("Photos", "photos", data_dir=tmp)
        for name, ims in images.items():
            project.add_class(name)
            for i, im in enumerate(ims[:12]):
                added = project.add_example(name, im)
                added.rename(added.with_name(f"{i:02d}.png"))  # a fixed held-out share
        for label, init in (("fine-tune (default)", ROOT / FINE_TUNE_FROM["photos"]), ("from scratch", None)):
            p = plan(project.path, init)
            end = [ev for ev in train(p.recipe, p.data, device="cpu", init_state=p.init_state, log_every=10**9)][-1]
            norm = end.metadata["normalization"]
            acc = evaluate(end.model.cpu(), fresh, Normalizer(norm["mean"], norm["std"], "cpu", 3), len(images),
                           torch.device("cpu"), tta_flip=p.recipe.flip).accuracy
            steps = round(p.recipe.epochs * -(-len(p.data.train) // p.recipe.batch_size))
            rows.append({"variant": label, "model": p.recipe.model, "steps": steps,
                         "fresh test accuracy": f"{acc:.2%}", "held-out": f"{end.test_accuracy:.2%}",
                         "train s": f"{end.elapsed:.1f}"})
            print(rows[-1], flush=True)
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
