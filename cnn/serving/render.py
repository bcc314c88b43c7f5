"""Pictures for people: a model's input enlarged, heat maps over it, feature-map grids, the
confusion matrix and the reliability diagram. Plain PIL and numpy (no matplotlib)."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..calibration import Reliability


def to_pil(x: torch.Tensor) -> Image.Image:
    """A uint8 C x H x W tensor (1 or 3 channels) as a PIL image."""
    a = x.detach().cpu().numpy()
    return Image.fromarray(a[0], "L") if a.shape[0] == 1 else Image.fromarray(a[:3].transpose(1, 2, 0), "RGB")


def enlarge(preview: Image.Image, side: int = 224) -> Image.Image:
    """A small preview scaled up with visible pixels, for display."""
    return preview.resize((side, side), Image.Resampling.NEAREST)


def unit_range(a: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(a.astype(np.float32))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _heat_colours(h: np.ndarray) -> np.ndarray:
    """A blue-to-red colour map (no matplotlib needed): H x W in [0,1] -> H x W x 3 uint8."""
    h = np.clip(h, 0, 1)[..., None]
    stops = np.array([[0, 0, 128], [0, 128, 255], [0, 220, 120], [255, 230, 0], [220, 0, 0]], np.float32)
    pos = h * (len(stops) - 1)
    i = np.clip(pos.astype(int), 0, len(stops) - 2)
    f = pos - i
    rgb = stops[i[..., 0]] * (1 - f) + stops[i[..., 0] + 1] * f
    return rgb.astype(np.uint8)


def overlay(image: torch.Tensor, heat: np.ndarray, side: int = 224, alpha: float = 0.5) -> Image.Image:
    """The model's input (uint8 C x H x W) with a heat map over it, enlarged for display."""
    a = image.cpu().numpy()
    base = np.repeat(a, 3, 0) if a.shape[0] == 1 else a[:3]
    base = np.transpose(base, (1, 2, 0)).astype(np.float32)
    mixed = (1 - alpha) * base + alpha * _heat_colours(heat).astype(np.float32)
    im = Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")
    return im.resize((side, side), Image.Resampling.NEAREST)


def amplified_change(seen: torch.Tensor, changed: torch.Tensor, side: int = 224) -> Image.Image:
    """changed - seen (uint8 C x H x W each) for the eye: grey is no change, lighter and darker the
    change stretched so that the largest reaches white or black; enlarged for display."""
    d = changed.int() - seen.int()
    peak = max(1, int(d.abs().max()))
    a = (128 + d.float() * (127.0 / peak)).round().clamp(0, 255).to(torch.uint8)
    return enlarge(to_pil(a), side)


def side_by_side(left: Image.Image, right: Image.Image, gap: int = 4, caption: str = "") -> Image.Image:
    """Two pictures of one height in a row, a white gap between them; a caption under them (a
    gallery's own caption is cut to a thumbnail's width)."""
    strip = 22 if caption else 0
    height = max(left.height, right.height)
    im = Image.new("RGB", (left.width + gap + right.width, height + strip), "white")
    im.paste(left.convert("RGB"), (0, 0))
    im.paste(right.convert("RGB"), (left.width + gap, 0))
    if caption:
        ImageDraw.Draw(im).text((4, height + 3), caption, fill="black", font=ImageFont.load_default(size=15))
    return im


