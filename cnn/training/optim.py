"""Optimisers and learning-rate schedules: parameter groups with their share of the rate, the
schedule's multiplier at each step, and the torch optimiser a recipe names."""

from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ..models import classifier_name
from .graphed import CapturableSGD
from .recipe import Recipe


def lr_factor(recipe: Recipe, step: int, total: int) -> float:
    """The learning rate multiplier at a step (from 0): constant; linear warm-up then linear decay
    to 0; or airbench's triangle, lr_start at step 0, 1 at the peak and lr_end at the last step."""
    if recipe.schedule == "constant":
        return 1.0
    if recipe.schedule == "triangle":
        peak = int(recipe.warmup * total)
        if step < peak:
            return recipe.lr_start + (1 - recipe.lr_start) * step / peak
        return 1 + (recipe.lr_end - 1) * (step - peak) / max(1, total - peak)
    warm = max(1, round(recipe.warmup * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def param_groups(recipe: Recipe, model: torch.nn.Module) -> list[dict]:
    """The trainable parameters in groups, each with its share of the learning rate (`lr_scale`):
    batch-norm parameters get recipe.norm_bias_lr_scale times it with the same absolute weight
    decay (airbench's bias scaler), and a whitened stem's bias has a group of its own, so the
    engine can freeze it after recipe.whiten_bias_epochs by setting that share to 0."""
    norm, stem_bias, other = [], [], []
    stem = getattr(model, "stem", None) if recipe.whiten and recipe.whiten_bias_epochs else None
    norm_params = {id(p) for m in model.modules() if isinstance(m, _BatchNorm) for p in m.parameters()}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if stem is not None and p is stem.bias:
            stem_bias.append(p)
        elif id(p) in norm_params:
            norm.append(p)
        else:
            other.append(p)
    k = recipe.norm_bias_lr_scale
    groups = [
        dict(params=other, lr_scale=1.0, weight_decay=recipe.weight_decay, name="weights"),
        dict(params=norm, lr_scale=k, weight_decay=recipe.weight_decay / k, name="norm"),
        dict(params=stem_bias, lr_scale=1.0, weight_decay=recipe.weight_decay, name="stem_bias"),
    ]
    return [g for g in groups if g["params"]]


class HeadOnly:
    """Fine-tuning's first phase (recipe.head_only_epochs): only the final classifier learns, and
    the rest of the model (the body) does not change at all. A learning rate of 0 is not enough:
    batch norm would still update its running statistics in training mode, and momentum gathered
    from the body's gradients would move it as soon as the phase ends. So the body's parameters
    stop needing gradients (the optimizer skips a parameter without one: no step, no weight decay,
    no momentum or Adam state; and its backward pass is not computed) and its batch-norm layers
    run in eval mode. Build the optimizer first, so it holds the body for the later phase."""

    def __init__(self, model: torch.nn.Module):
        head = model.get_submodule(classifier_name(model))
        in_head = {id(t) for t in head.parameters()} | {id(m) for m in head.modules()}
        self.body = [p for p in model.parameters() if p.requires_grad and id(p) not in in_head]
        self.norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and id(m) not in in_head]
        self.frozen = False

    def freeze(self, frozen: bool) -> None:
        """Freeze or thaw the body. Call at the start of every epoch: an evaluation puts the
        whole model back in training mode."""
        self.frozen = frozen
        for p in self.body:
            p.requires_grad_(not frozen)
        for m in self.norms:
            m.train(not frozen)


def set_lr_scale(optimizer, name: str, value: float) -> None:
    """Change one parameter group's share of the learning rate (torch or capturable optimizer)."""
    if isinstance(optimizer, CapturableSGD):
        optimizer.set_scale(name, value)
    for group in getattr(optimizer, "param_groups", []):
        if group["name"] == name:
            group["lr_scale"] = value


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set an eager optimizer's rate for the next step: lr times each group's share."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]


def capturable_sgd(
    recipe: Recipe, optimizer: torch.optim.Optimizer, total_steps: int, device: torch.device
) -> CapturableSGD:
    """The same SGD over the same parameter groups, with the whole schedule on the device, for a
    step recorded in a CUDA graph."""
    schedule = torch.tensor([recipe.lr * lr_factor(recipe, s, total_steps) for s in range(total_steps)], device=device)
    return CapturableSGD(optimizer.param_groups, schedule, recipe.momentum, recipe.nesterov and recipe.momentum > 0)


def make_optimizer(recipe: Recipe, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = param_groups(recipe, model)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov and recipe.momentum > 0,
            weight_decay=recipe.weight_decay,
        )
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
