"""The seed table in docs/cli.md: every seed model trained with its own recipe through the CLI.

    python bench/seed_results.py [--recipes seed002 seed004 ...] [--out-dir checkpoints/runs/seeds]

Each run is `python -m cnn.train --recipe NAME --out ...`; its test accuracy and training time
come from the checkpoint it wrote, beside the figure the tutorial reported (SEEDS.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401
from common import header, table

from cnn.checkpoint import read_metadata
from cnn.training.recipes import RECIPES

SEEDS = [n for n in RECIPES if n.startswith("seed")]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", nargs="+", default=SEEDS, choices=SEEDS)
    p.add_argument("--out-dir", default="checkpoints/runs/seeds")
    args = p.parse_args(argv)
    header("seed recipes, trained through the CLI")
    rows = []
    for name in args.recipes:
        out = Path(args.out_dir) / f"{name}.safetensors"
        cmd = [sys.executable, "-m", "cnn.train", "--recipe", name, "--quiet", "--out", str(out)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"{name} failed:\n{r.stderr[-2000:]}", flush=True)
            continue
        meta = read_metadata(out)
        rec = RECIPES[name]
        row = {
            "recipe": name,
            "model": rec.model,
            "data": rec.dataset,
            "epochs": rec.epochs,
            "test accuracy": f"{meta['test_accuracy']:.2%}",
            "train s": meta["train_seconds"],
            "wall s": round(wall, 1),
            "device": meta["device"],
            "tutorial reported": rec.reported,
        }
        rows.append(row)
        print(f"{name}: {row['test accuracy']} in {row['train s']} s", flush=True)
    print(
        table(
            rows,
            ["recipe", "model", "data", "epochs", "test accuracy", "train s", "wall s", "device", "tutorial reported"],
        )
    )


if __name__ == "__main__":
    main()
