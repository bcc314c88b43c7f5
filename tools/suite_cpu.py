"""Where the suite's time goes: for each test, its wall seconds and the CPU seconds the whole machine
spent meanwhile (/proc/stat: the app's server, chromium's processes, any subprocess), as a pytest
plugin, with the whole run's wall and CPU seconds, and a summary of what it wrote (docs/testing.md,
"The suite's time"). With pytest-xdist's workers (-n 2), a test's CPU includes the other workers'.

    python -m pytest -p tools.suite_cpu tests          # writes .scratch/suite_cpu.jsonl anew (or $SUITE_CPU_OUT)
    python tools/suite_cpu.py [.scratch/suite_cpu.jsonl] [--top 30]

A test's figures include its fixtures' set-up and tear-down (a module's app and browser count in the
module's first and last test). The CPU seconds are the machine's, so run it on a quiet machine: on 2
cores a test can show up to 2 CPU-s a second, and one near 1 waits or runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / ".scratch" / "suite_cpu.jsonl"
RUN_START = pytest.StashKey[tuple]()


def machine_busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all cores together (Linux /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def output() -> Path:
    return Path(os.environ.get("SUITE_CPU_OUT", DEFAULT_OUT))


def is_worker(config) -> bool:
    """Whether this process is a pytest-xdist worker (the controller starts and ends the run)."""
    return hasattr(config, "workerinput")


def pytest_sessionstart(session):
    """Each run writes its profile anew (a run's rows are never added to an earlier run's)."""
    if is_worker(session.config):
        return
    output().parent.mkdir(parents=True, exist_ok=True)
    output().write_text("")
    session.config.stash[RUN_START] = time.monotonic(), machine_busy_seconds()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, busy = time.monotonic(), machine_busy_seconds()
    yield
    row = {"id": item.nodeid, "wall": time.monotonic() - start, "cpu": machine_busy_seconds() - busy}
    row["worker"] = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with output().open("a") as fh:  # (appended lines: two workers' rows never mix)
        fh.write(json.dumps(row) + "\n")


def pytest_sessionfinish(session):
    """The whole run's row: its wall and the machine's CPU seconds, and how many workers ran the tests."""
    if is_worker(session.config) or RUN_START not in session.config.stash:
        return
    start, busy = session.config.stash[RUN_START]
    workers = getattr(session.config.option, "numprocesses", None) or 1
    row = {"run": workers, "wall": time.monotonic() - start, "cpu": machine_busy_seconds() - busy}
    with output().open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def summary(rows: list[dict], top: int = 30) -> str:
    """The totals, the modules by wall time and the `top` slowest tests, as text."""
    runs = [r for r in rows if "run" in r]
    rows = [r for r in rows if "run" not in r]
    wall, cpu = sum(r["wall"] for r in rows), sum(r["cpu"] for r in rows)
    summed = " summed over the workers" if any(r["run"] > 1 for r in runs) else ""
    lines = [f"{len(rows)} tests{summed}: {wall:.0f} s wall, {cpu:.0f} CPU-s ({cpu / max(wall, 1e-9):.2f} cores busy)"]
    for run in runs:
        lines.append(
            f"the run, {run['run']} worker(s): {run['wall']:.0f} s wall, {run['cpu']:.0f} CPU-s of the machine "
            f"({run['cpu'] / max(run['wall'], 1e-9):.2f} cores busy)"
            + ("; a test's CPU-s include what the other workers spent meanwhile" if run["run"] > 1 else "")
        )
    workers: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for r in rows:
        workers[r.get("worker", "main")][0] += r["wall"]
        workers[r.get("worker", "main")][1] += 1
    if len(workers) > 1:  # how evenly the workers were loaded
        lines.append("; ".join(f"{w}: {n} tests, {t:.0f} s" for w, (t, n) in sorted(workers.items())))
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for r in rows:
        m = modules[r["id"].split("::")[0]]
        m[0], m[1], m[2] = m[0] + r["wall"], m[1] + r["cpu"], m[2] + 1
    lines.append("\nmodules by wall time:   wall s   CPU-s  cores  tests")
    for name, (w, c, n) in sorted(modules.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {name:<48} {w:7.1f} {c:7.1f} {c / max(w, 1e-9):6.2f} {n:6d}")
    lines.append(f"\nthe {top} slowest tests:   wall s   CPU-s")
    for r in sorted(rows, key=lambda r: -r["wall"])[:top]:
        lines.append(f"  {r['wall']:7.1f} {r['cpu']:7.1f}  {r['id']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
    print(summary(rows, args.top))


if __name__ == "__main__":
    main()
