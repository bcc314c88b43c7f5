"""The augmentation preview: 16 training images, each as it is and as augmented, by the very function
training calls (cnn.data.augment.augment_batch), drawn as one picture for the page and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .augment import augment_batch

COUNT = 16  # images shown
PER_ROW = 4  # pairs a row
GAP, PAIR_GAP = 2, 14  # pixels between an image and its augmented copy; between pairs
GROUND = (128, 128, 128)  # mid grey: a black digit's edge still shows


@dataclass(frozen=True)
class Preview:
    picture: Image.Image
    changed: int  # how many of the images the augmentation changed
    count: int

    def caption(self, spec: str) -> str:
        left = f"{self.count - self.changed} of {self.count} unchanged" if self.changed < self.count else "all changed"
        return f"Augmentation {spec}: each image as it is (left) and as training sees it (right); {left}."


def sample(images: torch.Tensor, count: int = COUNT) -> torch.Tensor:
    """A fixed spread of `count` images (the same ones on every redraw: only the augmentation changes)."""
    n = len(images)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: min(count, n)]
    return images[idx]


def preview(images: torch.Tensor, recipe, draw: int = 0, scale: int = 0) -> Preview:
    """images (uint8, N x C x H x W: sample()'s) beside themselves augmented as `recipe` says (any
    object with the recipe's augmentation fields). `draw` seeds the random draws, so a redraw shows
    new ones and the same draw the same; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(draw)
        out = augment_batch(images, recipe)
    changed = int(((out.int() - images.int()).abs().flatten(1).amax(1) > 0).sum())
    return Preview(_grid(images, out, scale), changed, len(images))


def _grid(before: torch.Tensor, after: torch.Tensor, scale: int) -> Image.Image:
    n, c, h, w = before.shape
    scale = scale or max(1, 112 // max(h, w))  # about 112 px an image
    sh, sw = h * scale, w * scale
    rows = -(-n // PER_ROW)
    pair_w = 2 * sw + GAP
    canvas = np.empty((rows * sh + (rows - 1) * PAIR_GAP, PER_ROW * pair_w + (PER_ROW - 1) * PAIR_GAP, 3), np.uint8)
    canvas[:] = GROUND
    for i in range(n):
        y, x = (i // PER_ROW) * (sh + PAIR_GAP), (i % PER_ROW) * (pair_w + PAIR_GAP)
        for j, img in enumerate((before[i], after[i])):
            a = img.permute(1, 2, 0).numpy().repeat(scale, 0).repeat(scale, 1)
            canvas[y : y + sh, x + j * (sw + GAP) : x + j * (sw + GAP) + sw] = a if c == 3 else a.repeat(3, 2)
    return Image.fromarray(canvas)
