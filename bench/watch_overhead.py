"""What the Train tab's live panel costs ("watch it learn": 16 fixed test images with the model's
current guesses, and the first convolution's filters, at every epoch end and every few seconds):
training throughput with and without it, same recipe, same data, interleaved runs.

    python bench/watch_overhead.py [--recipe mnist_fast] [--epochs 1] [--repeats 3] [--every S]

Both sides consume the Step events as the app does. The watched side also takes the snapshots
(cnn.training.Watch, every S seconds, default the app's cnn.runs.executor.WATCH_EVERY_S) and renders
each one as the page does (the HTML panel and the filter picture, ui/run_view.py) in the training
thread itself, so its whole cost lands in the measured time (in the app the rendering runs in the
page's request thread instead). Throughput is training images over wall-clock seconds from Start
to End (the final test evaluation is the same on both sides and included in both). A first run,
not counted, pays the process's one-time costs (the CPU arithmetic choice). Besides the ratio, the
seconds spent taking and rendering the snapshots are timed directly: on a busy machine the
throughput of two runs differs by more than the panel costs, and the direct share does not.
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401
from common import header, table

from cnn.data import load_dataset
from cnn.runs import Run, RunConfig
from cnn.runs.executor import WATCH_EVERY_S
from cnn.runs.keeping import panel
from cnn.training import Watch, train
from cnn.training.recipes import get_recipe
from ui import run_view


class TimedWatch(Watch):
    """A Watch that adds up the seconds its snapshots take."""

    seconds = 0.0

    def take(self, trainer):
        t = time.perf_counter()
        try:
            return super().take(trainer)
        finally:
            self.seconds += time.perf_counter() - t


def throughput(recipe, data, every: float | None) -> tuple[float, int, float, float]:
    """(images/s, snapshots, seconds taking and rendering them, wall seconds) of one run; every
    None: no panel."""
    run = Run(
        "bench",
        RunConfig(
            recipe.dataset, recipe.model, recipe.name, recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer
        ),
        None,
        "bench",
        data=data,
    )
    watch = None
    if every is not None:
        run.panel_images, run.panel_labels = panel(data.test, len(data.classes))
        watch = TimedWatch(run.panel_images, every)
    points, render_s, t0 = [], 0.0, None
    for ev in train(recipe, data, evaluate_each_epoch=False, watch=watch):
        if ev.kind == "start":
            t0 = time.perf_counter()
        elif ev.kind == "step":
            points.append({"step": ev.step, "epoch": ev.epoch, "loss": ev.loss})
        elif ev.kind == "snapshot":
            t = time.perf_counter()
            run.snapshot, run.snapshots = ev, run.snapshots + 1
            run_view.live_panel_html(run), run_view.filters_image(run)
            render_s += time.perf_counter() - t
        elif ev.kind == "end":
            wall = time.perf_counter() - t0
    spent = render_s + (watch.seconds if watch is not None else 0.0)
    return len(data.train) * recipe.epochs / wall, run.snapshots, spent, wall


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="mnist_fast")
    p.add_argument("--epochs", type=float, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--every", type=float, default=WATCH_EVERY_S, help="seconds between snapshots within an epoch")
    args = p.parse_args(argv)
    header("cost of the live panel (watch it learn)")
    recipe = get_recipe(args.recipe).replace(epochs=args.epochs)
    data = load_dataset(recipe.dataset)
    throughput(recipe, data, None)  # one-time costs, not counted
    runs = {False: [], True: []}
    snaps, share = 0, []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for watched in (False, True):
            ips, n, spent, wall = throughput(recipe, data, args.every if watched else None)
            runs[watched].append(ips)
            if watched:
                snaps, share = max(snaps, n), share + [spent / wall]
    base, live = statistics.median(runs[False]), statistics.median(runs[True])
    rows = [
        {"mode": "no panel", "images/s (median)": f"{base:,.0f}", "snapshots": 0, "ratio": "1.000"},
        {
            "mode": f"live panel (every {args.every:g} s and each epoch end)",
            "images/s (median)": f"{live:,.0f}",
            "snapshots": snaps,
            "ratio": f"{live / base:.3f}",
        },
    ]
    print(table(rows, ["mode", "images/s (median)", "snapshots", "ratio"]))
    print(
        f"throughput cost: {(1 - live / base) * 100:.1f}% (runs: {[round(x) for x in runs[False]]} without, "
        f"{[round(x) for x in runs[True]]} with)"
    )
    print(
        f"time taking and rendering the snapshots: {statistics.median(share) * 100:.2f}% of each watched run "
        f"(median; per run {[f'{x * 100:.2f}%' for x in share]})"
    )


if __name__ == "__main__":
    main()
