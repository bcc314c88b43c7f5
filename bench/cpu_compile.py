"""Does torch.compile (Inductor's C++ backend) train the CPU recipes faster, compile time counted?
Issue 35 asks to measure it with the compile inside the figure, since a learner waits for it too.

    python bench/cpu_compile.py [--recipes mnist_fast mnist_small] [--steps 60]

For each recipe, its model trains on real batches of its size in the arithmetic the engine would
choose (cnn.training.cpu_mode), with its optimizer (SGD, Nesterov momentum, weight decay): eagerly,
then with the forward and loss compiled (the backward follows through AOTAutograd), once with an
empty Inductor cache (a first run: the compile a learner would wait for) and once with the cache
that run left (a later process on the same machine). 'to train' is what the recipe's whole run
would take at that pace: the compile plus its steps.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import common  # noqa: F401
from common import header, table


def measure(recipe_name: str, compiled: bool, steps: int) -> dict:
    """In this process: seconds of the first step (a compiled one compiles in it) and ms a step."""
    import torch
    import torch.nn.functional as F
    from common import recipe_batch

    from cnn.data.sources import NAMED_TRAIN_IMAGES
    from cnn.training import cpu_mode
    from cnn.training.calibrate import holdout_size

    torch.set_flush_denormal(True)
    recipe, x, y, model = recipe_batch(recipe_name)
    mode, _ = cpu_mode.fastest_cpu_mode((recipe_name,), model, x, y, F.cross_entropy)
    if mode.channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def loss_of(xb, yb):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode.bf16):
            return F.cross_entropy(model(xb).float(), yb, label_smoothing=recipe.label_smoothing)

    forward = torch.compile(loss_of) if compiled else loss_of

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        forward(x, y).backward()
        opt.step()

    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - t) / steps
    full = NAMED_TRAIN_IMAGES[recipe.dataset]
    n_train = full - holdout_size(full, None)  # the training images less the default hold-out
    run_steps = math.ceil(n_train * recipe.epochs / recipe.batch_size)
    return {"mode": str(mode), "first": first, "ms": per_step * 1e3, "run_steps": run_steps}


def child(recipe: str, compiled: bool, steps: int, cache: str) -> dict:
    """measure() in a process of its own, with this Inductor cache directory."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
    code = f"import cpu_compile as b; print(repr(b.measure({recipe!r}, {compiled}, {steps})))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=os.path.dirname(__file__), capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    import ast

    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", nargs="+", default=["mnist_fast", "mnist_small"])
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args(argv)
    header("torch.compile against eager training on this CPU, compile time counted")
    rows = []
    for name in args.recipes:
        with tempfile.TemporaryDirectory() as cache:
            runs = [
                ("eager (baseline)", child(name, False, args.steps, cache)),
                ("compiled, empty cache", child(name, True, args.steps, cache)),
                ("compiled, cache kept", child(name, True, args.steps, cache)),
            ]
        base = None
        for label, r in runs:
            total = (r["first"] if label != runs[0][0] else 0) + r["ms"] / 1e3 * r["run_steps"]
            base = base or total
            rows.append(
                {
                    "recipe": name,
                    "how": label,
                    "arithmetic": r["mode"],
                    "first step (s)": f"{r['first']:.1f}",
                    "ms/step": f"{r['ms']:.1f}",
                    "steps a run": r["run_steps"],
                    "to train (s)": f"{total:.1f}",
                    "vs eager": f"{base / total:.2f}x",
                }
            )
            print(f"  {name} {label}: first {r['first']:.1f} s, {r['ms']:.1f} ms/step", flush=True)
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
