"""Narrower MnistFastNets for the CPU (issue 35): the fast MNIST recipe with other widths, batch sizes
or lengths, each against mnist_fast as it is, in one invocation, for several seeds.

    python bench/mnist_widths.py '{"widths": [16, 48, 96]}' '{"widths": [16, 32, 64], "epochs": 1.0}' --seeds 0 1 2

Each argument is a JSON object: "widths" (the three blocks' channels) and "head" (the logits' scale)
build the net; any other key is a Recipe field that replaces mnist_fast's. Every run trains through
the project's engine with its default hold-out (5,000 images for the temperature), as the CLI's
default does, and is tested once at its end; 'seconds' is the training time the checkpoint would
record (the CPU mode's choice included). Exploration for a new CPU default: a variant that wins here
becomes a named model and recipe of its own (the shipped checkpoint is an mnist_fast)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics

import common  # noqa: F401  (sets the data directory)
from common import header, table

from cnn.data import load_dataset
from cnn.models import registry
from cnn.training import train
from cnn.training.recipes import get_recipe

BASE = {"widths": [16, 64, 128], "head": 0.5}  # mnist_fast's own


def run(variant: dict, name: str, data, seed: int) -> tuple[float, float, str]:
    """(test accuracy, training seconds, arithmetic) of one seeded run of `variant`."""
    c = {**BASE, **variant}
    spec = registry.MODELS["mnist_fast"]
    kwargs = (("widths", tuple(c.pop("widths"))), ("head_scale", c.pop("head")))
    registry.MODELS[name] = dataclasses.replace(spec, name=name, kwargs=kwargs)
    recipe = get_recipe("mnist_fast").replace(name=name, model=name, **c)
    precision, last = "", None
    for ev in train(recipe, data, seed=seed, log_every=10**9, evaluate_each_epoch=False):
        precision = getattr(ev, "precision", precision) if ev.kind == "start" else precision
        last = ev if ev.kind == "epoch" else last
    return last.test_accuracy, last.train_seconds, precision


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("variants", nargs="+", help="JSON objects (see the docstring)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args(argv)
    header("narrower MnistFastNets against mnist_fast, to 99% on the CPU")
    data = load_dataset("mnist")
    rows = []
    for k, text in enumerate(["{}", *args.variants]):
        accs, secs, precision = [], [], ""
        for seed in args.seeds:
            acc, s, precision = run(json.loads(text), f"mnist_variant{k}", data, seed)
            accs.append(acc)
            secs.append(s)
            print(f"  {text or 'mnist_fast'} seed {seed}: {acc:.4f} in {s:.1f} s", flush=True)
        rows.append(
            {
                "variant": "mnist_fast as it is (baseline)" if k == 0 else text,
                "arithmetic": precision,
                "accuracy per seed (%)": " / ".join(f"{a * 100:.2f}" for a in accs),
                "lowest (%)": f"{min(accs) * 100:.2f}",
                "seconds per seed": " / ".join(f"{s:.1f}" for s in secs),
                "median s": f"{statistics.median(secs):.1f}",
            }
        )
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
