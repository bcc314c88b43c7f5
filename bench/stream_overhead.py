"""What streaming the live loss curve costs: training throughput with the app's event consumer
versus with no Step events at all, same recipe, same data, same run.

    python bench/stream_overhead.py [--recipe mnist_fast] [--epochs 1] [--repeats 2]

The consumer does what the app's Train tab does with each Step event: appends a point to the
curve and rebuilds the plot's table of points. Its own work is also timed directly, as a share of
each streaming run's training time: on a VM whose runs spread by 10-15%, that share is the figure
the images/s ratio cannot resolve.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401
from common import header, table

from cnn.data import load_dataset
from cnn.training import train
from cnn.training.recipes import get_recipe


def throughput(recipe, data, streaming: bool) -> tuple[float, int, float]:
    """(images/s, Step events, the consumer's share of the training time)."""
    points, n_events, consumer_s = [], 0, 0.0
    log_every = None if streaming else 10**9
    for ev in train(recipe, data, log_every=log_every, evaluate_each_epoch=False):
        if ev.kind == "step":
            t = time.perf_counter()
            n_events += 1
            points.append({"step": ev.step, "epoch": ev.epoch, "loss": ev.loss})
            _plot_table = [dict(p) for p in points]  # what a gr.LinePlot update receives
            consumer_s += time.perf_counter() - t
        elif ev.kind == "end":
            secs = ev.history[-1].train_seconds
    return len(data.train) * recipe.epochs / secs, n_events, consumer_s / secs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="mnist_fast")
    p.add_argument("--epochs", type=float, default=1)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    header("cost of streaming the live curve")
    recipe = get_recipe(args.recipe).replace(epochs=args.epochs)
    data = load_dataset(recipe.dataset)
    runs = {True: [], False: []}
    events, shares = 0, []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for streaming in (False, True):
            ips, n, share = throughput(recipe, data, streaming)
            runs[streaming].append(ips)
            events = max(events, n)
            if streaming:
                shares.append(share)
    base = statistics.median(runs[False])
    rows = [
        {"mode": "no events", "images/s (median)": f"{base:,.0f}", "Step events": 0, "ratio": "1.000"},
        {
            "mode": "streaming to a consumer",
            "images/s (median)": f"{statistics.median(runs[True]):,.0f}",
            "Step events": events,
            "ratio": f"{statistics.median(runs[True]) / base:.3f}",
        },
    ]
    print(table(rows, ["mode", "images/s (median)", "Step events", "ratio"]))
    print(
        f"overhead: {(1 - statistics.median(runs[True]) / base) * 100:.1f}% of throughput "
        f"(runs: {[round(x) for x in runs[False]]} vs {[round(x) for x in runs[True]]})"
    )
    print(
        "the consumer's own work, timed: "
        + ", ".join(f"{x * 100:.3f}%" for x in shares)
        + " of each streaming run's training time"
    )


if __name__ == "__main__":
    main()
