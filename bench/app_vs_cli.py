"""The app's training run against the command line's, side by side in one invocation: the same
recipe and data, trained by `python -m cnn.train` and by the app with a headless chromium page
open on the Train tab (Start clicked, the page watched until the result shows).

    python bench/app_vs_cli.py [--recipe mnist_fast] [--train-subset N] [--test-subset N]
                               [--epochs E] [--repeats 1]

Prints, for each: the wall time (CLI: the process from start to exit; app: Start clicked to the
result on the page), the training time the checkpoint records, training images/s, and the app's
ratio to the CLI. The runs alternate, so drift in the machine's load hits both alike. Needs
Debian's chromium and Playwright (as tests/test_browser.py).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
from common import header, table

from cnn.checkpoint import read_metadata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from app_helpers import launch  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def images_per_s(meta: dict, n_train: int) -> float:
    """Training images per second over the whole run, from what its checkpoint records."""
    epochs = float(meta["epochs_completed"])
    return n_train * epochs / float(meta["train_seconds"])


def cli_run(args, out_dir: Path) -> dict:
    out = out_dir / f"cli-{time.time_ns()}.safetensors"
    cmd = [sys.executable, "-m", "cnn.train", "--recipe", args.recipe, "--out", str(out), "--quiet"]
    for flag, value in (("--train-subset", args.train_subset), ("--test-subset", args.test_subset),
                        ("--epochs", args.epochs)):
        if value is not None:
            cmd += [flag, str(value)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    meta = read_metadata(out)
    return {"wall": wall, "train": float(meta["train_seconds"]), "meta": meta, "acc": meta["test_accuracy"]}


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
    t0 = time.perf_counter()
    page.locator("#start-btn").click()
    while demo.runs.current is before:
        time.sleep(0.01)
    run = demo.runs.current  # its result names its checkpoint, which holds the run's id
    page.wait_for_function(f"() => document.querySelector('#train-result').innerText.includes({run.id!r})",
                           timeout=1_800_000)
    wall = time.perf_counter() - t0
    assert run.status == "finished", run.message
    meta = read_metadata(run.checkpoint)
    return {"wall": wall, "train": float(meta["train_seconds"]), "meta": meta, "acc": meta["test_accuracy"]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="mnist_fast")
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright
    header("the app's training run against the command line's")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    work = Path(tempfile.mkdtemp(prefix="app-vs-cli-"))
    demo, url = launch(work / "runs")
    results = {"cli": [], "app": []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Train").click()
            for _ in range(args.repeats):
                results["cli"].append(cli_run(args, work))
                results["app"].append(app_run(args, page, demo))
            browser.close()
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()
    n_train = demo.runs.current.data.train.images.shape[0]
    rows, base = [], {}
    for name, label in (("cli", "python -m cnn.train"), ("app", "app + headless chromium")):
        wall = statistics.median(r["wall"] for r in results[name])
        train = statistics.median(r["train"] for r in results[name])
        ips = statistics.median(images_per_s(r["meta"], n_train) for r in results[name])
        base.setdefault("wall", wall), base.setdefault("ips", ips)
        rows.append({"run": label, "wall s (median)": f"{wall:.1f}", "training s": f"{train:.1f}",
                     "images/s": f"{ips:,.0f}", "wall vs CLI": f"{wall / base['wall']:.2f}",
                     "images/s vs CLI": f"{ips / base['ips']:.2f}",
                     "test accuracy": ", ".join(f"{r['acc']:.4f}" for r in results[name])})
    print(f"recipe {args.recipe}, {n_train:,} training images, repeats {args.repeats}")
    print(table(rows, ["run", "wall s (median)", "training s", "images/s", "wall vs CLI", "images/s vs CLI",
                       "test accuracy"]))


if __name__ == "__main__":
    main()
