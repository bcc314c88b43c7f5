"""One example of a project, as the model sees it: a drawing prepared exactly as the Draw tab does
(cnn.serving.digits.prepare_digit: 1 x 28 x 28, white ink on black) and a photo as the Photo tab
does (cnn.serving.photos.prepare_photo: 3 x 32 x 32). What cannot be an example is refused with an
ImageError that says why: a blank drawing, a lone dot, a photo given to a drawings project."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import ImageError
from ..serving.decode import BLANK_MESSAGE, load_image
from ..serving.digits import DOT_MESSAGE, ink_map, prepare_digit
from ..serving.photos import prepare_photo

KINDS = ("drawings", "photos")
SIDE = {"drawings": 28, "photos": 32}  # what the model sees: the Draw and Photo tabs' inputs
CHANNELS = {"drawings": 1, "photos": 3}
MAX_UPLOAD_BYTES = 20 * 2**20  # one uploaded example (the app's own upload limit)
STORED_SIDE = {"drawings": 840, "photos": 384}  # larger examples are stored scaled down to this
# A drawing is strokes on a plain ground. A photo given to a drawings project has "ink" (what
# differs from its border's colour) over most of it, or a border that is not one colour.
PHOTO_INK_SHARE = 0.5
PHOTO_BORDER_SHARE = 0.3
PHOTO_MESSAGE = (
    "This looks like a photo, not a drawing: a drawing is strokes on a plain background "
    "(the canvas, or a sheet of paper). Draw the class on the canvas, or add photos to a "
    "photos project."
)


def decode_example(obj, name: str = "The image") -> Image.Image:
    """An upload, a path, bytes, a PIL image or a Sketchpad value, decoded (cnn.serving.decode),
    refusing files over MAX_UPLOAD_BYTES before they are read."""
    size = None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        size = len(obj)
    elif isinstance(obj, (str, os.PathLike)) and Path(obj).is_file():
        size, name = Path(obj).stat().st_size, Path(obj).name
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"{name} is {size / 2**20:.1f} MB; examples up to {MAX_UPLOAD_BYTES // 2**20} MB "
            f"are accepted. Use a smaller image."
        )
    return load_image(obj)


def looks_like_photo(im: Image.Image) -> bool:
    """A photo rather than a drawing: ink over most of it, or a border of many colours."""
    ink = ink_map(im)
    if ink is None:
        return False
    if float((ink > 0).mean()) > PHOTO_INK_SHARE:
        return True
    if im.mode == "RGBA":  # strokes on a transparent layer (the Sketchpad): a drawing
        return False
    a = np.asarray(im.convert("RGB"), dtype=np.float32)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    far = np.abs(border - np.median(border, axis=0)).max(axis=1) > 40
    return float(far.mean()) > PHOTO_BORDER_SHARE


def prepare(kind: str, image) -> tuple[torch.Tensor, Image.Image]:
    """(uint8 C x H x W the model sees, that image as PIL) for a drawings or photos project's
    example, or an ImageError saying why it cannot be one."""
    im = decode_example(image)
    if kind == "photos":
        return prepare_photo(im, size=SIDE["photos"], channels=CHANNELS["photos"])
    if kind != "drawings":
        raise ValueError(f"unknown project kind {kind!r}")
    r = prepare_digit(im)
    if r.image is None:
        raise ImageError(
            {
                BLANK_MESSAGE: "The drawing is blank: draw the class on the canvas first.",
                DOT_MESSAGE: "The drawing is only a dot: draw the whole shape.",
            }.get(r.message, r.message)
        )
    if looks_like_photo(im):
        raise ImageError(PHOTO_MESSAGE)
    return r.image, r.preview


def stored_bytes(kind: str, image) -> tuple[bytes, Image.Image]:
    """The example as a PNG file's bytes (scaled down when large), checked first by `prepare`; and
    the prepared view (what the model sees)."""
    im = decode_example(image)
    _, seen = prepare(kind, im)
    side = STORED_SIDE[kind]
    if max(im.size) > side:
        im = im.copy()
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue(), seen


def same_example(data: bytes, files: list[Path]) -> Path | None:
    """The first of files that holds exactly the stored example `data` (stored_bytes' PNG: the same
    pixels give the same bytes), or None. Sizes are compared first, so few files are read."""
    for f in files:
        try:
            if f.stat().st_size == len(data) and f.read_bytes() == data:
                return f
        except OSError:  # removed meanwhile
            continue
    return None
