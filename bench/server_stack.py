"""The app's HTTP server under 16 clients: uvicorn on uvloop and httptools (what it picks by itself
when they are installed, as requirements.txt asks) against asyncio's loop and h11 (what it falls
back to without them), side by side in one invocation, no training.

    python bench/server_stack.py [--clients 16] [--seconds 15] [--repeats 2]

Each variant is the app in its own process (as tests/test_load.py launches it, shipped checkpoints),
the fallback made by hiding uvloop and httptools from that process; the clients are
tests/load_client.py in another. Variants alternate, --repeats times each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
import numpy as np
from common import header, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from load_client import drawn_digit, run_clients  # noqa: E402

VARIANTS = {"uvloop + httptools": [], "asyncio + h11 (fallback)": ["uvloop", "httptools"]}
SERVER = """
import sys, time
from pathlib import Path
for name in sys.argv[2:]:
    sys.modules[name] = None  # as if not installed: uvicorn's "auto" then picks asyncio / h11
sys.path.insert(0, {tests!r})
from app_helpers import launch
demo, url = launch(Path(sys.argv[1]))
print(url, flush=True)
time.sleep(3600)
"""


def serve(blocked: list[str], runs: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(tests=str(ROOT / "tests")), str(runs), *blocked],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("http"):
            return proc, line.strip()
    proc.kill()
    raise RuntimeError("the app did not start")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    header("The app's HTTP server stack under load")
    tmp = Path(tempfile.mkdtemp())
    digit = drawn_digit(tmp / "digit.png")
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, blocked in VARIANTS.items():
            proc, url = serve(blocked, tmp / "runs")
            try:
                r = run_clients(url, digit, ROOT / "examples" / "truck.png", args.clients, args.seconds)
            finally:
                proc.kill()
                proc.wait()
            ms = np.array([dt for _, dt in r["latencies"]]) * 1000
            results[name].append(
                {
                    "requests_per_s": len(ms) / args.seconds,
                    "p50": float(np.percentile(ms, 50)),
                    "p95": float(np.percentile(ms, 95)),
                    "errors": len(r["errors"]),
                }
            )
            print(name, results[name][-1], flush=True)
    base = statistics.median(r["requests_per_s"] for r in results["asyncio + h11 (fallback)"])
    rows = []
    for name, rs in results.items():
        rate = statistics.median(r["requests_per_s"] for r in rs)
        rows.append(
            {
                "server": name,
                "runs": len(rs),
                "requests/s (median)": f"{rate:.1f}",
                "p50 ms (median)": f"{statistics.median(r['p50'] for r in rs):.0f}",
                "p95 ms (median)": f"{statistics.median(r['p95'] for r in rs):.0f}",
                "errors": sum(r["errors"] for r in rs),
                "requests/s vs fallback": f"{rate / base:.2f}",
            }
        )
    print(f"{args.clients} clients for {args.seconds:.0f} s each (tests/load_client.py), no training")
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
