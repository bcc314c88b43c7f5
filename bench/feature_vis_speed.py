"""What each channel looks for, timed: cnn.serving.feature_vis.visualise for 16 channels of each
convolution layer of the shipped models (48 steps, the app's), on the threads the app chooses (the
cores free: cnn.cpu_share.free_threads) and on one thread, side by side in one process; and the top 9
of 1,000 test images per channel (cnn.serving.feature_vis.top_images), on the app's threads.

    python bench/feature_vis_speed.py [--repeats 3] [--models mnist cifar10] [--layers N]

Log: docs/benchmarks/cpu/feature_vis_speed.log. Each figure is the median of the repeats, after one
untimed call per model (the first call pays for PyTorch's one-time set-up)."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import common
import torch

from cnn.data import load_dataset
from cnn.serving import feature_vis
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def one_thread(fn):
    """fn with feature_vis's free_threads() fixed at one thread (the app's choice before)."""

    from cnn.serving.predictor import one_thread as one

    saved = feature_vis.free_threads
    feature_vis.free_threads = one
    try:
        return fn()
    finally:
        feature_vis.free_threads = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["mnist", "cifar10"])
    ap.add_argument("--layers", type=int, default=0, help="only the first N convolution layers of each model")
    args = ap.parse_args()
    common.header(f"feature visualisation: 16 channels per layer, 48 steps; torch threads {torch.get_num_threads()}")
    rows = []
    for name in args.models:
        pred = Predictor.from_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors", backend="pytorch")
        images = load_dataset(name, train=False).test.subset(1000, seed=0).images
        layers = feature_vis.conv_layers(pred.model)
        feature_vis.visualise(pred, layers[0][0], list(range(16)), steps=4)  # untimed: set-up
        for layer, channels in layers[: args.layers or None]:
            pick = list(range(min(16, channels)))
            app = timed(lambda: feature_vis.visualise(pred, layer, pick), args.repeats)
            one = timed(lambda: one_thread(lambda: feature_vis.visualise(pred, layer, pick)), args.repeats)
            top = timed(lambda: feature_vis.top_images(pred, layer, images), args.repeats)
            rows.append(
                {
                    "model": name,
                    "layer": f"{layer} ({channels} ch)",
                    "16 pictures, the app's threads (s)": f"{app:.2f}",
                    "on 1 thread (s)": f"{one:.2f}",
                    "ratio": f"{app / one:.2f}x",
                    "top 9 of 1,000 (s)": f"{top:.2f}",
                    "within 5 s": "yes" if app + top <= 5 else "no",
                }
            )
            print(rows[-1], flush=True)
    print(common.table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
