"""Untrusted images in: whatever a person uploads, pastes or draws, decoded into a PIL image.

`load_image` accepts a path, bytes, a PIL image, a numpy array or an image-editor value (a dict
with 'composite', 'layers' and 'background') and returns a decoded PIL image (mode L, RGB or RGBA),
upright, first frame only, refusing with a clear `ImageError` what is not a usable image. An image
over cnn.limits.MAX_IMAGE_PIXELS (16 megapixels by default) is refused from its header, before it
is decoded.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import limits
from ..errors import ImageError

MIN_SIDE = 8  # smaller images carry too little to classify


MAX_FILE_BYTES = 50 * 2**20
BLANK_MESSAGE = "Draw a digit: the canvas is empty."


def load_image(obj) -> Image.Image:
    """Decode an upload into a PIL image in mode 'L', 'RGB' or 'RGBA', or raise ImageError."""
    if obj is None:
        raise ImageError("No image was given. Upload, paste or draw an image.")
    if isinstance(obj, dict):
        return _from_editor(obj)
    if isinstance(obj, Image.Image):
        return _normalise(obj, "The image")
    if isinstance(obj, np.ndarray):
        return _from_array(obj)
    if isinstance(obj, torch.Tensor):
        return _from_array(obj.detach().cpu().numpy())
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        if not data:
            raise ImageError("The file is empty (0 bytes). Upload an image file such as a PNG or JPEG.")
        return _open(io.BytesIO(data), "The uploaded data", data[:16])
    if isinstance(obj, (str, os.PathLike)):
        return _from_path(Path(obj))
    if hasattr(obj, "read"):
        return load_image(obj.read())
    raise ImageError(
        f"Cannot read an image from a {type(obj).__name__}. Give a file path, bytes, a PIL image or a numpy array."
    )


def decoded(image) -> Image.Image:
    """An already decoded PIL image as it is; anything else through load_image."""
    return image if isinstance(image, Image.Image) and image.mode in ("L", "RGB", "RGBA") else load_image(image)


def _from_path(path: Path) -> Image.Image:
    name = path.name or str(path)
    if not path.is_file():
        raise ImageError(f"There is no file {name}.")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{name} is empty (0 bytes). Upload an image file such as a PNG or JPEG.")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{name} is {size / 2**20:.0f} MB; images up to {MAX_FILE_BYTES // 2**20} MB are accepted.")
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(0)
        return _open(f, name, head)


def _describe_non_image(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "a ZIP archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head[:1] == b"\x80" or head.startswith(b"\x1f\x8b"):
        return "a pickle or compressed file"
    if head.lstrip().startswith((b"<svg", b"<?xml")):
        return "an SVG or XML file (vector images are not supported)"
    try:
        text = head.decode("utf-8")
        if text and all(c.isprintable() or c in "\r\n\t" for c in text):
            return "a text file"
    except UnicodeDecodeError:
        pass
    return "not an image format that can be read"


def _open(fp, name: str, head: bytes) -> Image.Image:
    """Open from a file object: header first (size checked before any decoding), then decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp)
    except Image.DecompressionBombError:  # PIL's own check (cnn.limits keeps it at the limit)
        fp.seek(0)
        limits.check_image_header(fp, name)  # says how large, in the limit's words
        raise ImageError(f"{name} is too large; images over {limits.megapixels()} megapixels are refused.") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is {_describe_non_image(head)}, not an image. Upload a PNG, JPEG, GIF, BMP or WebP image."
        ) from None
    except Exception as exc:
        raise ImageError(
            f"{name} is damaged or truncated: it could not be read as an image "
            f"({type(exc).__name__}). Upload a PNG, JPEG, GIF, BMP or WebP image."
        ) from None
    with im:
        limits.check_image_size(*im.size, name)
        try:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # an animated image: its first frame
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.load()
                out = _normalise(im, name)
        except ImageError:
            raise
        except Exception as exc:
            raise ImageError(
                f"{name} is damaged or truncated and could not be decoded "
                f"({type(exc).__name__}: {str(exc)[:80]}). Upload the image again or "
                f"use another one."
            ) from None
    return out


