"""A map of what a model learned, timed: the shipped models' penultimate features of 2,000 test
images (cnn.serving.embedding.penultimate) and their projection by PCA and by t-SNE (scikit-learn),
side by side in one process, with each map's 5-nearest-neighbour class agreement; and a cached map.

    python bench/feature_map_speed.py [--n 2000] [--repeats 3] [--models mnist cifar10] [--methods pca tsne]

Log: docs/benchmarks/cpu/feature_map_speed.log. Medians of the repeats (t-SNE: one run), after one
untimed call per model (PyTorch's and scikit-learn's one-time set-up)."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import common

from cnn.data import load_dataset
from cnn.serving import embedding
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["mnist", "cifar10"])
    ap.add_argument("--methods", nargs="+", default=["pca", "tsne"])
    args = ap.parse_args()
    os.environ["CNN_CACHE_DIR"] = tempfile.mkdtemp(prefix="map-bench-")  # a cold cache
    common.header(f"map of what a model learned: {args.n} test images")
    rows = []
    for name in args.models:
        path = ROOT / "checkpoints" / f"{name}.safetensors"
        pred = Predictor.from_checkpoint(path, backend="pytorch")
        split = load_dataset(name, train=False).test.subset(args.n, seed=0)
        labels = split.labels.numpy()
        embedding.project(embedding.penultimate(pred, split.images[:50])[0], "pca")  # untimed: set-up
        feats_s, (feats, _) = timed(lambda: embedding.penultimate(pred, split.images), args.repeats)
        for method in args.methods:
            repeats = 1 if method == "tsne" else args.repeats
            proj_s, coords = timed(lambda: embedding.project(feats, method), repeats)
            embedding._MEMORY.clear()
            first = time.perf_counter()
            embedding.feature_map(str(path), pred, split, name, method)
            first = time.perf_counter() - first
            embedding._MEMORY.clear()
            cached, _ = timed(
                lambda: (embedding._MEMORY.clear(), embedding.feature_map(str(path), pred, split, name, method)), 3
            )
            rows.append(
                {
                    "model": name,
                    "method": method,
                    "features (s)": f"{feats_s:.2f}",
                    "projection (s)": f"{proj_s:.2f}",
                    "map, uncached (s)": f"{first:.2f}",
                    "map, from disk cache (s)": f"{cached:.3f}",
                    "5-NN agreement": f"{embedding.knn_agreement(coords, labels):.3f}",
                    "within 10 s": "yes" if first <= 10 else "no",
                }
            )
            print(rows[-1], flush=True)
    print(common.table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
