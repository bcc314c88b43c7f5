"""Which arithmetic trains a recipe's model fastest on this CPU: each mode cnn.training.cpu_mode tries
(fp32 channels-last, the baseline; fp32 in PyTorch's default layout; bf16 channels-last where the
CPU has native bf16), timed on real batches in turns, and the mode the engine would choose.

    python bench/cpu_modes.py [--recipes mnist_fast cifar10_small] [--rounds 10]

A step here is a forward and backward pass of the recipe's model on one batch of the recipe's
size (the optimizer's update, the same in every mode, is left out); the fastest of --rounds.
"""

from __future__ import annotations

import argparse

import common  # noqa: F401
import torch
import torch.nn.functional as F
from common import header, recipe_batch, table

from cnn.training import cpu_mode


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", nargs="+", default=["mnist_fast", "cifar10_small"])
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args(argv)
    header("training step time per arithmetic mode on this CPU")
    torch.set_flush_denormal(True)  # as the engine does on the CPU
    rows = []
    for name in args.recipes:
        recipe, x, y, model = recipe_batch(name)
        times = cpu_mode.step_seconds(cpu_mode.copies_in_each_mode(model), x, y, F.cross_entropy, rounds=args.rounds)
        # the engine's own choice, timed again its way (at most 64 images, 3 rounds)
        chosen, _ = cpu_mode.fastest_cpu_mode((name,), model, x, y, F.cross_entropy)
        base = times[cpu_mode.DEFAULT]
        for mode, s in times.items():
            rows.append(
                {
                    "recipe": name,
                    "model": recipe.model,
                    "batch": recipe.batch_size,
                    "mode": str(mode) + (" (baseline)" if mode == cpu_mode.DEFAULT else ""),
                    "ms/step": f"{s * 1000:.1f}",
                    "images/s": f"{recipe.batch_size / s:,.0f}",
                    "speed vs baseline": f"{base / s:.2f}x",
                    "engine's choice": "yes" if mode == chosen else "",
                }
            )
    print(
        table(rows, ["recipe", "model", "batch", "mode", "ms/step", "images/s", "speed vs baseline", "engine's choice"])
    )


if __name__ == "__main__":
    main()
