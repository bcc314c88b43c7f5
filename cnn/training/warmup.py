"""Paying a device's one-time costs before anyone presses Start (the app does it at launch)."""

from __future__ import annotations

import time

import torch

from ..data import random_dataset
from ..hardware import pick_device
from ..models import get_spec
from .engine import train
from .recipes import get_recipe


def warm_up(device: torch.device | str | None = None, recipes: tuple[str, ...] = (), stop=None) -> float:
    """Pay a device's one-time costs before anyone presses Start, and return the seconds spent:
    the CUDA context, cuBLAS and cuDNN, LAPACK and torchvision's import, and, for each recipe
    named, a few training steps on random data of its shape, so cuDNN has picked its kernels and
    the CUDA graph machinery has run once. The app calls this in the background at launch, on a
    GPU. `stop` (a threading.Event) ends it early, between training steps: a real run is waiting,
    and what is left of the warm-up is better spent on that run itself."""
    t0 = time.perf_counter()
    # imported here, not with the module: paid in the warm-up thread, not at the app's start
    import torchvision.datasets  # noqa: F401  (MNIST and Fashion-MNIST load through it)

    torch.linalg.eigh(torch.eye(4, dtype=torch.float64))  # the whitening's eigensolver
    device = pick_device(None if device is None else str(device))
    if device.type == "cuda":
        torch.empty(1, device=device)  # the context, first: a run waiting on a stop still finds it made
    for name in recipes:
        if stop is not None and stop.is_set():
            break
        recipe = get_recipe(name)
        # 5 batches: past the graph's warm-up steps, so it is recorded once too; a test set of one
        # full and one padded batch, as a real run evaluates
        fake = random_dataset(
            recipe.dataset, get_spec(recipe.model).input_shape, recipe.batch_size * 5, recipe.batch_size + 1
        )
        for _ in train(
            recipe.replace(epochs=1), fake, device=device, evaluate_each_epoch=True, stop=stop, calibration_holdout=0
        ):  # all 5 batches train (random pixels: nothing to calibrate)
            pass
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0
