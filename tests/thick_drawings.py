"""Thick-brush drawings as the Draw tab's Sketchpad delivers them (RGBA, black strokes on a
transparent 600 x 600 canvas): every digit, a spiral, a zigzag and filled shapes, drawn as stroke
paths with round ends (as a brush leaves), a given share of the canvas wide."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 600  # ui/draw_tab.py's CANVAS


def _arc(cx, cy, rx, ry, a0, a1, n=40):
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


# Each digit as strokes in a unit box (x 0..0.6 wide, y 0..1 down), as a person draws it.
DIGIT_STROKES = {
    "0": [_arc(0.3, 0.5, 0.3, 0.5, 0, 360)],
    "1": [np.array([[0.15, 0.2], [0.35, 0.0], [0.35, 1.0]])],
    "2": [np.concatenate([_arc(0.3, 0.28, 0.28, 0.28, 190, 360 + 40, 30), [[0.0, 1.0], [0.6, 1.0]]])],
    "3": [_arc(0.28, 0.25, 0.28, 0.25, 200, 450, 30), _arc(0.28, 0.75, 0.3, 0.25, -90, 160, 30)],
    "4": [np.array([[0.4, 0.0], [0.0, 0.65], [0.6, 0.65]]), np.array([[0.45, 0.3], [0.45, 1.0]])],
    "5": [
        np.array([[0.55, 0.0], [0.08, 0.0], [0.05, 0.45]]),
        np.concatenate([[[0.05, 0.45]], _arc(0.28, 0.7, 0.3, 0.28, -110, 150, 30)]),
    ],
    "6": [np.concatenate([_arc(0.45, 0.5, 0.4, 0.5, 250, 180, 15), _arc(0.3, 0.72, 0.27, 0.27, 180, 180 + 360, 40)])],
    "7": [np.array([[0.0, 0.0], [0.6, 0.0], [0.2, 1.0]])],
    "8": [_arc(0.3, 0.25, 0.22, 0.24, 0, 360), _arc(0.3, 0.74, 0.28, 0.26, 0, 360)],
    "9": [_arc(0.3, 0.27, 0.27, 0.27, 0, 360), np.array([[0.57, 0.27], [0.5, 1.0]])],
}

SPIRAL = [
    np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)
    for t in [np.linspace(0, 5 * math.pi, 160)]
    for r in [0.02 + 0.48 * t / t[-1]]
]
ZIGZAG = [np.array([[0.0, y] if i % 2 == 0 else [1.0, y] for i, y in enumerate(np.linspace(0, 1, 6))])]


def drawn(
    strokes, width_share: float, stroke_px: int, aspect: float | None = None, canvas: int = CANVAS, filled: bool = False
) -> Image.Image:
    """The strokes scaled so that the drawing is width_share of the canvas wide and `aspect` times
    as high (None: as the strokes are), centred, drawn stroke_px wide with round ends.
    filled: each stroke is a closed outline, filled in."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    w, h = np.maximum(hi - lo, 1e-9)
    sx = width_share * canvas / w
    s = np.array([sx, sx if aspect is None else aspect * w * sx / h])
    s *= min(1.0, 0.85 * canvas / (h * s[1]))  # a tall drawing stays on the canvas
    centre = np.array([canvas / 2, canvas / 2]) - (lo + hi) / 2 * s
    im = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    ink = (0, 0, 0, 255)
    for stroke in strokes:
        xy = [tuple(p) for p in stroke * s + centre]
        if filled:
            d.polygon(xy, fill=ink)
            continue
        d.line(xy, fill=ink, width=stroke_px, joint="curve")
        for x, y in xy:  # a brush leaves a round mark at every point it passes
            d.ellipse([x - stroke_px / 2, y - stroke_px / 2, x + stroke_px / 2, y + stroke_px / 2], fill=ink)
    return im


def digit(name: str, width_share: float = 0.33, stroke_px: int = 46, aspect: float = 1.3) -> Image.Image:
    """A digit drawn quickly and big: `aspect` times as high as wide (a "1" keeps its own shape)."""
    return drawn(DIGIT_STROKES[name], width_share, stroke_px, None if name == "1" else aspect)


FILLED = {
    "disc": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360)],
    "square": [np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)],
    "triangle": [np.array([[0.5, 0], [1, 1], [0, 1]], dtype=float)],
}


def filled(name: str, width_share: float = 0.33) -> Image.Image:
    return drawn(FILLED[name], width_share, 0, filled=True)


def dot(diameter: int = 30, canvas: int = CANVAS) -> Image.Image:
    """A lone small mark: one click of the brush."""
    im = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    c = canvas / 2
    ImageDraw.Draw(im).ellipse(
        [c - diameter / 2, c - diameter / 2, c + diameter / 2, c + diameter / 2], fill=(0, 0, 0, 255)
    )
    return im


def holes(image, threshold: int = 128) -> int:
    """How many holes the ink (a uint8 H x W array or tensor, white ink on black) encloses: the
    regions of background, 4-connected, that do not touch the border."""
    ink = np.asarray(image) >= threshold
    h, w = ink.shape
    seen = ink.copy()
    count = 0
    for y0 in range(h):
        for x0 in range(w):
            if seen[y0, x0]:
                continue
            stack, border = [(y0, x0)], False
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                border |= y in (0, h - 1) or x in (0, w - 1)
                for v, u in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                    if 0 <= v < h and 0 <= u < w and not seen[v, u]:
                        seen[v, u] = True
                        stack.append((v, u))
            count += not border
    return count
