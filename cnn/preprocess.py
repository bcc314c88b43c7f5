"""Turn what a person uploads or draws into what a model takes. Never imports Gradio.

`load_image` accepts a path, bytes, a PIL image, a numpy array or an image-editor value (a dict
with 'composite', 'layers' and 'background') and returns a decoded PIL image (mode L, RGB or RGBA),
upright, first frame only, refusing with a clear `ImageError` what is not a usable image.
`preprocess_digit` prepares a drawing the way MNIST was made; `preprocess_photo` prepares a photo
for a CIFAR-sized model: centre crop to a square, then resize.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

MAX_PIXELS = 50_000_000     # larger images are refused from their header, before decoding
MIN_SIDE = 8                # smaller images carry too little to classify
MAX_FILE_BYTES = 50 * 2**20

DIGIT_BOX = 20              # MNIST: the digit's longer side is scaled to 20 px ...
DIGIT_CANVAS = 28           # ... and centred by centre of mass in a 28x28 field
_WORK = 5 * DIGIT_BOX       # working resolution for the stroke-width normalisation
# Stroke width of MNIST digits at the working resolution (_stroke_width on the test set):
# 10th percentile, median and 90th percentile. Drawings outside this band are thickened or thinned.
_MNIST_WIDTH = (8.8, 11.2, 14.9)
_BLANK_CONTRAST = 0.1       # an image whose ink differs from the background by less is blank

BLANK_MESSAGE = "Draw a digit: the canvas is empty."
DOT_MESSAGE = "Draw a digit: a single dot is not a digit."


# ---------------------------------------------------------------- loading

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
    raise ImageError(f"Cannot read an image from a {type(obj).__name__}. "
                     f"Give a file path, bytes, a PIL image or a numpy array.")


def _from_path(path: Path) -> Image.Image:
    name = path.name or str(path)
    if not path.is_file():
        raise ImageError(f"There is no file {name}.")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{name} is empty (0 bytes). Upload an image file such as a PNG or JPEG.")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{name} is {size / 2**20:.0f} MB; images up to {MAX_FILE_BYTES // 2**20} MB "
                         f"are accepted.")
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
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name} is far too large ({exc}). Images over "
                         f"{MAX_PIXELS // 1_000_000} megapixels are refused.") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is {_describe_non_image(head)}, not an image. "
                         f"Upload a PNG, JPEG, GIF, BMP or WebP image.") from None
    except Exception as exc:
        raise ImageError(f"{name} is damaged or truncated: it could not be read as an image "
                         f"({type(exc).__name__}). Upload a PNG, JPEG, GIF, BMP or WebP image.") from None
    with im:
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ImageError(f"{name} is {w} x {h} pixels ({w * h / 1e6:.0f} megapixels); images over "
                             f"{MAX_PIXELS // 1_000_000} megapixels are refused (it could be a "
                             f"decompression bomb). Resize it and try again.")
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
            raise ImageError(f"{name} is damaged or truncated and could not be decoded "
                             f"({type(exc).__name__}: {str(exc)[:80]}). Upload the image again or "
                             f"use another one.") from None
    return out


def _normalise(im: Image.Image, name: str) -> Image.Image:
    """Upright, 8-bit, and in mode L, RGB or RGBA (RGBA only when it has any transparency)."""
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name} is {w} x {h} pixels; images over {MAX_PIXELS // 1_000_000} "
                         f"megapixels are refused.")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{name} is only {w} x {h} pixels; it needs at least {MIN_SIDE} x {MIN_SIDE} "
                         f"pixels to be classified.")
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
        raise ImageError(f"An array of shape {tuple(a.shape)} is not an image; give H x W, "
                         f"H x W x 3 or H x W x 4.")
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
        return value.get("composite") is None and value.get("background") is None and not any(
            layer is not None for layer in value.get("layers") or [])
    return False


# ---------------------------------------------------------------- digits

@dataclass
class DigitResult:
    image: torch.Tensor | None      # uint8 1 x 28 x 28, white ink on black (as MNIST), or None
    preview: Image.Image | None     # the same 28 x 28, as a PIL image
    message: str = ""               # why there is no image (blank canvas, a dot)


def preprocess_digit(image) -> tuple[torch.Tensor, Image.Image] | None:
    """A drawing (anything load_image takes) as MNIST would have it: (uint8 1x28x28, 28x28 preview),
    or None for a blank canvas or a lone dot."""
    r = digit_input(image)
    return None if r.image is None else (r.image, r.preview)


def digit_input(image) -> DigitResult:
    """preprocess_digit with the reason when there is nothing to classify."""
    im = image if isinstance(image, Image.Image) and image.mode in ("L", "RGB", "RGBA") else load_image(image)
    ink = ink_map(im)
    if ink is None:
        return DigitResult(None, None, BLANK_MESSAGE)
    mask = ink > 0
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = bottom - top, right - left
    crop = ink[top:bottom, left:right]
    fill = float((crop > 0.5).mean())
    if max(h, w) <= 2 or (max(h, w) / min(h, w) < 1.6 and fill > 0.65 and _is_blob(crop)):
        return DigitResult(None, None, DOT_MESSAGE)
    x = _normalise_strokes(torch.from_numpy(np.ascontiguousarray(crop)))
    digit = _centre_by_mass(x)
    u8 = (digit * 255).round().clamp(0, 255).to(torch.uint8)
    return DigitResult(u8.unsqueeze(0), Image.fromarray(u8.numpy(), "L"))


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


def _is_blob(crop: np.ndarray) -> bool:
    """A compact filled shape with no hole: a dot, not a 0 (which has a hole in the middle)."""
    h, w = crop.shape
    centre = crop[h // 3: h - h // 3, w // 3: w - w // 3]
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


def _normalise_strokes(crop: torch.Tensor) -> torch.Tensor:
    """The cropped ink at the working resolution (longer side _WORK px), with its strokes
    thickened or thinned into MNIST's range, as a binary mask."""
    h, w = crop.shape
    s = _WORK / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    x = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True,
                      align_corners=False)[0, 0]
    mask = x >= 0.3 * float(x.max())
    pad = _WORK // 4  # room for thickening without clipping at the edges
    mask = F.pad(mask, (pad, pad, pad, pad))
    width = _stroke_width(mask)
    lo, mid, hi = _MNIST_WIDTH
    if width < lo:
        mask = _morph(mask, round((mid - width) / 2), grow=True)
    elif width > hi:
        thinner = _morph(mask, round((width - mid) / 2), grow=False)
        if thinner.sum() > 0.25 * mask.sum():  # never erode a drawing away
            mask = thinner
    return mask.float()


