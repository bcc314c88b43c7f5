"""Drawing-style versions of MNIST test digits (issue 32): what people's drawings look like after the
Draw tab prepares them, made from the test digits so the labels are known. Each style is fixed (a
seeded draw), made with plain torch and kornia filter calls, never with the training augmentations
(cnn.data.augment), so a model is not scored on exactly what it trained on.

The styles are split in two by image: the first half (`TUNE`) is where augmentation is chosen; the
second (`HELD`) is only ever reported. Never report a score on the half something was tuned on."""

from __future__ import annotations

import kornia.filters as KF
import kornia.geometry.transform as KT
import torch

TUNE, HELD = slice(0, 5000), slice(5000, 10000)  # of the 10,000 test images


def thick(x: torch.Tensor) -> torch.Tensor:
    """Re-drawn with a thick brush: strokes grown by 1 px each side (grey dilation, 3x3), as a finger
    or a wide brush leaves them."""
    return torch.nn.functional.max_pool2d(x.float(), 3, 1, 1).to(torch.uint8)


def blurred(x: torch.Tensor) -> torch.Tensor:
    """Soft-edged: a Gaussian blur of sigma 1.2 px, brightened back to full ink."""
    f = KF.gaussian_blur2d(x.float(), (7, 7), (1.2, 1.2))
    return (f * 255 / f.amax((1, 2, 3), keepdim=True).clamp_min(1)).round().clamp(0, 255).to(torch.uint8)


def blocky(x: torch.Tensor) -> torch.Tensor:
    """Drawn at low resolution and scaled up: averaged down to 10 x 10, back to 28 x 28 with square
    pixels."""
    small = torch.nn.functional.interpolate(x.float(), size=(10, 10), mode="area")
    return torch.nn.functional.interpolate(small, size=x.shape[-2:], mode="nearest").round().to(torch.uint8)


def wobbly(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """An unsteady hand: an elastic distortion (smooth random displacement, sigma 4 px, about 1 px
    each way), the same field for the same seed."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(x.shape[0], 2, *x.shape[-2:], generator=g) * 2 - 1
    out = KT.elastic_transform2d(x.float(), noise, (17, 17), (4.0, 4.0), (1.5, 1.5))
    return out.round().clamp(0, 255).to(torch.uint8)


STYLES = {"thick": thick, "blurred": blurred, "blocky": blocky, "wobbly": wobbly}


def drawing_styles(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each style of the uint8 digits (N x 1 x 28 x 28), by name."""
    return {name: style(images) for name, style in STYLES.items()}
