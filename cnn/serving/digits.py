"""A drawing prepared the way MNIST was made: find the ink whichever way round it is, crop, even
out the stroke width, scale the longer side to 20 px and centre by centre of mass in 28x28."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .decode import BLANK_MESSAGE, decoded

DIGIT_BOX = 20  # MNIST: the digit's longer side is scaled to 20 px ...


DIGIT_CANVAS = 28  # ... and centred by centre of mass in a 28x28 field


_WORK = 5 * DIGIT_BOX  # working resolution for the stroke-width normalisation


# Stroke width of MNIST digits at the working resolution (_stroke_width on the test set):
# 10th percentile, median and 90th percentile. Drawings outside this band are thickened or thinned.
_MNIST_WIDTH = (8.8, 11.2, 14.9)


_BLANK_CONTRAST = 0.1  # an image whose ink differs from the background by less is blank


DOT_MESSAGE = "Draw a digit: a single dot is not a digit."

# A dot is a small mark: a compact blob whose longer side is under this share of the canvas's
# shorter side (one click of a 56 px brush on the Draw tab's 600 px canvas is 9%). Dense drawings
# (a thick "8", a spiral, a filled shape for a drawings project) are large, whatever their density.
DOT_SHARE = 0.12


@dataclass
class DigitResult:
    image: torch.Tensor | None  # uint8 1 x 28 x 28, white ink on black (as MNIST), or None
    preview: Image.Image | None  # the same 28 x 28, as a PIL image
    message: str = ""  # why there is no image (blank canvas, a dot)
    strokes: str = ""  # what the preparation did to the strokes, and why ("" when it left them)


# What the preparation did to a drawing's strokes, in a line for the person who drew it.
THICKENED = "Your strokes were thickened to the width of MNIST's pen strokes, the digits this model learned from."
THINNED = (
    "Your strokes were thinned to the width of MNIST's pen strokes, the digits this model learned from: "
    "a thick or filled drawing shows thinner here."
)
OPENED = "Your strokes were thinned so that the gaps between them still show at 28x28."


def prepare_digit(image) -> DigitResult:
    """A drawing (anything load_image takes) as MNIST would have it, or the reason there is nothing
    to classify (a blank canvas, a lone dot)."""
    im = decoded(image)
    ink = ink_map(im)
    if ink is None:
        return DigitResult(None, None, BLANK_MESSAGE)
    mask = ink > 0
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = ink[top:bottom, left:right]
    if _is_dot(crop, min(ink.shape)):
        return DigitResult(None, None, DOT_MESSAGE)
    x, strokes = _normalise_strokes(torch.from_numpy(np.ascontiguousarray(crop)))
    digit = _centre_by_mass(x)
    u8 = (digit * 255).round().clamp(0, 255).to(torch.uint8)
    return DigitResult(u8.unsqueeze(0), Image.fromarray(u8.numpy(), "L"), strokes=strokes)


def ink_map(im: Image.Image) -> np.ndarray | None:
    """Where the ink is, from 0 to 1, whichever way round it was drawn; None when blank.

    Strokes on a transparent layer are found by their alpha; otherwise the ink is whatever differs
    from the background colour (the median colour of the image's border), dark on light or light
    on dark, in any colour.
    """
    a = np.asarray(im.convert("RGBA") if im.mode == "RGBA" else im, dtype=np.float32) / 255.0
    ink = None
    if im.mode == "RGBA":
        alpha = a[..., 3]
        d = np.abs(alpha - np.median(_border(alpha)))
        if d.max() >= 0.25:
            ink = d
        else:
            a = a[..., :3]
    if ink is None:
        if a.ndim == 2:
            a = a[..., None]
        bg = np.median(_border(a).reshape(-1, a.shape[-1]), axis=0)
        ink = np.abs(a - bg).max(axis=-1)
    peak = float(ink.max())
    if peak < _BLANK_CONTRAST:
        return None
    ink = ink / peak
    ink[ink < 0.25] = 0  # paper texture, JPEG noise, shadows
    return ink


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _is_dot(crop: np.ndarray, canvas_side: int) -> bool:
    """A lone dot: a speck of a pixel or two, or a small compact blob (DOT_SHARE of the canvas)."""
    h, w = crop.shape
    if max(h, w) <= 2:
        return True
    small = max(h, w) < DOT_SHARE * canvas_side
    fill = float((crop > 0.5).mean())
    return small and max(h, w) / min(h, w) < 1.6 and fill > 0.65 and _is_blob(crop)


def _is_blob(crop: np.ndarray) -> bool:
    """A compact filled shape with no hole: a dot, not a 0 (which has a hole in the middle)."""
    h, w = crop.shape
    centre = crop[h // 3 : h - h // 3, w // 3 : w - w // 3]
    return centre.size == 0 or float(centre.mean()) > 0.5


def _stroke_width(mask: torch.Tensor) -> float:
    """Mean stroke width of a binary mask: area over half the boundary length."""
    area = float(mask.sum())
    if area == 0:
        return 0.0
    m = mask.float()[None, None]
    inner = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1)), 3, 1)  # erosion by a 3x3 square
    boundary = float((m - inner).clamp(min=0).sum())
    return 2 * area / max(boundary, 1.0)


def _morph(mask: torch.Tensor, r: int, grow: bool) -> torch.Tensor:
    """Dilate (grow) or erode a binary mask by a disc-like square of radius r."""
    if r <= 0:
        return mask
    m = mask.float()[None, None]
    if grow:
        out = F.max_pool2d(F.pad(m, (r, r, r, r)), 2 * r + 1, 1)
    else:
        out = -F.max_pool2d(F.pad(-m, (r, r, r, r), value=-1.0), 2 * r + 1, 1)
    return out[0, 0] > 0.5


def _normalise_strokes(crop: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The cropped ink at the working resolution (longer side _WORK px), with its strokes
    thickened or thinned into MNIST's range, as a binary mask; and what was done, in words
    (THICKENED, THINNED, OPENED, or ""). A dense drawing (a spiral, a tight
    zigzag) keeps its gaps: it is never thickened so far that they close, and its strokes are
    thinned until the gaps show in the 28x28."""
    h, w = crop.shape
    s = _WORK / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    x = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]
    mask = x >= 0.3 * float(x.max())
    pad = _WORK // 4  # room for thickening without clipping at the edges
    mask = F.pad(mask, (pad, pad, pad, pad))
    width = _stroke_width(mask)
    gap = _typical_gap(mask)
    lo, mid, hi = _MNIST_WIDTH
    said = ""
    if width < lo:
        r = round((mid - width) / 2)
        if gap is not None:  # growing by r narrows every gap by 2r: keep them open
            r = min(r, int((gap - _MIN_GAP) // 2))
        mask = _morph(mask, r, grow=True)
        said = THICKENED if r > 0 else ""
    elif width > hi or (gap is not None and gap < _MIN_GAP):
        r = round((width - mid) / 2) if width > hi else 0
        if gap is not None and gap < _MIN_GAP:  # open the gaps, leaving strokes of at least _MIN_STROKE
            r = max(r, min(math.ceil((_MIN_GAP - gap) / 2), int((width - _MIN_STROKE) // 2)))
        thinner = _morph(mask, r, grow=False)
        if r > 0 and thinner.sum() > 0.25 * mask.sum():  # never erode a drawing away
            mask, said = thinner, (THINNED if width > hi else OPENED)
    return mask.float(), said


# At the working resolution: the gap between strokes that still shows in the 28x28 (1.6 px there),
# and the thinnest stroke a dense drawing is thinned to for it (0.8 px there).
_MIN_GAP = 8
_MIN_STROKE = 4


def _typical_gap(mask: torch.Tensor) -> float | None:
    """The median length of the background runs between two strokes, along the rows or along the
    columns of a binary mask, whichever is narrower (None when no line crosses two strokes). An
    ordinary digit's gaps (a 0's hole, the space between a 4's arms) are wide; a spiral's are
    narrow both ways, a zigzag's down its columns."""
    m = mask.numpy().astype(np.int8)
    medians = []
    for lines in (m, m.T):
        d = np.diff(np.pad(lines, ((0, 0), (1, 1))), axis=1)
        rows_s, starts = np.nonzero(d == 1)  # where each stroke starts, row by row
        rows_e, ends = np.nonzero(d == -1)  # and where it ends (as many, in the same order)
        between = rows_s[1:] == rows_e[:-1]  # a stroke's end and the next one's start on one line
        gaps = (starts[1:] - ends[:-1])[between]
        if len(gaps):
            medians.append(float(np.median(gaps)))
    return min(medians) if medians else None


def _centre_by_mass(mask: torch.Tensor) -> torch.Tensor:
    """Crop to the ink, scale the longer side to 20 px keeping the aspect ratio, and paste into
    28x28 so that the centre of mass is at the centre (MNIST's own procedure)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    s = DIGIT_BOX / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    small = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]
    small = small / small.max().clamp(min=1e-6)
    sh, sw = small.shape
    total = small.sum()
    cy = float((small.sum(1) * torch.arange(sh)).sum() / total)
    cx = float((small.sum(0) * torch.arange(sw)).sum() / total)
    c = (DIGIT_CANVAS - 1) / 2
    top = min(max(round(c - cy), 0), DIGIT_CANVAS - sh)
    left = min(max(round(c - cx), 0), DIGIT_CANVAS - sw)
    out = torch.zeros(DIGIT_CANVAS, DIGIT_CANVAS)
    out[top : top + sh, left : left + sw] = small
    return out
