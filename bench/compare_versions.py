"""The same benchmark on two versions of the code, interleaved, on this machine: did a change
(a refactor, say) cost speed?

    python bench/compare_versions.py --old eb12f6c --repeats 3 -- \
        train_speed.py --recipes mnist_fast --baseline seed003 --target 0.95
    python bench/compare_versions.py --old eb12f6c --repeats 3 -- inference_latency.py --calls 300

--pin-fp32 keeps both versions in fp32 channels-last (bench/pin_fp32/sitecustomize.py), so that the
timed CPU arithmetic choice cannot pick differently in different processes.

The old version is checked out (git worktree) into a temporary folder; each repeat runs the
benchmark script of the old tree, then of this tree, each in a fresh process that imports its own
tree's `cnn` first. The numeric columns of every table row the two print are collected, and the
medians over the repeats are shown side by side with their ratio (new / old).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import header, table

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")


PIN_FP32 = Path(__file__).resolve().parent / "pin_fp32"


def run(tree: Path, script_args: list[str], pin_fp32: bool = False, this_script: bool = False) -> str:
    paths = [str(tree)] + ([str(PIN_FP32)] if pin_fp32 else [])  # this tree's cnn before the installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    script = (ROOT if this_script else tree) / "bench" / script_args[0]
    out = subprocess.run(
        [sys.executable, str(script), *script_args[1:]], cwd=tree, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(script_args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def numbers(stdout: str) -> dict[tuple[str, str], float]:
    """(row name, column) -> value for every numeric cell of the markdown tables printed."""
    cells, columns = {}, None
    for line in stdout.splitlines():
        if not line.startswith("|"):
            columns = None
            continue
        parts = [p.strip() for p in line.strip("|").split("|")]
        if columns is None:
            columns = parts
        elif not set(line) <= set("|- "):
            for col, val in zip(columns[1:], parts[1:]):
                if NUMBER.match(val):
                    cells[(parts[0], col)] = float(val.replace(",", ""))
    return cells


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="git revision of the old version")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--pin-fp32",
        action="store_true",
        help="both versions train in fp32 channels-last instead of timing the CPU modes per run",
    )
    p.add_argument(
        "--this-script",
        action="store_true",
        help="run this tree's benchmark script against both versions' cnn (a script that "
        "knows both layouts, e.g. step_cost.py)",
    )
    p.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT.py [its arguments]")
    args = p.parse_args(argv)
    script = [a for a in args.script if a != "--"]
    header(f"{' '.join(script)}: {args.old} against this tree, {args.repeats} interleaved repeats")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old), args.old], cwd=ROOT, check=True, capture_output=True
        )
        try:
            runs = {"old": [], "new": []}
            for i in range(args.repeats):
                for name, tree in (("old", old), ("new", ROOT)):
                    runs[name].append(numbers(run(tree, script, args.pin_fp32, args.this_script)))
                    print(f"repeat {i + 1}: {name} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    rows = []
    for key in runs["new"][0]:
        if not all(key in r for r in runs["old"] + runs["new"]):
            continue
        o = statistics.median(r[key] for r in runs["old"])
        n = statistics.median(r[key] for r in runs["new"])
        rows.append(
            {
                "row": key[0],
                "column": key[1],
                "old (median)": f"{o:,.2f}",
                "new (median)": f"{n:,.2f}",
                "new / old": f"{n / o:.3f}" if o else "-",
                "old runs": ", ".join(f"{r[key]:,.2f}" for r in runs["old"]),
                "new runs": ", ".join(f"{r[key]:,.2f}" for r in runs["new"]),
            }
        )
    print(table(rows, ["row", "column", "old (median)", "new (median)", "new / old", "old runs", "new runs"]))


if __name__ == "__main__":
    main()
