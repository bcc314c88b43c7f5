"""The app's training run against the command line's, side by side in one invocation: the same
recipe and data, trained by `python -m cnn.train` and by the app with a headless chromium page
open on the Train tab (Start clicked, the page watched until the result shows).

    python bench/app_vs_cli.py [--recipe mnist_fast] [--train-subset N] [--test-subset N]
                               [--epochs E] [--repeats 3] [--pin-fp32] [--busy-loop]
                               [--threads adaptive,fixed]

Prints, for each: the wall time (CLI: the process from start to exit; app: Start clicked to the
result on the page), the training time the checkpoint records, training images/s, the arithmetic
the run chose (cnn.training.cpu_mode times the candidates at its start, as a user's run does;
--pin-fp32 pins both to fp32 channels-last), the thread counts its steps ran on (cnn.cpu_share),
and the ratio to the first CLI row. The runs alternate, so drift in the machine's load hits all
alike. --threads fixed turns the thread governor off ($CNN_ADAPT_THREADS=0: every run keeps the
process's thread count, as before it existed); "adaptive,fixed" runs both, alternating.
--busy-loop keeps one busy-looping process beside every run (what a software-rendered browser or
any other program does to the CPU). For the app it also prints what the page's live updates
cost, in CPU seconds (which other load on the machine does not change much): the browser's
processes, and the server's threads other than the training thread. Needs Debian's chromium and
Playwright (as tests/test_browser.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: F401
from common import header, table

from cnn.checkpoint import read_metadata
from cnn.training import cpu_mode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import chromium_processes  # noqa: E402
from app_helpers import launch  # noqa: E402
from chromium_processes import cpu_seconds as _cpu  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_cpu() -> float:
    """CPU seconds of every chromium process under this one (Playwright's driver starts them)."""
    return sum(_cpu(f"/proc/{pid}/stat") for pid in chromium_processes.ours())


def server_cpu(exclude_native_id: int | None) -> float:
    """CPU seconds of this process's threads, the training thread left out."""
    total = 0.0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != exclude_native_id:
            total += _cpu(f"/proc/self/task/{tid}/stat")
    return total


def images_per_s(meta: dict, n_train: int) -> float:
    """Training images per second over the whole run, from what its checkpoint records."""
    epochs = float(meta["epochs_completed"])
    return n_train * epochs / float(meta["train_seconds"])


PIN = "import cnn.training.cpu_mode as m; m.candidates = lambda: [m.DEFAULT]"  # fp32 channels-last


def threads_used(meta: dict) -> str:
    """'2: 100%' or '1: 80%, 2: 20%': the share of the run's steps on each thread count."""
    steps = {k: v for k, v in meta.get("cpu_threads", {}).items() if v}
    total = sum(steps.values()) or 1
    return ", ".join(f"{k}: {v / total:.0%}" for k, v in steps.items()) or "-"


@contextlib.contextmanager
def busy_loop(on: bool):
    """One busy-looping process while the block runs (when `on`)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def cli_run(args, out_dir: Path) -> dict:
    out = out_dir / f"cli-{time.time_ns()}.safetensors"
    train = (
        ["-m", "cnn.train"]
        if not args.pin_fp32
        else [
            "-c",
            f"import runpy, sys; {PIN}; sys.argv[0] = 'cnn.train'; runpy.run_module('cnn.train', run_name='__main__')",
        ]
    )
    cmd = [sys.executable, *train, "--recipe", args.recipe, "--out", str(out), "--quiet"]
    for flag, value in (
        ("--train-subset", args.train_subset),
        ("--test-subset", args.test_subset),
        ("--epochs", args.epochs),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    meta = read_metadata(out)
    return {
        "wall": wall,
        "train": float(meta["train_seconds"]),
        "meta": meta,
        "acc": meta["test_accuracy"],
        "precision": meta["precision"],
    }


def app_run(args, page, demo) -> dict:
    page.locator("#recipe input").click()
    page.get_by_role("option", name=args.recipe, exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#recipe input').value === {args.recipe!r}")
    for elem, value in (("train-subset", args.train_subset), ("test-subset", args.test_subset)):
        if value is not None:
            box = page.locator(f"#{elem} textarea, #{elem} input").first
            if not box.is_visible():
                page.get_by_text("Quick run: train on part of the data").click()
            box.fill(str(value))
    if args.epochs is not None:
        page.locator("#epochs input").fill(str(args.epochs))
    before = demo.runs.current
    t0, browser0 = time.perf_counter(), browser_cpu()
    page.locator("#start-btn").click()
    while demo.runs.current is before:
        time.sleep(0.01)
    run = demo.runs.current  # its result names its checkpoint, which holds the run's id
    trainer = next(t for t in threading.enumerate() if t.name == f"train-{run.id}").native_id
    server0 = server_cpu(trainer)
    page.wait_for_function(
        f"() => document.querySelector('#train-result').innerText.includes({run.id!r})", timeout=1_800_000
    )
    wall = time.perf_counter() - t0
    browser, server = browser_cpu() - browser0, server_cpu(trainer) - server0
    assert run.status == "finished", run.message
    meta = read_metadata(run.checkpoint)
    return {
        "wall": wall,
        "train": float(meta["train_seconds"]),
        "meta": meta,
        "acc": meta["test_accuracy"],
        "precision": meta["precision"],
        "browser": browser,
        "server": server,
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="mnist_fast")
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--pin-fp32",
        action="store_true",
        help="train both in fp32 channels-last (default: each run times the CPU modes and picks)",
    )
    p.add_argument(
        "--threads",
        default="adaptive",
        help="adaptive (cnn.cpu_share's governor), fixed ($CNN_ADAPT_THREADS=0), or both: adaptive,fixed",
    )
    p.add_argument("--busy-loop", action="store_true", help="a busy-looping process beside every run")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.pin_fp32:  # the app's runs, in this process, as PIN does for the CLI's
        cpu_mode.candidates = lambda: [cpu_mode.DEFAULT]
    from playwright.sync_api import sync_playwright

    header("the app's training run against the command line's")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    work = Path(tempfile.mkdtemp(prefix="app-vs-cli-"))
    demo, url = launch(work / "runs")
    variants = args.threads.split(",")
    results = {(v, side): [] for v in variants for side in ("cli", "app")}
    try:
        with sync_playwright() as pw, busy_loop(args.busy_loop):
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Train").click()
            for _ in range(args.repeats):
                for v in variants:  # read by each run, the CLI's and the app's (cnn.cpu_share)
                    os.environ["CNN_ADAPT_THREADS"] = "0" if v == "fixed" else "1"
                    results[(v, "cli")].append(cli_run(args, work))
                    results[(v, "app")].append(app_run(args, page, demo))
            browser.close()
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()
    n_train = demo.runs.current.data.train.images.shape[0]
    print(
        f"recipe {args.recipe}, {n_train:,} training images, repeats {args.repeats}, "
        f"{'one busy-looping process beside every run' if args.busy_loop else 'no extra load'}"
    )
    print(
        table(
            summary_rows(results, n_train),
            [
                "threads",
                "run",
                "wall s (median)",
                "training s",
                "images/s",
                "wall vs first",
                "images/s vs first",
                "arithmetic",
                "threads used (steps)",
                "test accuracy",
            ],
        )
    )
    print(page_costs([r for (v, side), rs in results.items() if side == "app" for r in rs]))


def page_costs(app: list[dict]) -> str:
    """The page's live updates, per app run: the browser's CPU and the server's outside training."""

    def each(key: str, fmt: str) -> str:
        return ", ".join(format(r[key], fmt) for r in app)

    return (
        f"the page's live updates, per app run: browser CPU s {each('browser', '.1f')}; server CPU s "
        f"outside the training thread {each('server', '.1f')} (over {each('wall', '.0f')} s)"
    )


def summary_rows(results: dict, n_train: int) -> list[dict]:
    """One row per (threads variant, side): medians, and ratios to the first row."""
    rows, base = [], {}
    for (variant, name), runs in results.items():
        label = {"cli": "python -m cnn.train", "app": "app + headless chromium"}[name]
        wall = statistics.median(r["wall"] for r in runs)
        train = statistics.median(r["train"] for r in runs)
        ips = statistics.median(images_per_s(r["meta"], n_train) for r in runs)
        base.setdefault("wall", wall), base.setdefault("ips", ips)
        rows.append(
            {
                "threads": variant,
                "run": label,
                "wall s (median)": f"{wall:.1f}",
                "training s": f"{train:.1f}",
                "images/s": f"{ips:,.0f}",
                "wall vs first": f"{wall / base['wall']:.2f}",
                "images/s vs first": f"{ips / base['ips']:.2f}",
                "arithmetic": ", ".join(sorted({r["precision"] for r in runs})),
                "threads used (steps)": "; ".join(threads_used(r["meta"]) for r in runs),
                "test accuracy": ", ".join(f"{r['acc']:.4f}" for r in runs),
            }
        )
    return rows


if __name__ == "__main__":
    main()
