"""What the size checks before a model is built cost (cnn.models.registry: a ready-made model is
first built on the meta device to count its parameters, once per shape; that count alone, uncached,
is timed too), side by side with building it unchecked, alternating, in one process; and loading
the shipped checkpoints (metadata and header shapes checked before the weights are read) against
building and reading them unchecked.

    python bench/bounds_cost.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from cnn.checkpoint import load_checkpoint, read_metadata  # noqa: E402
from cnn.models import MODELS, build_model, get_spec  # noqa: E402
from cnn.models.registry import ready_made_parameters  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def side_by_side(label: str, checked, unchecked, repeats: int) -> None:
    checked(), unchecked()  # warm: first-call costs out of the way
    a = b = 0.0
    rounds = 3
    for _ in range(rounds):  # alternating, so that a change in the machine's load hits both
        a += median_ms(checked, repeats) / rounds
        b += median_ms(unchecked, repeats) / rounds
    print(f"{label:<34} checked {a:8.2f} ms   unchecked {b:8.2f} ms   ratio {a / b:5.2f}", flush=True)


def unchecked_load(path: Path):
    meta = read_metadata(path)
    spec, (c, h, _) = get_spec(meta["architecture"]), meta["input_shape"]
    model = spec.builder(c, len(meta["classes"]), h, **dict(spec.kwargs))
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, median of {args.repeats} x 3 alternating rounds")
    for name, spec in MODELS.items():
        c, h, _ = spec.input_shape
        side_by_side(
            f"build {name}",
            lambda name=name: build_model(name),
            lambda spec=spec, c=c, h=h: spec.builder(c, 10, h, **dict(spec.kwargs)),
            args.repeats,
        )
        count = median_ms(lambda name=name, c=c, h=h: ready_made_parameters.__wrapped__(name, c, h, 10), args.repeats)
        print(f"{'':<34} its parameters counted on the meta device, uncached: {count:6.2f} ms", flush=True)
    for ckpt in ("mnist", "cifar10"):
        path = ROOT / "checkpoints" / f"{ckpt}.safetensors"
        side_by_side(
            f"load checkpoints/{ckpt}.safetensors",
            lambda path=path: load_checkpoint(path),
            lambda path=path: unchecked_load(path),
            args.repeats,
        )


if __name__ == "__main__":
    main()
