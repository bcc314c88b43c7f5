"""The stated limits on what a person, an upload or a checkpoint can name, checked before anything
is decoded, read or allocated (docs/deploying.md, "Limits on what a person sends").

- **Images**: at most MAX_IMAGE_PIXELS pixels (16 megapixels: a 4928 x 3264 camera photo passes),
  refused from the header, before decoding. $CNN_MAX_IMAGE_MEGAPIXELS or the app's
  --max-image-megapixels changes it (`set_max_image_pixels`). PIL's own decompression-bomb check
  is kept on and follows it: any Image.open in the process (Gradio's Sketchpad included) raises
  above the limit too (PIL raises above twice its MAX_IMAGE_PIXELS, so that is set to half).
- **Models**: images of at most MAX_CHANNELS channels and MAX_IMAGE_SIDE pixels a side, and at most
  MAX_CLASSES classes, for every model a checkpoint, a recipe or a folder names (`check_input`).
- **Layers JSON**: at most MAX_LAYERS_JSON_BYTES, refused unread (`read_layers_text`).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from .errors import ConfigError, ImageError

DEFAULT_IMAGE_MEGAPIXELS = 16
MAX_CHANNELS = 4  # grey, RGB, RGBA
MAX_IMAGE_SIDE = 256  # every shipped model and preset takes 28-64; a folder defaults to 64
MAX_CLASSES = 1000  # ImageNet's count
MAX_LAYERS_JSON_BYTES = 200_000  # cnn.models.design.MAX_JSON_CHARS: 300 layers take about 30 KB


def _from_env() -> int:
    raw = os.environ.get("CNN_MAX_IMAGE_MEGAPIXELS", "").strip()
    try:
        mp = float(raw) if raw else DEFAULT_IMAGE_MEGAPIXELS
    except ValueError:
        mp = DEFAULT_IMAGE_MEGAPIXELS
    return int(max(0.01, mp) * 1_000_000)


MAX_IMAGE_PIXELS = _from_env()


def set_max_image_pixels(pixels: int) -> None:
    """The image limit for the whole process, PIL's decompression-bomb check included (it raises
    above 2 x Image.MAX_IMAGE_PIXELS, and only warns between 1x and 2x)."""
    global MAX_IMAGE_PIXELS
    MAX_IMAGE_PIXELS = max(2, int(pixels))
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS // 2


set_max_image_pixels(MAX_IMAGE_PIXELS)


def megapixels(pixels: int | None = None) -> str:
    mp = (MAX_IMAGE_PIXELS if pixels is None else pixels) / 1e6
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.2g}"


def check_image_size(width: int, height: int, name: str = "The image") -> None:
    """Refuse an image whose header says it is over MAX_IMAGE_PIXELS, with a message that says
    what to do."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"{name} is {width} x {height} pixels ({megapixels(width * height)} megapixels); images over "
            f"{megapixels()} megapixels are refused before they are decoded. Resize it and try again."
        )


def check_image_header(source, name: str = "The image") -> None:
    """Refuse an image file (a path or a binary file object) over MAX_IMAGE_PIXELS from its header
    alone (nothing decoded). A file PIL cannot open is left to the decoder to describe."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                size = im.size
    except Image.DecompressionBombError as exc:  # over PIL's own check, which follows this limit
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        what = f" ({megapixels(int(pixels.group(1)))} megapixels)" if pixels else ""
        raise ImageError(
            f"{name} is too large{what}; images over {megapixels()} megapixels are refused before "
            f"they are decoded (it could be a decompression bomb). Resize it and try again."
        ) from None
    except Exception:
        return
    check_image_size(*size, name)


def image_fits(path: str | os.PathLike) -> bool:
    """An image file within the limit, from its header: what a folder of images may decode."""
    try:
        check_image_header(path)
    except ImageError:
        return False
    return True


def check_input(channels, side, classes, name: str = "The model") -> tuple[int, int, int]:
    """(channels, side, classes) as ints, refused with a ConfigError when a checkpoint or a data set
    names more than the limits (or less than 1), before any model is built for them."""
    try:
        c, s, k = int(channels), int(side), int(classes)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} names an input shape or class count that is not a number.") from None
    if not 1 <= c <= MAX_CHANNELS:
        raise ConfigError(f"{name} takes {c}-channel images; 1 to {MAX_CHANNELS} channels are accepted.")
    if not 1 <= s <= MAX_IMAGE_SIDE:
        raise ConfigError(
            f"{name} takes {s} x {s} images; sides from 1 to {MAX_IMAGE_SIDE} pixels are accepted. "
            f"Use smaller images (image_size)."
        )
    if not 1 <= k <= MAX_CLASSES:
        raise ConfigError(f"{name} has {k:,} classes; 1 to {MAX_CLASSES:,} are accepted.")
    return c, s, k


def check_file_size(path: Path, limit: int, missing: str, over: Callable[[int], str], error=ConfigError) -> int:
    """The size of the file at `path`, refused with `error` before anything reads it: `missing` when
    it is not there, `over(size)` when it is over `limit` bytes."""
    if not path.is_file():
        raise error(missing)
    size = path.stat().st_size
    if size > limit:
        raise error(over(size))
    return size


def read_layers_text(path: str | os.PathLike) -> str:
    """A layers JSON file's text, refused unread when it is over MAX_LAYERS_JSON_BYTES."""
    path = Path(path)
    check_file_size(
        path,
        MAX_LAYERS_JSON_BYTES,
        f"No design file at {path}; give a JSON file with a list of layers (docs/design.md).",
        lambda size: (
            f"{path.name} is {size:,} bytes; a layers JSON is at most {MAX_LAYERS_JSON_BYTES:,} bytes. "
            f"It is refused unread."
        ),
    )
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(MAX_LAYERS_JSON_BYTES + 1)[:MAX_LAYERS_JSON_BYTES]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as text ({exc}).") from None


def check_layers_text(text) -> None:
    """Refuse layers JSON text (or bytes) over MAX_LAYERS_JSON_BYTES before it is parsed."""
    if isinstance(text, str):  # a character is 1 to 4 bytes: encode only when that decides it
        size = len(text)
        if MAX_LAYERS_JSON_BYTES // 4 < size <= MAX_LAYERS_JSON_BYTES:
            size = len(text.encode("utf-8", "replace"))
    elif isinstance(text, (bytes, bytearray, memoryview)):
        size = len(text)
    else:
        return
    if size > MAX_LAYERS_JSON_BYTES:
        raise ConfigError(
            f"The layers JSON is {size:,} bytes; the limit is {MAX_LAYERS_JSON_BYTES:,}. It is refused unread."
        )
