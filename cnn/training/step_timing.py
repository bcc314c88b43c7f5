"""How long an epoch of a network would take on a device, from timing a few real training steps
(forward, backward and the optimizer's step on random images of the batch's shape), before any
data is loaded. The design editor asks for it on request; it is an estimate: data loading,
augmentation and the per-epoch test are left out."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..cpu_share import SERVING
from .optim import make_optimizer
from .recipes import Recipe

MAX_SECONDS = 3.0  # timing stops after this long, however few steps it took (a huge design)


@dataclass(frozen=True)
class StepTiming:
    seconds_per_step: float
    steps_timed: int
    steps_per_epoch: int

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds_per_step * self.steps_per_epoch


def time_steps(
    model: torch.nn.Module,
    recipe: Recipe,
    input_shape: tuple,
    num_classes: int,
    n_train: int,
    device: torch.device | str = "cpu",
    steps: int = 4,
    max_seconds: float = MAX_SECONDS,
) -> StepTiming:
    """Time `steps` training steps of `model` (after one untimed step that pays the first call's
    costs) at the recipe's batch size and optimizer. Runs as a prediction would (`SERVING`), so a
    training run in this process gives way for the second or two it takes."""
    device = torch.device(device)
    batch = max(1, int(recipe.batch_size))
    model = model.to(device).train()
    opt = make_optimizer(recipe, model)
    x = torch.randn(batch, *input_shape, device=device)
    y = torch.randint(0, num_classes, (batch,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    with SERVING.serving():
        step()
        _sync(device)
        t0 = time.perf_counter()
        done = 0
        while done < steps:
            step()
            done += 1
            if time.perf_counter() - t0 > max_seconds:
                break
        _sync(device)
        per_step = (time.perf_counter() - t0) / done
    per_epoch = n_train // batch if recipe.drop_last else math.ceil(n_train / batch)
    return StepTiming(per_step, done, max(1, per_epoch))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
