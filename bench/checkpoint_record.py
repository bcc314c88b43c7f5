"""What a checkpoint records of the run that made it: recipe, epochs, training seconds, device,
arithmetic, date and test accuracy, read from its metadata (no weights loaded). The shipped
checkpoints' training times in docs/cli.md come from here: the run's own console output was not
kept, but the checkpoint, which is committed, wrote them down when it was saved.

    python bench/checkpoint_record.py [CHECKPOINT ...]   (default: the two shipped checkpoints)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common  # noqa: F401
from common import table

from cnn.checkpoint import read_metadata

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "checkpoints" / "mnist.safetensors", ROOT / "checkpoints" / "cifar10.safetensors"]


def record(path: Path) -> dict:
    m = read_metadata(path)
    recipe = m.get("recipe") or {}
    return {
        "checkpoint": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "model": m.get("architecture"),
        "recipe": recipe.get("name"),
        "epochs": m.get("epochs_completed"),
        "train s": m.get("train_seconds"),
        "device": m.get("device"),
        "arithmetic": m.get("precision"),
        "saved": m.get("date"),
        "test accuracy": f"{m['test_accuracy']:.2%}" if m.get("test_accuracy") is not None else None,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="*", type=Path, default=SHIPPED)
    args = p.parse_args(argv)
    rows = [record(c.resolve()) for c in args.checkpoints]
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
