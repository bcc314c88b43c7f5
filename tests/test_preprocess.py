"""cnn.serving (decode, digits, photos): safe image loading and MNIST-style digit preparation, on synthetic drawings
and on real MNIST digits drawn onto big canvases."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from app_helpers import checkpoint
from PIL import Image, ImageDraw

from cnn.errors import ImageError
from cnn.serving.decode import BLANK_MESSAGE, load_image
from cnn.serving.digits import DOT_MESSAGE, prepare_digit
from cnn.serving.photos import prepare_photo


def preprocess_digit(image):
    """(uint8 1x28x28, preview) for a drawing, None when there is nothing to classify."""
    r = prepare_digit(image)
    return None if r.image is None else (r.image, r.preview)


# ---------------------------------------------------------------- synthetic drawings


def seven(size=(800, 800), box=(250, 200, 400), width=30, bg=255, fg=0, mode="L"):
    im = Image.new(mode, size, bg)
    x, y, s = box
    ImageDraw.Draw(im).line([(x, y), (x + 0.6 * s, y), (x + 0.2 * s, y + s)], fill=fg, width=width)
    return im


def one(size=(800, 800), box=(400, 100, 500), width=10):
    im = Image.new("L", size, 255)
    x, y, s = box
    ImageDraw.Draw(im).line([(x, y), (x, y + s)], fill=0, width=width)
    return im


def zero(size=(800, 800), box=(250, 150, 450), width=30):
    im = Image.new("L", size, 255)
    x, y, s = box
    ImageDraw.Draw(im).ellipse([x, y, x + 0.6 * s, y + s], outline=0, width=width)
    return im


DRAWINGS = {
    "centred": (seven(), "7"),
    "off-centre": (seven(box=(20, 20, 200), width=15), "7"),
    "tiny": (seven(box=(600, 650, 25), width=3), "7"),
    "huge canvas": (seven(size=(4000, 3000), box=(1000, 500, 2000), width=120), "7"),
    "thin strokes": (seven(box=(200, 150, 500), width=2), "7"),
    "thick strokes": (seven(box=(200, 150, 500), width=110), "7"),
    "light on dark": (seven(bg=0, fg=255), "7"),
    "RGBA, transparent background": (seven(bg=(0, 0, 0, 0), fg=(0, 0, 0, 255), mode="RGBA"), "7"),
    "RGBA, white strokes": (seven(bg=(255, 255, 255, 0), fg=(255, 255, 255, 255), mode="RGBA"), "7"),
    "coloured strokes": (seven(bg=(255, 255, 255), fg=(200, 30, 30), mode="RGB"), "7"),
    "small canvas": (seven(size=(40, 40), box=(8, 6, 28), width=3), "7"),
    "wide canvas": (seven(size=(1600, 300), box=(1300, 30, 240), width=20), "7"),
    "thin 1": (one(width=4), "1"),
    "thick 1": (one(width=60), "1"),
    "0": (zero(), "0"),
    "thick 0": (zero(width=110), "0"),
}


def ink_stats(x: torch.Tensor):
    a = x[0].float()
    ys, xs = torch.nonzero(a > 40, as_tuple=True)
    h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
    cy = float((a.sum(1) * torch.arange(28)).sum() / a.sum())
    cx = float((a.sum(0) * torch.arange(28)).sum() / a.sum())
    return h, w, cy, cx


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_drawing_becomes_an_mnist_style_digit(name):
    image, _ = DRAWINGS[name]
    out = preprocess_digit(image)
    assert out is not None
    x, preview = out
    assert x.dtype == torch.uint8 and tuple(x.shape) == (1, 28, 28)
    assert preview.size == (28, 28)
    assert int(x.max()) == 255 and int(x[0, 0, 0]) == 0  # white ink on black, as MNIST
    h, w, cy, cx = ink_stats(x)
    assert 18 <= max(h, w) <= 21, (h, w)  # the longer side scaled to 20 px
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0, (cy, cx)  # centred by centre of mass


def test_same_digit_whatever_the_canvas():
    """Off-centre, scaled, inverted or transparent versions of one drawing give nearly the same 28x28."""
    ref = preprocess_digit(seven())[0].float()
    for im in (
        seven(box=(30, 40, 400)),
        seven(bg=0, fg=255),
        seven(size=(1600, 1600), box=(500, 400, 800), width=60),
        seven(bg=(0, 0, 0, 0), fg=(0, 0, 0, 255), mode="RGBA"),
    ):
        x = preprocess_digit(im)[0].float()
        assert (x - ref).abs().mean() < 12, "the preprocessing should not depend on the canvas"


@pytest.fixture(scope="module")
def mnist_predictor():
    from cnn.serving.predictor import Predictor

    return Predictor.from_checkpoint(checkpoint("mnist"))


def top(pred, x) -> str:
    p = pred.predict(x)
    return max(p, key=p.get)


def test_synthetic_drawings_are_read_correctly(mnist_predictor):
    wrong = {
        name: top(mnist_predictor, preprocess_digit(im)[0])
        for name, (im, digit) in DRAWINGS.items()
        if top(mnist_predictor, preprocess_digit(im)[0]) != digit
    }
    assert not wrong, f"misread: {wrong}"


def test_real_mnist_digits_on_big_canvases(mnist, mnist_predictor):
    """200 MNIST test digits, enlarged 3 to 25 times, placed anywhere on big canvases, either polarity,
    some on a transparent layer: read as well as the 28x28 originals."""
    rng = np.random.default_rng(0)
    n, raw, drawn = 200, 0, 0
    for i in range(n):
        a = mnist.test.images[i, 0].numpy()
        label = mnist.classes[int(mnist.test.labels[i])]
        raw += top(mnist_predictor, torch.from_numpy(a)[None]) == label
        k = int(rng.integers(3, 26))
        big = Image.fromarray(a, "L").resize((28 * k, 28 * k), Image.Resampling.BILINEAR)
        side = max(900, 28 * k + 20)
        style = i % 3
        if style == 0:  # dark ink on white paper
            canvas = Image.new("L", (side, side - 100), 255)
            ink = Image.fromarray(255 - np.asarray(big), "L")
            canvas.paste(ink, (int(rng.integers(0, side - ink.width)), int(rng.integers(0, side - 100 - ink.height))))
        elif style == 1:  # light ink on black
            canvas = Image.new("L", (side, side), 0)
            canvas.paste(big, (int(rng.integers(0, side - big.width)), int(rng.integers(0, side - big.height))))
        else:  # black strokes on a transparent layer, the ink in the alpha channel
            canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
            layer = Image.merge("RGBA", [Image.new("L", big.size, 0)] * 3 + [big])
            canvas.paste(layer, (int(rng.integers(0, side - big.width)), int(rng.integers(0, side - big.height))))
        drawn += top(mnist_predictor, preprocess_digit(canvas)[0]) == label
    assert drawn / n >= 0.97, f"{drawn}/{n} read correctly"
    assert drawn >= raw - 4, f"preprocessed {drawn}/{n} vs the originals {raw}/{n}"


def test_blank_and_single_dot_say_draw_a_digit():
    assert preprocess_digit(Image.new("L", (800, 800), 255)) is None
    assert prepare_digit(Image.new("L", (800, 800), 255)).message == BLANK_MESSAGE
    assert prepare_digit(Image.new("RGBA", (800, 800), (0, 0, 0, 0))).message == BLANK_MESSAGE
    assert prepare_digit(Image.new("L", (800, 800), 0)).message == BLANK_MESSAGE
    dot = Image.new("L", (800, 800), 255)
    ImageDraw.Draw(dot).ellipse([390, 390, 410, 410], fill=0)
    assert prepare_digit(dot).message == DOT_MESSAGE
    speck = Image.new("L", (800, 800), 255)
    speck.putpixel((5, 5), 0)
    assert prepare_digit(speck).message == DOT_MESSAGE
    noise = Image.fromarray(np.random.default_rng(0).integers(250, 256, (300, 300), dtype=np.uint8), "L")
    assert preprocess_digit(noise) is None  # faint paper texture is not ink


def test_editor_value():
    layer = seven(bg=(0, 0, 0, 0), fg=(0, 0, 0, 255), mode="RGBA")
    white = Image.new("RGBA", layer.size, (255, 255, 255, 255))
    # the composite, the layers over a background and a numpy composite: one and the same digit
    ref = preprocess_digit(seven())[0]
    for value in (
        {"composite": layer, "layers": [], "background": None},
        {"composite": None, "layers": [layer], "background": white},
        {"composite": np.asarray(layer), "layers": [], "background": None},
    ):
        out = preprocess_digit(value)
        assert out is not None and (out[0].float() - ref.float()).abs().mean() < 10, value.keys()
    with pytest.raises(ImageError, match="canvas is empty"):
        load_image({"composite": None, "layers": [], "background": None})


# ---------------------------------------------------------------- loading anything safely


def png_bytes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", r"empty \(0 bytes\)"),
        (b"hello, this is not an image\n", "text file, not an image"),
        (b"PK\x03\x04" + bytes(100), "ZIP archive, not an image"),
        (b"\x80\x04\x95" + bytes(50), "not an image"),
        (bytes(range(256)) * 4, "not an image"),
    ],
)
def test_not_an_image(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


def test_truncated_and_corrupt_files():
    good = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(good[: len(good) // 2])
    corrupt = bytearray(good)
    corrupt[100:140] = bytes(40)
    with pytest.raises(ImageError, match="damaged or truncated|not an image"):
        load_image(bytes(corrupt))
    jpeg = png_bytes(Image.new("RGB", (64, 64), "red"), format="JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(jpeg[:200])


def test_zero_byte_and_missing_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png is empty"):
        load_image(str(empty))
    with pytest.raises(ImageError, match="no file"):
        load_image(tmp_path / "nope.png")


def test_decompression_bomb_refused_before_decoding():
    # A 60-megapixel bilevel PNG: small on disk, 60 MB once decoded.
    bomb = png_bytes(Image.new("1", (10_000, 6_000), 0))
    assert len(bomb) < 200_000
    t = time.perf_counter()
    with pytest.raises(ImageError, match=r"too large \(60 megapixels\); images over 16 megapixels are refused"):
        load_image(bomb)
    assert time.perf_counter() - t < 0.5  # refused from the header, not decoded
    huge = png_bytes(Image.new("1", (15_000, 13_000), 0))  # over PIL's own limit as well
    with pytest.raises(ImageError, match="megapixels"):
        load_image(huge)


def test_tiny_image_refused():
    with pytest.raises(ImageError, match="only 1 x 1 pixels"):
        load_image(png_bytes(Image.new("RGB", (1, 1), "red")))
    with pytest.raises(ImageError, match="only 1 x 1 pixels"):
        load_image(np.zeros((1, 1), np.uint8))


def test_modes_are_normalised():
    cmyk = load_image(png_bytes(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), format="JPEG"))
    assert cmyk.mode == "RGB" and cmyk.getpixel((5, 5))[0] > 200  # red stays red
    a16 = np.full((32, 32), 65535, np.uint16)
    a16[:, :16] = 32896
    im16 = load_image(png_bytes(Image.fromarray(a16)))
    assert im16.mode == "L" and im16.getpixel((20, 5)) == 255 and im16.getpixel((5, 5)) == 128
    assert load_image(a16).getpixel((5, 5)) == 128
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.info["transparency"] = 1
    ImageDraw.Draw(pal).rectangle([0, 0, 15, 31], fill=1)
    loaded = load_image(png_bytes(pal, transparency=1))
    assert loaded.mode == "RGBA" and loaded.getpixel((5, 5))[3] == 0 and loaded.getpixel((20, 5)) == (255, 0, 0, 255)
    assert load_image(png_bytes(Image.new("P", (32, 32), 0))).mode == "RGB"
    assert load_image(png_bytes(Image.new("LA", (32, 32), (10, 0)))).mode == "RGBA"
    assert load_image(png_bytes(Image.new("RGBA", (32, 32), (1, 2, 3, 255)))).mode == "RGB"  # opaque alpha
    assert load_image(png_bytes(Image.new("1", (32, 32), 1))).mode == "L"
    assert load_image(Image.new("I", (32, 32), 300)).getpixel((0, 0)) == 1  # 16-bit data in a 32-bit image


def test_arrays():
    assert load_image(np.zeros((20, 30), np.uint8)).size == (30, 20)
    assert load_image(np.zeros((20, 30, 3), np.uint8)).mode == "RGB"
    assert load_image(np.zeros((3, 20, 30), np.uint8)).size == (30, 20)  # C x H x W
    assert load_image(np.ones((20, 30), np.float32)).getpixel((0, 0)) == 255  # floats in [0, 1]
    assert load_image(np.ones((20, 30), bool)).getpixel((0, 0)) == 255
    assert load_image(torch.zeros(1, 20, 30, dtype=torch.uint8)).size == (30, 20)
    with pytest.raises(ImageError, match="not an image"):
        load_image(np.zeros((20, 30, 7), np.uint8))
    with pytest.raises(ImageError, match="Cannot read an image from a"):
        load_image(12345)
    with pytest.raises(ImageError, match="No image"):
        load_image(None)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("L", (32, 32), 0), Image.new("L", (32, 32), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    im = load_image(buf.getvalue())
    assert np.asarray(im.convert("L")).max() == 0


def test_exif_rotation_is_applied():
    upright = seven(size=(200, 300), box=(50, 50, 200), width=12).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    im = load_image(png_bytes(stored, format="JPEG", exif=exif.tobytes(), quality=95))
    assert im.size == upright.size
    a, b = np.asarray(im.convert("L"), float), np.asarray(upright.convert("L"), float)
    assert np.abs(a - b).mean() < 10


# ---------------------------------------------------------------- photos


def test_photo_is_centre_cropped_then_resized():
    a = np.zeros((32, 64, 3), np.uint8)
    a[:, :16] = (255, 0, 0)
    a[:, 16:48] = (0, 255, 0)
    a[:, 48:] = (0, 0, 255)
    x, preview = prepare_photo(Image.fromarray(a))
    assert x.dtype == torch.uint8 and tuple(x.shape) == (3, 32, 32) and preview.size == (32, 32)
    assert x[1].float().mean() > 250 and x[0].float().mean() < 5  # only the green middle is kept
    x, _ = prepare_photo(np.zeros((500, 300, 3), np.uint8), size=28, channels=1)
    assert tuple(x.shape) == (1, 28, 28)
    x, _ = prepare_photo(Image.new("RGBA", (40, 40), (0, 0, 0, 0)))
    assert int(x.min()) == 255  # transparency becomes white
