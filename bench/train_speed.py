"""Training speed, side by side with a baseline recipe in the same run, on the same machine.

    python bench/train_speed.py --recipes mnist_fast --baseline seed004 --target 0.99
    python bench/train_speed.py --recipes cifar10_small --baseline seed001 --target 0.85

Each recipe trains through the project's one engine (cnn.training.engine.train) on the full data set and
is evaluated on the full test split after every epoch. 'seconds' is training time with the
evaluations left out; 'to target' is that time at the first epoch end at or above the target;
'ratio' is the baseline's time to target over this recipe's (higher is faster).
"""

from __future__ import annotations

import argparse

import common  # noqa: F401  (sets the data directory)
from common import header, table

from cnn.data import load_dataset
from cnn.hardware import pick_device
from cnn.training import train
from cnn.training.recipes import get_recipe


def run_recipe(name: str, data, device, target: float, epochs: float | None, seed: int) -> dict:
    recipe = get_recipe(name).replace(epochs=epochs)
    history, end = [], None
    for ev in train(recipe, data, device=device, seed=seed, log_every=10**9):
        if ev.kind == "epoch":
            history.append(ev)
            print(
                f"  {name} epoch {ev.epoch}: test accuracy {ev.test_accuracy:.4f} "
                f"after {ev.train_seconds:.1f} s of training",
                flush=True,
            )
        elif ev.kind == "end":
            end = ev
    seconds = history[-1].train_seconds
    hit = next((e for e in history if e.test_accuracy >= target), None)
    return {
        "recipe": name,
        "model": recipe.model,
        "device": str(device),
        "epochs": recipe.epochs,
        "seconds": round(seconds, 1),
        "accuracy": f"{end.test_accuracy:.4f}",
        "to_target_s": hit.train_seconds if hit else None,
        "images/s": f"{len(data.train) * recipe.epochs / seconds:,.0f}",
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", nargs="+", required=True)
    p.add_argument("--baseline", required=True, help="recipe the others are compared with")
    p.add_argument("--target", type=float, required=True, help="test accuracy to reach, e.g. 0.99")
    p.add_argument("--baseline-epochs", type=float, help="override the baseline's epochs")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = pick_device(args.device)
    header(f"training speed to {args.target:.2%} test accuracy")
    data = load_dataset(get_recipe(args.baseline).dataset)
    rows = [run_recipe(args.baseline, data, device, args.target, args.baseline_epochs, args.seed)]
    rows += [run_recipe(r, data, device, args.target, None, args.seed) for r in args.recipes]
    base = rows[0]["to_target_s"]
    for r in rows:
        t = r.pop("to_target_s")
        r["to target (s)"] = f"{t:.1f}" if t is not None else "not reached"
        if t is None:
            r["ratio"] = "-"
        elif base is None:
            r["ratio"] = f"baseline never reached the target in {rows[0]['seconds']} s"
        else:
            r["ratio"] = f"{base / t:.1f}x"
    print(
        table(
            rows, ["recipe", "model", "device", "epochs", "seconds", "to target (s)", "accuracy", "images/s", "ratio"]
        )
    )


if __name__ == "__main__":
    main()
