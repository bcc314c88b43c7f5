"""Predictions while the app trains: 16 clients' latency, and the training throughput lost while
they are served and won back after, for each way the training run can give way
(cnn.cpu_share's priorities), side by side in one invocation.

    python bench/serving_under_training.py [--priorities none,yield,threads,both] [--clients 16]
                                           [--seconds 30] [--quiet 10] [--repeats 1] [--runs 1]

One app in this process (the shipped checkpoints, as tests/test_load.py launches it). For each
priority ($CNN_SERVING_PRIORITY, read when a run starts) a fresh run trains mnist_fast on 10,000
MNIST images: `--quiet` seconds alone, then `--seconds` with the clients (tests/load_client.py, in another
process: Gradio's HTTP API called for /predict_digit and /predict_photo in turn),
then `--quiet` seconds alone again. A first row, "no training", has the clients alone. Training
images/s per phase are the steps the runs made in it (all of them); latencies are each request's,
client side. `--runs N`: N runs train at once (the app launched with --max-runs N, each run on its
share of the cores), as a class's queue has them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
import numpy as np
from common import header, table

from cnn.cpu_share import PRIORITIES
from cnn.runs import RunConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from app_helpers import launch  # noqa: E402
from load_client import drawn_digit, run_clients  # noqa: E402

BATCH = 64


def clients(url: str, digit: Path, n: int, seconds: float) -> dict:
    return run_clients(url, digit, ROOT / "examples" / "truck.png", n, seconds)


def steps_now(runs) -> tuple[float, int]:
    return time.perf_counter(), sum(run.steps[-1].step if run.steps else 0 for run in runs)


def rate(a: tuple[float, int], b: tuple[float, int]) -> float:
    return (b[1] - a[1]) * BATCH / (b[0] - a[0])


def one(demo, url: str, digit: Path, priority: str | None, args) -> dict:
    """A row: the clients' latencies, with a run at `priority` (None: no run) and its images/s."""
    row = {"priority": priority or "no training"}
    runs = []
    if priority is not None:
        os.environ["CNN_SERVING_PRIORITY"] = priority
        config = RunConfig("mnist", "mnist_fast", "mnist_fast", 100, BATCH, 0.05, "sgd", 10000, 500)
        runs = [demo.runs.start(config, owner=f"bench-{k}") for k in range(args.runs)]  # (not pages: never unwatched)
        for run in runs:
            while len(run.steps) < 3:  # past its start-up
                run.wait(run.version, 1)
                assert not run.done, run.message
        t0 = steps_now(runs)
        time.sleep(args.quiet)
        t1 = steps_now(runs)
    result = clients(url, digit, args.clients, args.seconds)
    if runs:
        t2 = steps_now(runs)
        time.sleep(args.quiet)
        t3 = steps_now(runs)
        ended = [run.message for run in runs if run.done]
        assert not ended, f"a run ended during the benchmark (give it more epochs): {ended}"
        demo.runs.stop()
        demo.runs.wait_idle(60)
        before, during, after = rate(t0, t1), rate(t1, t2), rate(t2, t3)
        row.update(
            {
                "images/s before": f"{before:,.0f}",
                "during": f"{during:,.0f} ({during / before:.2f}x)",
                "after": f"{after:,.0f} ({after / before:.2f}x)",
            }
        )
    ms = np.array([dt for _, dt in result["latencies"]]) * 1000
    row.update(
        {
            "requests": len(ms),
            "errors": len(result["errors"]),
            **{f"p{q} ms": f"{np.percentile(ms, q):.0f}" for q in (50, 95, 99)},
        }
    )
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--priorities", default="none,yield,threads,both")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--quiet", type=float, default=10)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--runs", type=int, default=1, help="runs training at once (the app's --max-runs)")
    p.add_argument("--no-baseline", action="store_true", help="leave out the row without training")
    args = p.parse_args(argv)
    priorities = args.priorities.split(",")
    assert all(q in PRIORITIES for q in priorities), f"priorities are {PRIORITIES}"
    header("predictions while the app trains")
    work = Path(tempfile.mkdtemp(prefix="serving-"))
    digit = drawn_digit(work / "digit.png")
    demo, url = launch(work / "runs", "--max-runs", str(args.runs))
    rows = []
    try:
        clients(url, digit, 2, 3)  # the first requests load the models and export ONNX: not timed
        if not args.no_baseline:
            rows.append(one(demo, url, digit, None, args))
        for _ in range(args.repeats):
            rows += [one(demo, url, digit, q, args) for q in priorities]
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(60)
        demo.close()
    print(
        f"{args.clients} clients for {args.seconds:g} s (tests/load_client.py, another process, loopback); "
        f"training: {args.runs} run(s) at once of mnist_fast, 10,000 MNIST images, batch {BATCH}, "
        f"{args.quiet:g} s before and after"
    )
    print(
        table(
            rows, ["priority", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "images/s before", "during", "after"]
        )
    )
    print(
        f"load average at the end: {os.getloadavg()[0]:.2f}; median of the rows' p95: "
        f"{statistics.median(float(r['p95 ms']) for r in rows):.0f} ms"
    )


if __name__ == "__main__":
    main()
