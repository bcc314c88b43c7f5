"""GPU benchmark: the project's engine against airbench94 (CIFAR-10) and seed004 (MNIST), in one
process on one GPU, plus the cold start of the command-line trainer.

    python bench/gpu_speed.py --airbench-data DIR [--runs 5] [--out DIR]

DIR holds cifar10/{train,test}.pt, the layout airbench.CifarLoader reads (what
../shared/tools/device_pack.py unpack builds); the engine reads the same images from the data
directory ($CNN_DATA_DIR/cifar10/{train,test}/<class>/*). Every timed figure is a wall-clock time
with the GPU synchronised at both ends:
- CIFAR-10 'seconds' runs from the call to a trained model *and* its final test-time-augmented
  evaluation, for airbench (train94 + evaluate(tta_level=2)) and the engine (train, which ends
  with that evaluation) alike. Both get one warm-up run first; their runs then alternate.
- MNIST 'seconds' is training time with evaluations left out (the engine's train_seconds).
- '--cli' runs commands in fresh processes (bench/cold_start.py, python -m cnn.train, torchrun)
  and reports each one's whole wall time and the line its engine printed.
A recipe may carry overrides: 'mnist_fast:epochs=1,batch_size=256'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table

from cnn.data import load_dataset
from cnn.hardware import describe
from cnn.training import train
from cnn.training.recipes import get_recipe

RESULTS: dict = {}


def parse_recipe(spec: str):
    """'name' or 'name:key=value,key=value' -> a Recipe with those settings changed."""
    name, _, rest = spec.partition(":")
    recipe = get_recipe(name)
    changes = {}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=")
        kind = type(getattr(recipe, key))
        if kind is bool:
            changes[key] = value.lower() in ("1", "true", "yes")
        elif kind in (int, float):
            changes[key] = int(value) if key in ("batch_size", "crop_pad") else float(value)
        else:
            changes[key] = value
    return recipe.replace(**changes)


DEVICE = "cuda"


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn):
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - t0


def engine_run(recipe, data, seed: int, *, log_every=None, each_epoch=False, cuda_graphs=True) -> dict:
    events = {"step": 0}

    def go():
        end = None
        for ev in train(
            recipe,
            data,
            device=DEVICE,
            seed=seed,
            log_every=log_every,
            evaluate_each_epoch=each_epoch,
            cuda_graphs=cuda_graphs,
            calibration_holdout=0,
        ):  # all 50,000 images, as airbench94 trains on
            events[ev.kind] = events.get(ev.kind, 0) + 1
            if ev.kind == "start":  # images trained on: full batches only when the recipe drops the last
                events["images"] = ev.total_steps * ev.batch_size if recipe.drop_last else round(ev.epochs * ev.n_train)
            if ev.kind == "end":
                end = ev
        return end

    end, wall = timed(go)
    hist = end.history
    to99 = next((e.train_seconds for e in hist if e.test_accuracy is not None and e.test_accuracy >= 0.99), None)
    return {
        "wall": wall,
        "train_s": hist[-1].train_seconds,
        "acc": end.test_accuracy,
        "status": end.status,
        "step_events": events["step"],
        "to_0.99_s": to99,
        "images": events["images"],
    }


def summary(name: str, runs: list[dict], key: str) -> dict:
    accs = [r["acc"] for r in runs]
    secs = [r[key] for r in runs]
    return {
        "recipe": name,
        "device": describe(torch.device(DEVICE)),
        "runs": len(runs),
        "seconds (mean)": f"{statistics.mean(secs):.3f}",
        "seconds (min-max)": f"{min(secs):.3f}-{max(secs):.3f}",
        "accuracy (mean)": f"{statistics.mean(accs):.4f}",
        "accuracy (min-max)": f"{min(accs):.4f}-{max(accs):.4f}",
        # training images per second of training time (evaluations left out), mean over the runs
        "images/s": f"{statistics.mean(r['images'] / r['train_s'] for r in runs):,.0f}",
    }


# ---------------------------------------------------------------- MNIST


def bench_mnist(args) -> None:
    data = load_dataset("mnist")
    engine_run(parse_recipe("mnist_fast:epochs=0.2"), data, 0)  # CUDA, cuDNN and allocator warm-up
    base = engine_run(parse_recipe(args.mnist_baseline), data, 0, log_every=10**9, each_epoch=True)
    print(f"baseline {args.mnist_baseline}: {base}", flush=True)
    rows = [
        {
            **summary(f"{args.mnist_baseline} (baseline)", [base], "train_s"),
            "to 99.0% (s)": f"{base['to_0.99_s']:.3f}" if base["to_0.99_s"] else "not reached",
            "ratio": "1.0x",
        }
    ]
    RESULTS["mnist"] = {args.mnist_baseline: base}
    for spec in args.mnist:
        recipe = parse_recipe(spec)
        print(f"warm-up {spec}:", engine_run(recipe, data, 100, log_every=10**9), flush=True)  # cuDNN picks kernels
        runs = [engine_run(recipe, data, seed, log_every=10**9) for seed in range(args.runs)]
        print(spec, runs, flush=True)
        RESULTS["mnist"][spec] = runs
        row = summary(spec, runs, "train_s")
        ok = min(r["acc"] for r in runs) >= 0.99
        t = statistics.mean(r["train_s"] for r in runs)
        row["to 99.0% (s)"] = f"{t:.3f}" if ok else "not in every run"
        row["ratio"] = f"{base['to_0.99_s'] / t:.1f}x" if ok and base["to_0.99_s"] else "-"
        rows.append(row)
    print(f"\n## MNIST on {DEVICE} (seconds: training time, evaluations left out)")
    print(
        table(
            rows,
            [
                "recipe",
                "device",
                "runs",
                "seconds (mean)",
                "seconds (min-max)",
                "accuracy (mean)",
                "accuracy (min-max)",
                "images/s",
                "to 99.0% (s)",
                "ratio",
            ],
        ),
        flush=True,
    )


# ---------------------------------------------------------------- CIFAR-10


@contextlib.contextmanager
def cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def bench_cifar(args) -> None:
    import airbench
    from airbench import lib_airbench94 as ab94

    data = load_dataset("cifar10")
    with cwd(args.airbench_data):  # airbench reads ./cifar10/{train,test}.pt
        loader = airbench.CifarLoader(
            "cifar10", train=True, batch_size=1024, aug=dict(flip=True, translate=2), altflip=True
        )
        test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)
    # train94 runs ceil(batches per epoch * its epochs) full batches (airbench's utils.train)
    ab_images = math.ceil(len(loader) * ab94.hyp["opt"]["train_epochs"]) * loader.batch_size

    def airbench_run(seed: int) -> dict:
        torch.manual_seed(seed)
        with cwd(args.airbench_data):
            model, t_train = timed(lambda: airbench.train94(loader, verbose=False))
            acc, t_eval = timed(lambda: airbench.evaluate(model, test_loader, tta_level=2))
        return {"wall": t_train + t_eval, "train_s": t_train, "eval_s": t_eval, "acc": acc, "images": ab_images}

    first = args.cifar[0]
    variants = {
        f"{first} (live curve)": (first, dict()),
        f"{first} (no step events)": (first, dict(log_every=10**9)),
        f"{first} (live curve, no CUDA graph)": (first, dict(cuda_graphs=False)),
        **{f"{spec} (live curve)": (spec, dict()) for spec in args.cifar[1:]},
    }
    if args.quick:  # only what the streaming-overhead comparison needs
        variants = dict(list(variants.items())[:2])
    recipes = {spec: parse_recipe(spec) for spec in args.cifar}
    print("warm-up:", airbench_run(100), [engine_run(r, data, 100) for r in recipes.values()], flush=True)
    runs = {"airbench94 (baseline)": [], **{k: [] for k in variants}}
    for seed in range(args.runs):  # alternate, so drift in the GPU's clocks hits both alike
        runs["airbench94 (baseline)"].append(airbench_run(seed))
        for name, (spec, kw) in variants.items():
            runs[name].append(engine_run(recipes[spec], data, seed, **kw))
        print(f"run {seed}:", {k: v[-1] for k, v in runs.items()}, flush=True)
    RESULTS["cifar10"] = runs
    print_cifar(runs)


CIFAR_COLUMNS = (
    "recipe|device|runs|seconds (mean)|seconds (min-max)|train only (mean s)|accuracy (mean)|accuracy (min-max)|"
    "images/s|time vs airbench94"
).split("|")


def print_cifar(runs: dict) -> None:
    """The CIFAR-10 table: each variant's seconds, accuracy and time against airbench94."""
    base = statistics.mean(r["wall"] for r in runs["airbench94 (baseline)"])
    rows = []
    for name, rs in runs.items():
        row = summary(name, rs, "wall")
        row["train only (mean s)"] = f"{statistics.mean(r['train_s'] for r in rs):.3f}"
        row["time vs airbench94"] = f"{statistics.mean(r['wall'] for r in rs) / base:.3f}"
        rows.append(row)
    print("\n## CIFAR-10 on the GPU (seconds: call to trained and evaluated model, TTA included)")
    print(
        table(
            rows,
            CIFAR_COLUMNS,
        ),
        flush=True,
    )


