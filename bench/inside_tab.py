"""The Inside tab's time to fill in: the handler behind the tab (ui.inside_tab.inside) for a drawing
and a photo, in a fresh process set up as the app is when a page opens (both tabs' shipped models
loaded), without and with the app's launch warm-up (ui.inside_tab.warm, run in the background when
the app starts), side by side.

    python bench/inside_tab.py [--repeats 3]

Each case runs in a process of its own; the first view is what a person waits for when they open
the tab, the next ones when they press Show again. Log: docs/benchmarks/cpu/inside_tab.log.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parents[1]


def one_case(warm: bool, repeats: int) -> dict:
    """In this process: set up as the app, optionally warm up, then time the views."""
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from PIL import Image, ImageDraw

    from cnn.runs import RunManager
    from ui import inside_tab
    from ui.common import AppContext

    ctx = AppContext(
        RunManager(Path(tempfile.mkdtemp()), device="cpu"),
        str(ROOT / "checkpoints" / "mnist.safetensors"),
        str(ROOT / "checkpoints" / "cifar10.safetensors"),
    )
    for where, what in (("draw", "digit"), ("photo", "photo")):
        ctx.about(ctx.shipped(where), what)  # as the app's page: each tab's model is loaded
    t = time.perf_counter()
    if warm:
        inside_tab.warm(ctx)
    warm_s = time.perf_counter() - t
    im = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(300, 100), (300, 500)], fill=(0, 0, 0, 255), width=26)
    sketch = {"background": None, "layers": [im], "composite": None}
    photo = str(ROOT / "examples" / "truck.png")
    out = {"warm-up s": warm_s}
    for which in ("Drawing", "Photo"):
        times = []
        for _ in range(repeats + 1):
            t = time.perf_counter()
            inside_tab.inside(ctx, which, sketch, photo, ctx.shipped("draw"), ctx.shipped("photo"))
            times.append(time.perf_counter() - t)
        out[f"{which} first s"] = times[0]
        out[f"{which} next s"] = min(times[1:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(one_case(args.case == "warm", args.repeats)))
        return
    common.header("Inside tab: seconds to fill in (ui.inside_tab.inside), fresh process per case")
    rows = {}
    for case in ("cold", "warm"):
        r = subprocess.run(
            [sys.executable, __file__, "--case", case, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows[case] = json.loads(r.stdout.strip().splitlines()[-1])
    keys = list(rows["cold"])
    print(f"| {'':22} | {'no warm-up (before)':>20} | {'launch warm-up':>16} |")
    print(f"|{'-' * 24}|{'-' * 22}|{'-' * 18}|")
    for k in keys:
        print(f"| {k:22} | {rows['cold'][k]:20.3f} | {rows['warm'][k]:16.3f} |")


if __name__ == "__main__":
    main()