def feature_grid(maps: torch.Tensor, max_channels: int = 16, cell: int = 56) -> Image.Image:
    """Up to max_channels channels of a C x h x w feature map, each scaled to [0, 1], as a grid."""
    maps = maps[:max_channels]
    n = maps.shape[0]
    cols = max(1, math.ceil(math.sqrt(n)))  # square-ish
    rows = (n + cols - 1) // cols
    grid = Image.new("L", (cols * (cell + 2), rows * (cell + 2)), 255)
    for k in range(n):
        a = (unit_range(maps[k].numpy()) * 255).astype(np.uint8)
        tile = Image.fromarray(a, "L").resize((cell, cell), Image.Resampling.NEAREST)
        grid.paste(tile, ((k % cols) * (cell + 2) + 1, (k // cols) * (cell + 2) + 1))
    return grid


def confusion_image(confusion: torch.Tensor, classes: list[str], cell: int = 36) -> Image.Image:
    """The confusion matrix as a picture: rows true, columns predicted, darker is more."""
    n = len(classes)
    c = confusion.float()
    rows = c / c.sum(1, keepdim=True).clamp(min=1)
    margin = CONFUSION_MARGIN
    im = Image.new("RGB", (margin + n * cell, margin + n * cell), "white")
    d = ImageDraw.Draw(im)
    for i in range(n):
        d.text((2, margin + i * cell + cell // 3), _fit(d, classes[i], margin - 4), fill="black")
        _column_label(im, _fit(d, classes[i], margin - 30), margin + i * cell + cell // 3, margin - 4)
        for j in range(n):
            v = float(rows[i, j])
            shade = int(255 - 200 * v)
            colour = (shade, shade, 255) if i == j else (255, shade, shade)
            x0, y0 = margin + j * cell, margin + i * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline=(220, 220, 220))
            d.text((x0 + 3, y0 + cell // 3), str(int(c[i, j])), fill="black" if v < 0.6 else "white")
    d.text((2, 2), "rows: true\ncolumns:\npredicted", fill="black")
    return im


def _fit(d: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """text, cut with '..' only where it is wider than width pixels (a class name stays whole when it fits)."""
    text = str(text)
    if d.textlength(text) <= width:
        return text
    while text and d.textlength(text + "..") > width:
        text = text[:-1]
    return text + ".."


def _column_label(im: Image.Image, text: str, x: int, bottom: int) -> None:
    """A column's label written upwards, its foot at (x, bottom): a whole word fits a narrow cell."""
    probe = ImageDraw.Draw(im)
    w = int(probe.textlength(text)) + 2
    label = Image.new("RGB", (w, 12), "white")
    ImageDraw.Draw(label).text((0, 0), text, fill="black")
    up = label.rotate(90, expand=True)
    im.paste(up, (x, bottom - up.height))


def filter_grid(weights: torch.Tensor, max_filters: int = 32, cell: int = 48) -> Image.Image:
    """A convolution's filters (out x in x k x k) as pictures: colour for 3 input channels (each
    filter scaled to [0, 1] on its own), grey otherwise (the mean over its input channels)."""
    w = weights[:max_filters].detach().float().cpu()
    colour = w.shape[1] == 3
    n = w.shape[0]
    cols = min(8, max(1, n))
    rows = (n + cols - 1) // cols
    grid = Image.new("RGB", (cols * (cell + 2), rows * (cell + 2)), "white")
    for k in range(n):
        a = unit_range(w[k].numpy() if colour else w[k].mean(0).numpy())
        a = (a * 255).astype(np.uint8)
        tile = Image.fromarray(a.transpose(1, 2, 0), "RGB") if colour else Image.fromarray(a, "L").convert("RGB")
        grid.paste(
            tile.resize((cell, cell), Image.Resampling.NEAREST),
            ((k % cols) * (cell + 2) + 1, (k // cols) * (cell + 2) + 1),
        )
    return grid


CONFUSION_MARGIN = 80  # confusion_image's left and top margin (labels), in pixels


def confusion_cell(x: float, y: float, classes: int, cell: int = 36) -> tuple[int, int] | None:
    """The (true, predicted) cell of confusion_image at pixel (x, y), or None outside the cells."""
    col, row = (x - CONFUSION_MARGIN) // cell, (y - CONFUSION_MARGIN) // cell
    if 0 <= row < classes and 0 <= col < classes:
        return int(row), int(col)
    return None


def _reliability_panel(d: ImageDraw.ImageDraw, r: Reliability, x0: int, y0: int, side: int, title: str, font) -> None:
    """One reliability diagram: per confidence bin, a bar as high as the bin's accuracy, the gap to
    its mean confidence shaded red, and the diagonal a calibrated model's bars would reach."""
    d.text((x0, y0 - 34), title, fill="black", font=font)
    d.rectangle([x0, y0, x0 + side, y0 + side], fill=(250, 250, 250), outline=(120, 120, 120))
    for v in (0.25, 0.5, 0.75):  # grid lines
        g = int(side * v)
        d.line([x0 + g, y0, x0 + g, y0 + side], fill=(230, 230, 230))
        d.line([x0, y0 + side - g, x0 + side, y0 + side - g], fill=(230, 230, 230))
    bins = len(r.count)
    for i in range(bins):
        if r.count[i] == 0:
            continue
        left, right = x0 + side * i / bins + 1, x0 + side * (i + 1) / bins - 1
        acc, conf = y0 + side * (1 - r.accuracy[i]), y0 + side * (1 - r.confidence[i])
        d.rectangle([left, acc, right, y0 + side], fill=(70, 110, 200))
        if abs(acc - conf) >= 1:
            d.rectangle([left, min(acc, conf), right, max(acc, conf)], fill=(240, 150, 150), outline=(200, 40, 40))
    d.line([x0, y0 + side, x0 + side, y0], fill=(90, 90, 90), width=1)  # perfect calibration
    for v in (0, 0.5, 1):
        d.text((x0 + int(side * v) - 6, y0 + side + 4), f"{v:g}", fill="black", font=font)
        d.text((x0 - 24, y0 + side - int(side * v) - 6), f"{v:g}", fill="black", font=font)
    d.text((x0 + side // 2 - 30, y0 + side + 20), "confidence", fill="black", font=font)


def reliability_image(
    before: Reliability, after: Reliability | None = None, temperature: float | None = None, side: int = 220
) -> Image.Image:
    """Reliability diagrams side by side: before the temperature and (when given) after it, each
    titled with its expected calibration error. Blue bars: accuracy per confidence bin; red: the gap
    to the bin's mean confidence; the diagonal: a calibrated model."""
    panels = [(before, f"before the temperature\nECE {before.ece:.2%}")]
    if after is not None:
        panels.append(
            (
                after,
                f"after T = {temperature:.3g}\nECE {after.ece:.2%}"
                if temperature is not None
                else f"after the temperature\nECE {after.ece:.2%}",
            )
        )
    font = ImageFont.load_default(size=12)
    margin, gap, top = 52, 44, 76  # (the page lays the image's label over its top edge)
    im = Image.new("RGB", (margin + len(panels) * (side + gap), top + side + 40), "white")
    d = ImageDraw.Draw(im)
    for k, (r, title) in enumerate(panels):
        _reliability_panel(d, r, margin + k * (side + gap), top, side, title, font)
    label = Image.new("RGB", (70, 16), "white")
    ImageDraw.Draw(label).text((2, 1), "accuracy", fill="black", font=font)
    im.paste(label.rotate(90, expand=True), (2, top + side // 2 - 35))
    return im
