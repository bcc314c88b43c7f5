"""What every benchmark prints: the machine, the library versions, and a table with ratios."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# The cnn package comes from the installed project (pip install -e .), not from sys.path tricks.
# The data directory: $CNN_DATA_DIR, else ../shared/data beside the checkout.
os.environ.setdefault("CNN_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu} ({vector_extensions()}), {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def vector_extensions() -> str:
    """The CPU's vector extensions that decide training speed here: two VMs both called "AMD EPYC"
    trained MNIST 2x apart (AVX-512 with bf16 against AVX2 alone: docs/performance-cpu.md)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "extensions unknown"
    found = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return " ".join(found) or "no AVX2"


def versions() -> str:
    import torch
    import torchvision

    return f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}"


def header(title: str) -> None:
    print(f"# {title}")
    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")


def table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table: the docs' performance pages paste it as it is."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"
    return "\n".join([line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def recipe_batch(name: str):
    """(recipe, normalized batch x, labels y, a fresh model) for the named recipe: one batch of its size
    from the test split of its data set (real images; the test split is enough to time steps)."""
    import torch

    from cnn.data import load_dataset
    from cnn.data.normalize import Normalizer
    from cnn.models import build_model
    from cnn.training.recipes import get_recipe

    recipe = get_recipe(name)
    data = load_dataset(recipe.dataset, train=False)
    c, h, _ = data.input_shape
    mean, std = data.test.mean_std()
    x = Normalizer(mean, std, torch.device("cpu"), c)(data.test.images[: recipe.batch_size])
    y = data.test.labels[: recipe.batch_size]
    return recipe, x, y, build_model(recipe.model, c, len(data.classes), h)