# ---------------------------------------------------------------- command-line runs


def cli(args, name: str, argv: list[str], log) -> dict:
    """Run a command in a fresh process; its whole wall time and its last lines."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=args.cli_timeout)
    wall = time.perf_counter() - t0
    log.write(f"\n$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr[-3000:]}\n(exit {proc.returncode}, {wall:.2f} s)\n")
    log.flush()
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    row = {
        "run": name,
        "exit": proc.returncode,
        "process seconds": f"{wall:.2f}",
        "last line": lines[-1] if lines else proc.stderr[-200:].strip(),
    }
    finished = [line for line in lines if line.startswith("Finished:")]
    row["engine says"] = finished[-1] if finished else ""
    print(row, flush=True)
    return row


def bench_cli(args) -> None:
    out = Path(args.out)
    py = [sys.executable, "-m", "cnn.train", "--quiet"]
    rows = []
    with open(out / "cli.log", "a") as log:
        for spec in args.cli:
            name, _, extra = spec.partition("=")
            argv = extra.split() if extra.startswith(("python3 ", "torchrun ")) else py + extra.split()
            argv[0] = sys.executable if argv[0] == "python3" else argv[0]
            rows.append(cli(args, name, argv, log))
    RESULTS["cli"] = rows
    print(
        "\n## Fresh processes (cold start: interpreter, imports, CUDA, data from the disk cache, "
        "training, evaluation, saving)"
    )
    print(table(rows, ["run", "exit", "process seconds", "engine says", "last line"]), flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--airbench-data", required=True, help="folder with cifar10/{train,test}.pt")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument(
        "--cifar",
        nargs="+",
        default=["cifar10_fast"],
        help="the engine's CIFAR-10 recipes; the first is also run without step events and without CUDA graphs",
    )
    p.add_argument("--mnist", nargs="*", default=["mnist_fast"], help="MNIST recipes")
    p.add_argument(
        "--mnist-baseline",
        default="seed004:epochs=6",
        help="evaluated after every epoch: its time to 99.0%% is the yardstick",
    )
    p.add_argument("--cli", nargs="*", default=[], help="NAME=ARGV runs of cnn.train in fresh processes")
    p.add_argument("--cli-timeout", type=float, default=300)
    p.add_argument("--sections", default="mnist,cifar,cli")
    p.add_argument("--quick", action="store_true", help="CIFAR-10: only the first recipe, with and without step events")
    p.add_argument("--out", default=".")
    p.add_argument("--device", default="cuda", help="cpu only to try the script out (no airbench)")
    args = p.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    args.airbench_data = os.path.abspath(args.airbench_data)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    header("GPU training speed: the engine against airbench94 and seed004, same process")
    if "cifar" in args.sections:
        import airbench

        print(f"airbench from {airbench.__file__}", flush=True)
    data_t0 = time.perf_counter()
    for name in ("cifar10", "mnist"):  # decoded once into the disk cache, not timed below
        if name[:5] in args.sections or "cli" in args.sections:
            load_dataset(name)
    print(f"data loaded (and cached) in {time.perf_counter() - data_t0:.1f} s", flush=True)
    for section in args.sections.split(","):
        try:
            {"mnist": bench_mnist, "cifar": bench_cifar, "cli": bench_cli}[section](args)
        except Exception:
            traceback.print_exc()
            RESULTS[f"{section}_error"] = traceback.format_exc()
        with open(Path(args.out) / "results.json", "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)


if __name__ == "__main__":
    main()
