"""A Keras-style layer table: each leaf layer's output shape and parameter count."""

from __future__ import annotations

import torch
import torch.nn as nn


def summarize(model: nn.Module, input_shape: tuple[int, int, int]) -> list[tuple[str, str, tuple, int]]:
    """(name, layer type, output shape, parameter count) for every leaf layer, in call order."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if list(module.children()):
            continue
        hooks.append(
            module.register_forward_hook(
                lambda m, _in, out, name=name: rows.append(
                    (name, type(m).__name__, tuple(out.shape), sum(p.numel() for p in m.parameters(recurse=False)))
                )
            )
        )
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def format_table(model: nn.Module, input_shape: tuple[int, int, int], title: str = "") -> str:
    rows = summarize(model, input_shape)
    header = ("Layer", "Type", "Output shape", "Param #")
    body = [(n, t, str((None,) + s[1:]), f"{p:,}") for n, t, s, p in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * len(line(header))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out = ([title] if title else []) + [
        rule,
        line(header),
        rule,
        *map(line, body),
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Input shape: {input_shape}",
    ]
    return "\n".join(out)
