"""Training-time augmentations that run on the training device, on whole uint8 batches at once."""
from __future__ import annotations

import torch


def random_translate(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each image by up to `pad` pixels each way, filling with reflections (a random crop of
    the reflect-padded image), in one gather for the whole batch."""
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    src = x if x.is_floating_point() else x.float()  # reflect padding needs floats
    padded = torch.nn.functional.pad(src, (pad,) * 4, mode="reflect").to(x.dtype)
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device).view(1, 1, h, 1)).expand(n, c, h, w + 2 * pad)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, 1, w)).expand(n, c, h, w)
    return padded.gather(2, rows).gather(3, cols)


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror a random half of the batch left to right."""
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(mask, x.flip(3), x)
