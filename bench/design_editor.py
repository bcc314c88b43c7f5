"""The design editor's update for a 30-layer design: parse and check it, its table, picture, PyTorch
code, JSON and short name (what the page redraws on every change), against a baseline that gets
the shapes the usual way: build the model and run a forward pass with hooks (cnn.models.summary).

    python bench/design_editor.py [--repeats 200] [--layers 30]

Bound (issue 23): the update's p95 under 100 ms on this CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401
from common import header, table

from cnn.models import parse
from cnn.models.summary import format_table

BOUND_MS = 100


def design(n_layers: int) -> list:
    """A CIFAR-sized net of n_layers top-level layers: conv blocks with batch norm, residuals and
    pooling, then a two-layer classifier."""
    block = [
        {"layer": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1, "bias": False},
        {"layer": "BatchNorm2d"},
        {"layer": "ReLU"},
        {
            "layer": "Residual",
            "layers": [
                {"layer": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
                {"layer": "GELU"},
            ],
        },
        {"layer": "MaxPool2d", "kernel_size": 2, "ceil_mode": True},
    ]
    head = [
        {"layer": "Flatten"},
        {"layer": "Dropout", "p": 0.2},
        {"layer": "Linear", "out_features": 64},
        {"layer": "ReLU"},
        {"layer": "Linear"},
    ]
    body = []
    while len(body) + len(head) < n_layers:
        body += block
    return body[: n_layers - len(head)] + head


def editor_update(layers: list) -> int:
    d = parse(layers, (3, 32, 32), 10)
    return len(d.table()) + len(d.picture()) + len(d.pytorch_code()) + len(d.to_json()) + len(d.summary())


def forward_pass_table(layers: list) -> int:
    d = parse(layers, (3, 32, 32), 10)
    return len(format_table(d.build(), (3, 32, 32)))


def timings(fn, layers: list, repeats: int) -> dict:
    for _ in range(3):
        fn(layers)
    ms = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(layers)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return {"p50 ms": f"{statistics.median(ms):.2f}", "p95 ms": f"{ms[int(0.95 * (len(ms) - 1))]:.2f}"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--layers", type=int, default=30)
    args = p.parse_args()
    header("The design editor's update (parse, table, picture, code, JSON, name)")
    layers = design(args.layers)
    d = parse(layers, (3, 32, 32), 10)
    print(f"design: {len(layers)} layers ({len(d.rows)} with the Residuals' own), {d.params:,} parameters")
    rows = []
    for name, fn, repeats in (
        ("editor update (arithmetic, no forward pass)", editor_update, args.repeats),
        ("baseline: table from build + forward pass", forward_pass_table, max(10, args.repeats // 10)),
    ):
        rows.append({"what": name, "repeats": repeats, **timings(fn, layers, repeats)})
    print(table(rows, ["what", "repeats", "p50 ms", "p95 ms"]))
    p95 = float(rows[0]["p95 ms"])
    print(f"editor update p95 {p95:.2f} ms: {'within' if p95 < BOUND_MS else 'OVER'} the {BOUND_MS} ms bound")


if __name__ == "__main__":
    main()
