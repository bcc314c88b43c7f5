"""Training-time augmentations that run on the training device, on whole uint8 batches at once,
each image with its own random parameters. `augment_batch` is the one path training and the preview
take. Elastic distortion, blur and erasing are kornia's (faster than torchvision's per-image v2
transforms here; bench/augment_speed.py, docs/augmentation.md); the rest are hand-written because
they were faster than both libraries' (or, stroke width and the coarse grid, in neither)."""

from __future__ import annotations

import math
from functools import lru_cache

import kornia.augmentation as K
import torch

ELASTIC_ALPHA = 5.0  # kornia's displacement (in half-sides) per unit of strength: 1 moves pixels ~3 px
ELASTIC_SIGMA = 1 / 7  # the displacement field's smoothness, as a share of the side (4 px on MNIST)


def augment_batch(x: torch.Tensor, r) -> torch.Tensor:
    """x (N, C, H, W; uint8 or float) augmented as the recipe `r` says (any object with the recipe's
    augmentation fields), except the alternating flip, which the training step draws itself."""
    if r.rotate or r.scale or r.shift:  # no draws for a recipe without them
        x = random_affine(x, r.rotate, r.scale, r.shift)
    if r.elastic:
        x = random_elastic(x, r.elastic)
    if r.stroke:
        x = random_stroke(x, r.stroke)
    if r.thicken:
        x = random_stroke(x, r.thicken, thin=False)
    if r.blocky:
        x = random_blocky(x, r.blocky)
    if r.blur:
        x = random_blur(x, r.blur)
    if r.colour:
        x = random_colour(x, r.colour)
    if r.erase:
        x = random_erase(x, r.erase)
    x = random_translate(x, r.crop_pad)
    if r.flip and not r.alternate_flip:
        x = random_flip(x)
    return x


def graph_safe(r) -> bool:
    """Whether the recipe's augmentation can be recorded in a CUDA graph: kornia's transforms draw
    their parameters on the host, which a recorded graph would replay unchanged."""
    return not (r.elastic or r.blur or r.erase)


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


def random_stroke(x: torch.Tensor, radius: int, thin: bool = True) -> torch.Tensor:
    """Thicken (grey dilation) or thin (grey erosion) each image's strokes by 1 to `radius` pixels,
    or leave them, each with equal chance: light ink on a dark ground, as drawings are prepared.
    thin=False only thickens (0 to `radius` pixels): thinning a 2-3 px MNIST stroke by 1 px can
    all but erase it, which cost clean digits (docs/augmentation.md)."""
    if radius <= 0:
        return x
    f = x.float()
    r = torch.randint(-radius if thin else 0, radius + 1, (x.shape[0], 1, 1, 1), device=x.device)
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


def elastic_args(strength: float, side: int) -> dict:
    sigma = max(1.0, side * ELASTIC_SIGMA)
    k = 2 * math.ceil(2 * sigma) + 1
    return dict(kernel_size=(k, k), sigma=(sigma, sigma), alpha=(strength * ELASTIC_ALPHA,) * 2)


@lru_cache(maxsize=32)
def _kornia(kind: str, amount: float, side: int) -> torch.nn.Module:
    """One kornia transform per setting (they are plain modules with no state between calls)."""
    if kind == "elastic":
        return K.RandomElasticTransform(**elastic_args(amount, side), p=1.0)
    if kind == "blur":
        k = min(2 * math.ceil(2 * amount) + 1, side - 1 + side % 2)
        return K.RandomGaussianBlur((k, k), (0.1, amount), p=1.0)
    return K.RandomErasing(scale=(0.02, 0.2), ratio=(0.3, 3.3), value=0.0, p=amount)


def random_elastic(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Bend each image by its own smooth random displacement field (Simard et al. 2003)."""
    return _like(_kornia("elastic", float(strength), x.shape[-1])(x.float()), x)


def random_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each image by a Gaussian of its own sigma, from 0.1 to `sigma` pixels."""
    return _like(_kornia("blur", float(sigma), x.shape[-1])(x.float()), x)


def random_erase(x: torch.Tensor, chance: float) -> torch.Tensor:
    """Blank out (to 0) a random rectangle of 2% to 20% of the image, in each image with this chance."""
    return _like(_kornia("erase", float(chance), x.shape[-1])(x.float()), x)


def random_blocky(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Coarsen each image's pixel grid by its own factor from 1 (as it is) to 1 + `steps`: averaged
    down, then scaled back up with square pixels, as a low-resolution drawing scaled up looks."""
    if steps <= 0:
        return x
    f, (h, w) = x.float(), x.shape[-2:]
    pick = torch.randint(1, steps + 2, (x.shape[0], 1, 1, 1), device=x.device)
    out = f
    for k in range(2, steps + 2):
        small = torch.nn.functional.interpolate(f, size=(max(1, h // k), max(1, w // k)), mode="area")
        out = torch.where(pick == k, torch.nn.functional.interpolate(small, size=(h, w), mode="nearest"), out)
    return _like(out, x)


def _like(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Floats back in the batch's own dtype (uint8: rounded and clamped to 0..255)."""
    if x.is_floating_point():
        return f.to(x.dtype)
    return f.round_().clamp_(0, 255).to(x.dtype)
