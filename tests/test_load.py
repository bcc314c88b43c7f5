"""Load: 16 concurrent clients (tests/load_client.py, in another process) call predict_digit and
predict_photo for 15 s (or $CNN_LOAD_SECONDS) while a training run is in progress. Zero errors
allowed, every client served all along, and the training run keeps making progress. p50 and p95
latency are printed and written to .scratch/load-test.json (git-ignored), not asserted: a latency
depends on the machine and on what else runs on it, so it is measured by the benchmark
bench/serving_under_training.py, with its baseline in the same invocation (docs/performance-load.md).
Loopback only; stops by itself."""

from __future__ import annotations

import json
import os
import platform

import numpy as np
import torch
from app_helpers import ROOT, SCRATCH, launch
from load_client import drawn_digit, run_clients

CLIENTS = 16
# The clients alone are measured first, for BASELINE_SECONDS, for the report.
BASELINE_SECONDS = 5.0
SECONDS = float(os.environ.get("CNN_LOAD_SECONDS", 15))


def test_sixteen_clients_while_training(tmp_path):
    """The app (and its training run) in this process; the 16 clients in another, so that they
    do not share the server's interpreter."""
    from cnn.runs import RunConfig

    digit = drawn_digit(tmp_path / "digit.png")
    photo = ROOT / "examples" / "truck.png"

    demo, url = launch(tmp_path / "runs")

    def clients(seconds: float) -> dict:
        return run_clients(url, digit, photo, CLIENTS, seconds)

    try:
        alone = clients(BASELINE_SECONDS)  # the clients without training: what the machine gives them
        run = demo.runs.start(RunConfig("mnist", "mnist_fast", "mnist_fast", 100, 64, 0.05, "sgd", 10000, 500))
        while not run.steps:
            run.wait(run.version, 1)
            assert not run.done, run.message
        steps_before = run.steps[-1].step
        result = clients(SECONDS)
        training_throughout = not run.done
        steps_during = run.steps[-1].step - steps_before
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()

    latencies, errors = result["latencies"], result["errors"]
    assert not errors, errors[:5]
    assert training_throughout, "the training run ended before the load test did"
    assert steps_during > 0, "training made no progress under load"
    ms = np.array([dt for _, dt in latencies]) * 1000

    def pct(endpoint=None):
        v = [d * 1000 for e, d in latencies if endpoint in (None, e)]
        return {"p50_ms": round(float(np.percentile(v, 50)), 1), "p95_ms": round(float(np.percentile(v, 95)), 1)}

    alone_p95 = round(float(np.percentile([d * 1000 for _, d in alone["latencies"]], 95)), 1)
    report = {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "requests": len(ms),
        "errors": len(errors),
        "requests_per_s": round(len(ms) / SECONDS, 1),
        "fewest_per_client": min(result["per_client"]),
        **pct(),
        "max_ms": round(float(ms.max()), 1),
        "per_endpoint": {e: pct(e) for e in ("/predict_digit", "/predict_photo")},
        "p95_ms_without_training": alone_p95,
        "client_cpu_s": result["client_cpu_s"],
        "errors_without_training": len(alone["errors"]),
        "training": f"mnist_fast on MNIST (10,000 images) in the same process: {steps_during} steps during the test",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{'CUDA' if torch.cuda.is_available() else 'CPU only'}; clients on the same machine (tests/load_client.py)",
    }
    print("\nload test:", json.dumps(report))
    SCRATCH.mkdir(exist_ok=True)
    (SCRATCH / "load-test.json").write_text(json.dumps(report, indent=2) + "\n")
    assert min(result["per_client"]) >= 2, result["per_client"]  # every client got answers all along
