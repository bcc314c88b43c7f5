"""Does the photo model gain from the new augmentation on photo-like uploads (issue 32)? CIFAR-10 test
images made into what people upload, each through the Photo tab's own preparation
(cnn.serving.photos.prepare_photo: centre crop to a square, resize to 32 x 32):
  resized  a small, low-resolution photo: down to 16 x 16, scaled back up by prepare_photo;
  jpeg     saved as a JPEG of quality 25;
  cropped  a 4:3 off-centre crop of 70-90% of the side (prepare_photo crops that to a square);
  all      cropped, then down to 24 x 24 and a JPEG of quality 50.
Each is fixed (seeded per image) and split as the drawing styles are: test images 0-4,999 ("tune")
are where a spec would be chosen, 5,000-9,999 ("held") are only reported; nothing is chosen here, so
only the held half is scored, the plain test images' too.

First the shipped checkpoint (its own test pass, test-time augmentation included); then the same
quick run (cifar10_small's recipe on --train images for --epochs, seed 0) per augmentation spec.

    bash bench/log_run.sh docs/benchmarks/cpu/photo_uploads.log python bench/photo_uploads.py
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import numpy as np
import torch
from common import header, table
from PIL import Image

from cnn.checkpoint import load_checkpoint
from cnn.cli.evaluate import evaluate_split
from cnn.data import Dataset, Split, load_dataset
from cnn.data.drawing_styles import HELD
from cnn.serving.photos import prepare_photo
from cnn.training import get_recipe, train

ROOT = Path(__file__).resolve().parents[1]
SPECS = ["crop=2,flip=1", "crop=2,flip=1,blur=1", "crop=2,flip=1,blur=1,erase=0.25,colour=0.2"]


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w = im.width * rng.uniform(0.7, 0.9)
    h = w * 3 / 4
    x, y = rng.uniform(0, im.width - w), rng.uniform(0, im.height - h)
    return im.resize((128, 128), Image.BICUBIC).crop(tuple(int(v * 4) for v in (x, y, x + w, y + h)))


def uploads(images: torch.Tensor, first: int = 0) -> dict[str, torch.Tensor]:
    """Each photo-like version of the uint8 images (N x 3 x 32 x 32; the first is test image
    `first`, which seeds each image's own draw), as prepare_photo gives it."""
    out = {"resized": [], "jpeg": [], "cropped": [], "all": []}
    for i, x in enumerate(images, start=first):
        rng = np.random.default_rng(i)
        im = Image.fromarray(x.permute(1, 2, 0).numpy())
        cropped = _crop(im, rng)
        made = {
            "resized": im.resize((16, 16), Image.BILINEAR),
            "jpeg": _jpeg(im, 25),
            "cropped": cropped,
            "all": _jpeg(cropped.resize((24, 24), Image.BILINEAR), 50),
        }
        for k, v in made.items():
            out[k].append(prepare_photo(v)[0])
    return {k: torch.stack(v) for k, v in out.items()}


def scores(model, meta: dict, sets: dict, labels) -> dict:
    row = {}
    for name, x in sets.items():  # (nothing is chosen here, so only the held half is scored)
        row[f"{name} held"] = f"{100 * evaluate_split(model, meta, Split(x, labels), 'cpu').accuracy:.2f}"
    uploads_held = [float(v) for k, v in row.items() if k.endswith("held") and not k.startswith("test")]
    row["uploads mean held"] = f"{sum(uploads_held) / len(uploads_held):.2f}"
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--epochs", type=float, default=8)
    p.add_argument("--recipe", default="cifar10_small")
    p.add_argument("--specs", nargs="*", default=SPECS)
    p.add_argument("--images", type=int, default=5000, help="of the held half scored (the first ones)")
    args = p.parse_args(argv)
    header(f"photo-like uploads: the shipped CIFAR-10 model, then {args.recipe} on {args.train} images per spec")
    cifar = load_dataset("cifar10")
    held = torch.arange(10000)[HELD][: args.images]  # the first --images of the held half
    y, x = cifar.test.labels[held], cifar.test.images[held]
    sets = {"test": x, **uploads(x, int(held[0]))}
    print(f"scored on {len(held)} test images of the held half ({int(held[0])}-{int(held[-1])})", flush=True)
    model, meta = load_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors", map_location="cpu")
    rows = [{"model": "shipped cifar10_fast", "augmentation": meta.get("augment", "crop=2,flip=1"), "train s": ""}]
    rows[0].update(scores(model, meta, sets, y))
    print(rows[0], flush=True)
    data = Dataset("cifar10", cifar.classes, cifar.train.subset(args.train, seed=0), cifar.test)
    for spec in args.specs:
        recipe = get_recipe(args.recipe).replace(epochs=args.epochs).with_augment(spec)
        t0 = time.perf_counter()
        torch.manual_seed(0)
        end = list(train(recipe, data, device="cpu", seed=0, evaluate_each_epoch=False, calibration_holdout=0))[-1]
        row = {"model": f"quick {args.recipe}", "augmentation": spec, "train s": f"{time.perf_counter() - t0:.0f}"}
        row.update(scores(end.model.eval().float(), end.metadata, sets, y))
        print(row, flush=True)
        rows.append(row)
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