def _centre_by_mass(mask: torch.Tensor) -> torch.Tensor:
    """Crop to the ink, scale the longer side to 20 px keeping the aspect ratio, and paste into
    28x28 so that the centre of mass is at the centre (MNIST's own procedure)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    s = DIGIT_BOX / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    small = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True,
                          align_corners=False)[0, 0]
    small = small / small.max().clamp(min=1e-6)
    sh, sw = small.shape
    total = small.sum()
    cy = float((small.sum(1) * torch.arange(sh)).sum() / total)
    cx = float((small.sum(0) * torch.arange(sw)).sum() / total)
    c = (DIGIT_CANVAS - 1) / 2
    top = min(max(round(c - cy), 0), DIGIT_CANVAS - sh)
    left = min(max(round(c - cx), 0), DIGIT_CANVAS - sw)
    out = torch.zeros(DIGIT_CANVAS, DIGIT_CANVAS)
    out[top:top + sh, left:left + sw] = small
    return out


# ---------------------------------------------------------------- photos

def preprocess_photo(image, size: int = 32, channels: int = 3) -> tuple[torch.Tensor, Image.Image]:
    """A photo as a CIFAR-sized model takes it: centre crop to a square, resize to size x size.
    Returns (uint8 channels x size x size, preview). Transparency is flattened onto white."""
    im = image if isinstance(image, Image.Image) and image.mode in ("L", "RGB", "RGBA") else load_image(image)
    if im.mode == "RGBA":
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im)
    im = im.convert("RGB" if channels == 3 else "L")
    im = ImageOps.fit(im, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    a = np.asarray(im, dtype=np.uint8)
    x = torch.from_numpy(a.copy())
    x = x.permute(2, 0, 1) if x.ndim == 3 else x.unsqueeze(0)
    return x.contiguous(), im


def to_pil(x: torch.Tensor) -> Image.Image:
    """A uint8 C x H x W tensor (1 or 3 channels) as a PIL image."""
    a = x.detach().cpu().numpy()
    return Image.fromarray(a[0], "L") if a.shape[0] == 1 else Image.fromarray(a[:3].transpose(1, 2, 0), "RGB")


def enlarge(preview: Image.Image, side: int = 224) -> Image.Image:
    """A small preview scaled up with visible pixels, for display."""
    return preview.resize((side, side), Image.Resampling.NEAREST)