def _normalise(im: Image.Image, name: str) -> Image.Image:
    """Upright, 8-bit, and in mode L, RGB or RGBA (RGBA only when it has any transparency)."""
    w, h = im.size
    limits.check_image_size(w, h, name)
    if min(w, h) < MIN_SIDE:
        raise ImageError(
            f"{name} is only {w} x {h} pixels; it needs at least {MIN_SIDE} x {MIN_SIDE} pixels to be classified."
        )
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        pass  # a broken EXIF block: keep the image as stored
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        im = _to_8bit(im)
    elif mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "L" and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert("RGB")  # an alpha channel that is opaque everywhere
    return im


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit or 32-bit grey to 8-bit: 16-bit data is scaled by 1/257, floats by their range."""
    a = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = np.nan_to_num((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a))
    elif a.max(initial=0) > 255 or im.mode.startswith("I;16"):
        a = a / 257.0
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def _from_array(a: np.ndarray) -> Image.Image:
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # C x H x W
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ImageError(f"An array of shape {tuple(a.shape)} is not an image; give H x W, H x W x 3 or H x W x 4.")
    if a.size == 0:
        raise ImageError("The image is empty (0 pixels).")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64))
        a = a * 255 if a.max(initial=0) <= 1.0 else a
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    elif a.dtype == np.uint16 or (np.issubdtype(a.dtype, np.integer) and a.max(initial=0) > 255):
        a = np.clip(a.astype(np.float64) / (257.0 if a.max(initial=0) <= 65535 else a.max() / 255), 0, 255)
        a = np.rint(a).astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[a.shape[-1] if a.ndim == 3 else 2]
    return _normalise(Image.fromarray(np.ascontiguousarray(a), mode), "The image")


def _from_editor(value: dict) -> Image.Image:
    """An ImageEditor/Sketchpad value: its composite, else the background with the layers on top."""
    if value.get("composite") is not None:
        return load_image(value["composite"])
    parts = [value.get("background")] + list(value.get("layers") or [])
    images = [load_image(p).convert("RGBA") for p in parts if p is not None]
    if not images:
        raise ImageError(BLANK_MESSAGE)
    out = images[0]
    for layer in images[1:]:
        if layer.size != out.size:
            layer = layer.resize(out.size)
        out = Image.alpha_composite(out, layer)
    return _normalise(out, "The drawing")


def is_empty_editor(value) -> bool:
    """True for an editor value (or None) that holds no image at all."""
    if value is None:
        return True
    if isinstance(value, dict):
        return (
            value.get("composite") is None
            and value.get("background") is None
            and not any(layer is not None for layer in value.get("layers") or [])
        )
    return False


DATA_URL_PREFIX = "data:image/png;base64,"
MAX_DATA_URL_CHARS = 4 * 2**20  # a 420x420 drawing is ~30 KB; anything this long is not one


def from_data_url(text: str | None, name: str = "The drawing") -> Image.Image | None:
    """A page canvas's PNG data URL (`canvas.toDataURL()`) decoded as load_image does; None for ''.
    Its length is checked before it is decoded, and the PNG's header before its pixels."""
    if not text:
        return None
    if not isinstance(text, str) or not text.startswith(DATA_URL_PREFIX):
        raise ImageError(f"{name} did not come as a PNG from the page's canvas. Reload the page and draw again.")
    if len(text) > MAX_DATA_URL_CHARS:
        raise ImageError(f"{name} is over {MAX_DATA_URL_CHARS // 2**20} MB; a canvas drawing is far smaller.")
    try:
        data = base64.b64decode(text[len(DATA_URL_PREFIX) :], validate=True)
    except ValueError:
        raise ImageError(f"{name} arrived damaged (not base64). Reload the page and draw again.") from None
    return load_image(data)
