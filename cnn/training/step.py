"""One training step, and everything it reads, built before it runs.

`train_step` gets its inputs as arguments and from a `StepState` that is complete before the
first step: nothing is looked up late. The same function runs eagerly or recorded in a CUDA graph
(graphed.GraphedStep); `in_graph` says which, since a recorded step must not cache autocast's
cast weights and leaves zeroing the gradients to GraphedStep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data.augment import augment_batch
from ..data.normalize import Normalizer
from .distributed import DistContext
from .precision import Precision
from .recipe import Recipe


def loss_function(recipe: Recipe) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if recipe.loss == "nll":
            return F.nll_loss(out, y)
        return F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)

    return loss_fn


@dataclass
class Totals:
    """Running totals live on the device and are read only at log steps and epoch ends."""

    device: torch.device
    loss_sum: torch.Tensor = field(init=False)  # since the last log step
    epoch_loss: torch.Tensor = field(init=False)
    epoch_correct: torch.Tensor = field(init=False)
    odd_epoch: torch.Tensor = field(init=False)  # read by the alternating flip

    def __post_init__(self):
        self.loss_sum = torch.zeros((), device=self.device)
        self.epoch_loss = torch.zeros((), device=self.device)
        self.epoch_correct = torch.zeros((), device=self.device, dtype=torch.long)
        self.odd_epoch = torch.zeros((), dtype=torch.bool, device=self.device)

    def new_epoch(self, epoch: int) -> None:
        self.odd_epoch.fill_(epoch % 2 == 1)
        self.epoch_loss.zero_()
        self.epoch_correct.zero_()


@dataclass(frozen=True)
class StepState:
    recipe: Recipe
    ctx: DistContext
    precision: Precision
    normalize: Normalizer
    model: torch.nn.Module  # the model itself
    ddp_model: torch.nn.Module  # what the forward pass runs: the model, or its DDP wrapper
    loss_fn: Callable
    optimizer: object  # a torch optimizer, or graphed.CapturableSGD when graphed
    trainable: list[torch.Tensor]
    totals: Totals

    @property
    def loss_scale(self) -> float | None:
        return self.precision.loss_scale


def train_step(s: StepState, x: torch.Tensor, y: torch.Tensor, flip: torch.Tensor | None, *, in_graph: bool) -> None:
    """One training step on a uint8 batch: augment, forward, backward, update, totals. The
    same code runs eagerly or recorded in a CUDA graph (no Python numbers from the device)."""
    x = augment_batch(x, s.recipe)  # the same function the preview shows (cnn.data.augment)
    if flip is not None:  # the alternating flip: each image's own, flipped every other epoch
        x = torch.where((flip ^ s.totals.odd_epoch).view(-1, 1, 1, 1), x.flip(3), x)
    if s.ctx.enabled:  # every rank drew the same augmentation for the global batch; keep its shard
        keep = s.ctx.shard(torch.arange(len(y), device=s.precision.device))
        x, y = x[keep], y[keep]
    x = s.precision.prepare_batch(s.normalize(x))
    with s.precision.autocast(cache=not in_graph):
        out = s.ddp_model(x)
        loss = s.loss_fn(out.float(), y)
    if not in_graph:  # GraphedStep zeroes the gradients of a recorded step itself
        s.optimizer.zero_grad(set_to_none=True)
    if s.loss_scale is None:
        loss.backward()
    else:  # fp16: scale the loss up so small gradients do not flush to zero, then back down
        (loss * s.loss_scale).backward()
        torch._foreach_mul_([p.grad for p in s.trainable if p.grad is not None], 1.0 / s.loss_scale)
    s.optimizer.step()
    s.totals.loss_sum.add_(loss.detach())
    s.totals.epoch_loss.add_(loss.detach() * len(y))
    s.totals.epoch_correct.add_((out.detach().argmax(1) == y).sum())


class WeightGuard:
    """good: weights known to give a finite loss. The weights saved at a log step are only
    known good once the next window's loss (computed with them first) is finite too.
    Two preallocated copies, refreshed with one multi-tensor copy (a few kernels, not one per tensor)."""

    def __init__(self, model: torch.nn.Module):
        self.live = list(model.state_dict().values())
        self.good = [v.detach().clone() for v in self.live]
        self.pending = [v.clone() for v in self.good]

    def confirm(self) -> None:
        """The last window's loss was finite: the weights saved before it are good; save these."""
        self.good, self.pending = self.pending, self.good
        torch._foreach_copy_(self.pending, self.live)

    def restore(self) -> None:
        torch._foreach_copy_(self.live, self.good)
