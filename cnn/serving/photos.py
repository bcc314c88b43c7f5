"""A photo prepared for a CIFAR-sized model: centre crop to a square, then resize."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from .decode import decoded


def prepare_photo(image, size: int = 32, channels: int = 3) -> tuple[torch.Tensor, Image.Image]:
    """A photo as a CIFAR-sized model takes it: centre crop to a square, resize to size x size.
    Returns (uint8 channels x size x size, preview). Transparency is flattened onto white."""
    im = decoded(image)
    if im.mode == "RGBA":
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im)
    im = im.convert("RGB" if channels == 3 else "L")
    im = ImageOps.fit(im, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    a = np.asarray(im, dtype=np.uint8)
    x = torch.from_numpy(a.copy())
    x = x.permute(2, 0, 1) if x.ndim == 3 else x.unsqueeze(0)
    return x.contiguous(), im
