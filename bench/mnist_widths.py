"""Narrower MnistFastNets for the CPU (issue 35): the fast MNIST recipe with other widths, batch sizes
or lengths, or a named recipe, each against mnist_fast as it is, in one invocation, for several seeds.

    python bench/mnist_widths.py '{"widths": [16, 48, 96]}' '{"widths": [16, 32, 64], "epochs": 1.0}' --seeds 0 1 2
    python bench/mnist_widths.py mnist_small '{"recipe": "mnist_small", "epochs": 0.9}' --seeds 0 1 2

Each argument is a recipe's name or a JSON object: "recipe" (the named recipe it starts from,
mnist_fast if left out), "widths" (the three blocks' channels) and "head" (the logits' scale) build
the net from that recipe's model; any other key is a Recipe field that replaces the recipe's. Every
run trains through the project's engine with its default hold-out (5,000 images for the
temperature), as the CLI's default does, and is tested once at its end; 'seconds' is the training
time the checkpoint would record (the CPU mode's choice included), and images/s the images trained
over those seconds. A variant that wins here becomes a named model and recipe of its own (the
shipped checkpoint is an mnist_fast): mnist_small came from here."""

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


def variant_recipe(variant: dict, name: str):
    """The recipe a variant asks for: its named recipe (mnist_fast) with its changes; other widths or
    another head register a model of their own, `name`."""
    c = dict(variant)
    base = get_recipe(c.pop("recipe", "mnist_fast"))
    net = {k: c.pop(k) for k in ("widths", "head") if k in c}
    if net:
        spec = registry.MODELS[base.model]
        kwargs = dict(spec.kwargs)
        kwargs.update({"widths": tuple(net["widths"])} if "widths" in net else {})
        kwargs.update({"head_scale": net["head"]} if "head" in net else {})
        registry.MODELS[name] = dataclasses.replace(spec, name=name, kwargs=tuple(kwargs.items()))
        c["model"] = name
    return base.replace(name=name, **c) if c else base


def run(variant: dict, name: str, data, seed: int) -> tuple[float, float, float, str]:
    """(test accuracy, training seconds, images/s, arithmetic) of one seeded run of `variant`."""
    recipe = variant_recipe(variant, name)
    start, last = None, None
    for ev in train(recipe, data, seed=seed, log_every=10**9, evaluate_each_epoch=False):
        start = ev if ev.kind == "start" else start
        last = ev if ev.kind == "epoch" else last
    images = start.n_train * start.epochs
    return last.test_accuracy, last.train_seconds, images / last.train_seconds, start.precision


def parse_variant(text: str) -> dict:
    return json.loads(text) if text.lstrip().startswith("{") else {"recipe": text}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("variants", nargs="+", help="recipe names or JSON objects (see the docstring)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args(argv)
    header("narrower MnistFastNets against mnist_fast, to 99% on the CPU")
    data = load_dataset("mnist")
    rows = []
    for k, text in enumerate(["{}", *args.variants]):
        accs, secs, rates, precision = [], [], [], ""
        for seed in args.seeds:
            acc, s, rate, precision = run(parse_variant(text), f"mnist_variant{k}", data, seed)
            accs.append(acc)
            secs.append(s)
            rates.append(rate)
            print(
                f"  {text if k else 'mnist_fast'} seed {seed}: {acc:.4f} in {s:.1f} s ({rate:,.0f} images/s)",
                flush=True,
            )
        rows.append(
            {
                "variant": "mnist_fast as it is (baseline)" if k == 0 else text,
                "arithmetic": precision,
                "accuracy per seed (%)": " / ".join(f"{a * 100:.2f}" for a in accs),
                "lowest (%)": f"{min(accs) * 100:.2f}",
                "seconds per seed": " / ".join(f"{s:.1f}" for s in secs),
                "median s": f"{statistics.median(secs):.1f}",
                "images/s (median)": f"{statistics.median(rates):,.0f}",
                "vs baseline": f"{float(rows[0]['median s']) / statistics.median(secs):.1f}x" if rows else "1.0x",
            }
        )
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
