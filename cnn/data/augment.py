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


def random_affine(x: torch.Tensor, rotate: float = 0.0, scale: float = 0.0, shift: float = 0.0) -> torch.Tensor:
    """Rotate each image by up to `rotate` degrees, zoom it by up to `scale` either way and shift it
    by up to `shift` of its side, in one resampling of the whole batch. Grey images (ink on black,
    as drawings are prepared) are filled with black where the image moves away; colour ones with
    their reflection."""
    n, c = x.shape[:2]
    u = torch.rand(n, 4, device=x.device) * 2 - 1  # uniform in [-1, 1)
    angle = u[:, 0] * (rotate * torch.pi / 180)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, u[:, 2] * shift * 2], 1), torch.stack([sin, cos, u[:, 3] * shift * 2], 1)], 1
    )
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(
        x.float(), grid, mode="bilinear", align_corners=False, padding_mode="zeros" if c == 1 else "reflection"
    )
    return _like(out, x)


def random_stroke(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Thicken (grey dilation) or thin (grey erosion) each image's strokes by 1 to `radius` pixels,
    or leave them, each with equal chance: light ink on a dark ground, as drawings are prepared."""
    if radius <= 0:
        return x
    f = x.float()
    r = torch.randint(-radius, radius + 1, (x.shape[0], 1, 1, 1), device=x.device)
    out = f
    for k in range(1, radius + 1):
        grown = torch.nn.functional.max_pool2d(f, 2 * k + 1, 1, k)
        shrunk = -torch.nn.functional.max_pool2d(-f, 2 * k + 1, 1, k)
        out = torch.where(r == k, grown, torch.where(r == -k, shrunk, out))
    return _like(out, x)


def random_colour(x: torch.Tensor, amount: float) -> torch.Tensor:
    """Change each colour image's brightness, contrast and saturation by up to `amount` either way.
    Only device ops on the batch: no tensor made from Python values, which would be a host-to-device
    copy that a CUDA graph cannot record (the grey weights are plain numbers)."""
    if amount <= 0:
        return x
    n = x.shape[0]
    f = x.float()
    b, c, s = (1 + (torch.rand(3, n, 1, 1, 1, device=x.device) * 2 - 1) * amount).unbind(0)
    f = f * b
    mean = f.mean(dim=(1, 2, 3), keepdim=True)
    f = (f - mean) * c + mean
    if x.shape[1] == 3:
        grey = 0.299 * f[:, 0:1] + 0.587 * f[:, 1:2] + 0.114 * f[:, 2:3]
        f = (f - grey) * s + grey
    return _like(f, x)


def _like(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Floats back in the batch's own dtype (uint8: rounded and clamped to 0..255)."""
    if x.is_floating_point():
        return f.to(x.dtype)
    return f.round_().clamp_(0, 255).to(x.dtype)
