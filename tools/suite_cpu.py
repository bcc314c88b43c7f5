"""Where the suite's time goes: for each test, its wall seconds and the CPU seconds the whole machine
spent meanwhile (/proc/stat: the app's server, chromium's processes, any subprocess), as a pytest
plugin, and a summary of what it wrote (docs/testing.md, "The suite's time").

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


def machine_busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all cores together (Linux /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def output() -> Path:
    return Path(os.environ.get("SUITE_CPU_OUT", DEFAULT_OUT))


def pytest_sessionstart(session):
    """Each run writes its profile anew (a run's rows are never added to an earlier run's)."""
    output().parent.mkdir(parents=True, exist_ok=True)
    output().write_text("")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, busy = time.monotonic(), machine_busy_seconds()
    yield
    row = {"id": item.nodeid, "wall": time.monotonic() - start, "cpu": machine_busy_seconds() - busy}
    with output().open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def summary(rows: list[dict], top: int = 30) -> str:
    """The totals, the modules by wall time and the `top` slowest tests, as text."""
    wall, cpu = sum(r["wall"] for r in rows), sum(r["cpu"] for r in rows)
    lines = [f"{len(rows)} tests: {wall:.0f} s wall, {cpu:.0f} CPU-s ({cpu / max(wall, 1e-9):.2f} cores busy)"]
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
