"""The cost of training, in CPU seconds per image, for any version of the code (old or new layout).

    python bench/compare_versions.py --old eb12f6c --repeats 6 --this-script -- step_cost.py

Wall time on a shared 2-core VM swings by 20-40% with whatever else runs; the CPU time a process
spends on one thread swings far less, so a refactor's cost shows up even when the machine is not
quiet. One torch thread, fp32 channels-last pinned (no timed choice), `mnist_fast` on full MNIST for
--epochs; the first --warmup-steps are left out (oneDNN creates its kernels there).
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (sets the data directory)
import torch
from common import header, table

try:  # the layered code (after the redesign)
    import cnn.training.cpu_mode as cpu_mode
    from cnn.training import train
    from cnn.training.recipes import get_recipe
except ImportError:  # the code before it (eb12f6c and older)
    import cnn.cpu_mode as cpu_mode
    from cnn.engine import train
    from cnn.recipes import get_recipe
from cnn.data import load_dataset


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="mnist_fast")
    p.add_argument("--epochs", type=float, default=0.4)
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="torch threads (more: wall time matters, and noise)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu_mode.candidates = lambda: [cpu_mode.DEFAULT]
    header(f"training cost of {args.recipe}, {args.threads} thread(s), fp32 channels-last")
    recipe = get_recipe(args.recipe).replace(epochs=args.epochs)
    data = load_dataset(recipe.dataset)
    marks = []  # (step, wall, cpu) at every Step event
    for ev in train(recipe, data, device=torch.device("cpu"), seed=0, log_every=10):
        if ev.kind == "step":
            marks.append((ev.step, time.perf_counter(), time.process_time()))
    first = next(m for m in marks if m[0] >= args.warmup_steps)
    last = marks[-1]
    images = (last[0] - first[0]) * recipe.batch_size
    print(
        table(
            [
                {
                    "recipe": args.recipe,
                    "steps timed": last[0] - first[0],
                    "CPU us/image": f"{1e6 * (last[2] - first[2]) / images:.1f}",
                    "wall us/image": f"{1e6 * (last[1] - first[1]) / images:.1f}",
                }
            ],
            ["recipe", "steps timed", "CPU us/image", "wall us/image"],
        )
    )


if __name__ == "__main__":
    main()
