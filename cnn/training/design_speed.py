"""How long a design takes to train, before it trains: a few real steps timed on the device.

The editor shows it beside the table ("about 40 s per epoch on this machine's CPU"). The steps run
on random images of the data's shape with the recipe's optimizer and loss, so what is timed is
the design's own arithmetic; the first step (allocation, kernel choice) is not counted.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from ..hardware import pick_device
from ..models import parse
from .optim import make_optimizer
from .recipe import Recipe
from .step import loss_function


def seconds_per_step(
    recipe: Recipe, input_shape: tuple, num_classes: int, *, device=None, steps: int = 3, seed: int = 0
) -> float:
    """The median seconds of one training step of recipe.design at recipe.batch_size on `device`
    (default: the best available), over `steps` timed steps after one untimed. A design the size
    limits refuse raises its ConfigError, and nothing runs."""
    design = parse(recipe.design, input_shape, num_classes, recipe.batch_size)
    device = torch.device(device) if device is not None else pick_device()
    with torch.random.fork_rng(devices=[]):  # the caller's random numbers stay as they were
        torch.manual_seed(seed)
        model = design.build().to(device).train()
        x = torch.randn(recipe.batch_size, *input_shape, device=device)
        y = torch.randint(0, num_classes, (recipe.batch_size,), device=device)
    optimizer, loss_fn = make_optimizer(recipe, model), loss_function(recipe)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def seconds_per_epoch(recipe: Recipe, input_shape: tuple, num_classes: int, n_train: int, **kw) -> float:
    """seconds_per_step times the steps of one epoch of n_train images."""
    return seconds_per_step(recipe, input_shape, num_classes, **kw) * math.ceil(n_train / recipe.batch_size)
