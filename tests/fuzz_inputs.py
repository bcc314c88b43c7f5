"""Images for the prediction endpoints' tests: a drawn 7, any image as file bytes, and the fuzz's
random and mutated files (tests/test_app_api.py over HTTP, tests/test_ui_handlers.py in process)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def _png(im: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def seven(size=(300, 400)) -> Image.Image:
    im = Image.new("RGB", size, "white")
    w, h = size
    ImageDraw.Draw(im).line(
        [(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.4 * w, 0.8 * h)], fill="black", width=max(4, w // 14)
    )
    return im


def mutations(seed: int, n: int) -> list[bytes]:
    """Random bytes, and valid PNG/JPEG/GIF/BMP files with bytes flipped, cut or inserted."""
    rng = random.Random(seed)
    valid = [_png(seven((64, 64)), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP")]
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(rng.randbytes(rng.randint(0, 3000)))
            continue
        b = bytearray(rng.choice(valid))
        if kind == 1:
            for _ in range(rng.randint(1, 20)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            b = b[: rng.randint(0, len(b))]
        else:
            pos = rng.randrange(len(b))
            b[pos:pos] = rng.randbytes(rng.randint(1, 64))
        out.append(bytes(b))
    return out
