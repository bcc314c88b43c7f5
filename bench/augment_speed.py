"""Augmentation cost in images/s: today's hand-written batch functions, kornia.augmentation and
torchvision's transforms.v2, per transform, side by side in one invocation (issue 32).

    bash bench/log_run.sh docs/benchmarks/cpu/augment_speed.log python bench/augment_speed.py

Each candidate augments the same uint8 batch (MNIST's first 128 training images; the colour rows on
CIFAR-10's) with per-image random parameters, as training does. torchvision's v2 transforms draw one
set of parameters per call, so on a batch they would move every image alike: per-image parameters
need a call per image, which is what is timed. Median of --repeats timed calls after a warm-up, the
candidates of a transform interleaved call by call; one torch thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401  (sets the data directory)
import kornia.augmentation as K
import torch
from common import header, table
from torchvision.transforms import v2

from cnn.data import augment as A
from cnn.data import load_dataset


def per_image(t):
    return lambda x: torch.stack([t(img) for img in x])


def kornia_uint8(t):
    return lambda x: t(x.float()).round_().clamp_(0, 255).to(torch.uint8)


def candidates() -> dict:
    """transform -> {library: function of a uint8 batch}."""
    return {
        "rotate 15, zoom 0.1, shift 0.1": {
            "hand-written": lambda x: A.random_affine(x, 15, 0.1, 0.1),
            "kornia": kornia_uint8(K.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), p=1.0)),
            "torchvision v2": per_image(v2.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1))),
        },
        "crop 2 px (reflect)": {
            "hand-written": lambda x: A.random_translate(x, 2),
            "kornia": kornia_uint8(K.RandomCrop((28, 28), padding=2, padding_mode="reflect", p=1.0)),
            "torchvision v2": per_image(v2.RandomCrop(28, padding=2, padding_mode="reflect")),
        },
        "flip": {
            "hand-written": A.random_flip,
            "kornia": kornia_uint8(K.RandomHorizontalFlip(p=0.5)),
            "torchvision v2": per_image(v2.RandomHorizontalFlip()),
        },
        "stroke 1 px": {"hand-written": lambda x: A.random_stroke(x, 1)},
        "blocky 2 (1x to 3x)": {"hand-written": lambda x: A.random_blocky(x, 2)},
        "elastic 0.3": {
            "kornia": kornia_uint8(K.RandomElasticTransform(**A.elastic_args(0.3, 28), p=1.0)),
            "torchvision v2": per_image(v2.ElasticTransform(alpha=10.0, sigma=4.0)),
        },
        "blur sigma up to 1": {
            "kornia": kornia_uint8(K.RandomGaussianBlur((5, 5), (0.1, 1.0), p=1.0)),
            "torchvision v2": per_image(v2.GaussianBlur(5, (0.1, 1.0))),
        },
        "erase 0.5": {
            "kornia": kornia_uint8(K.RandomErasing(p=0.5)),
            "torchvision v2": per_image(v2.RandomErasing(p=0.5)),
        },
        "colour 0.2 (CIFAR-10)": {
            "hand-written": lambda x: A.random_colour(x, 0.2),
            "kornia": kornia_uint8(K.ColorJitter(0.2, 0.2, 0.2, p=1.0)),
            "torchvision v2": per_image(v2.ColorJitter(0.2, 0.2, 0.2)),
        },
    }


def timed(libs: dict, x, repeats: int) -> dict:
    """library -> median seconds a call, the candidates interleaved round by round, so that a
    busy spell of the shared machine falls on all of them alike."""
    for fn in libs.values():
        fn(x)  # warm-up
    times = {lib: [] for lib in libs}
    for _ in range(repeats):
        for lib, fn in libs.items():
            t = time.perf_counter()
            fn(x)
            times[lib].append(time.perf_counter() - t)
    return {lib: statistics.median(ts) for lib, ts in times.items()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: less noise on a shared machine)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    header(f"augmentation cost, batch {args.batch}, images/s (higher is better)")
    import kornia

    print(f"kornia {kornia.__version__}")
    grey = load_dataset("mnist").train.images[: args.batch]
    colour = load_dataset("cifar10").train.images[: args.batch]
    rows = []
    for name, libs in candidates().items():
        x = colour if "CIFAR" in name else grey
        speeds = {lib: args.batch / s for lib, s in timed(libs, x, args.repeats).items()}
        best = max(speeds.values())
        for lib, s in speeds.items():
            rows.append(
                {
                    "transform": name,
                    "library": lib,
                    "images/s": f"{s:,.0f}",
                    "ms/batch": f"{1000 * args.batch / s:.2f}",
                    "vs fastest": f"{s / best:.2f}",
                }
            )
    print(table(rows, ["transform", "library", "images/s", "ms/batch", "vs fastest"]))


if __name__ == "__main__":
    main()
