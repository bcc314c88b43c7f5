"""What one change in the layer editor costs on the server: ui.design_editor.answer, everything an
edit sends back (the design parsed, the table as a DataFrame, the picture, the PyTorch code, the JSON
view and the edit row), for a 30-layer design, beside the design's own work alone (cnn.models:
parse, table rows, picture, code) in the same invocation, interleaved. The issue's bound: p95
under 100 ms on this CPU. The page's round trip adds Gradio's own (a few ms on loopback).

    python bench/design_editor_ui.py [--layers 30] [--repeats 300]
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401
from common import header, table

from cnn.models import parse
from ui import design_editor


def design_of(n: int) -> list:
    """n layers: blocks of Conv2d, BatchNorm2d, ReLU (a MaxPool2d every few), then the classifier."""
    layers, k = [], 0
    while len(layers) < n - 3:
        layers += [{"layer": "Conv2d", "out_channels": 16 + 8 * (k % 4), "kernel_size": 3, "padding": 1}]
        layers += [{"layer": "BatchNorm2d"}, {"layer": "ReLU"}]
        if k in (1, 3):
            layers.append({"layer": "MaxPool2d", "kernel_size": 2})
        k += 1
    layers = layers[: n - 3] + [{"layer": "Flatten"}, {"layer": "Linear", "out_features": 64}, {"layer": "Linear"}]
    return layers


def core_only(design: list) -> None:
    d = parse(design, (1, 28, 28), 10)
    d.table(), d.picture(), d.pytorch_code(), d.to_json()


def editor_update(design: list) -> None:
    design_editor.answer(design, 3, "MNIST", 64)


def p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    header(f"Layer editor: one update of a {args.layers}-layer design")
    design = design_of(args.layers)
    assert len(design) == args.layers
    sides = {
        "cnn.models (parse, table, picture, code)": core_only,
        "editor update (design_editor.answer)": editor_update,
    }
    times = {name: [] for name in sides}
    for fn in sides.values():
        fn(design)  # imports and caches
    for _ in range(args.repeats):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn(design)
            times[name].append((time.perf_counter() - t0) * 1000)
    rows = [
        {
            "side": name,
            "median ms": f"{statistics.median(ts):.1f}",
            "p95 ms": f"{p(ts, 0.95):.1f}",
            "max ms": f"{max(ts):.1f}",
            "under 100 ms (p95)": "yes" if p(ts, 0.95) < 100 else "NO",
        }
        for name, ts in times.items()
    ]
    print(table(rows, ["side", "median ms", "p95 ms", "max ms", "under 100 ms (p95)"]))


if __name__ == "__main__":
    main()
