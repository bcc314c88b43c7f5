"""Classify an image with a CNN Playground model exported to ONNX, using only onnxruntime, numpy
and Pillow (no PyTorch, no cnn package). It gives the app's answer: same preparation, same model,
same temperature.

    python -m cnn.export checkpoints/mnist.safetensors --onnx mnist.onnx      # once, with the project
    python examples/predict_onnx.py mnist.onnx my_digit.png [--top 3]

Everything the script needs rides in the ONNX file's metadata_props (cnn_playground.*): class names,
input shape, normalisation, temperature, whether the test-time flip is in the graph, and which
preparation the model expects:
  mnist_digit  a drawing prepared as MNIST was made (a port of cnn/serving/digits.py): find the ink,
               crop it, bring the strokes into MNIST's width range, scale the longer side to 20 px
               and centre it by centre of mass in 28x28, white ink on black;
  centre_crop  a photo centre-cropped to a square and resized (cnn/serving/photos.py).
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

PREFIX = "cnn_playground."
DIGIT_BOX, DIGIT_CANVAS = 20, 28
WORK = 5 * DIGIT_BOX  # working resolution for the stroke-width normalisation
MNIST_WIDTH = (8.8, 11.2, 14.9)  # MNIST stroke widths at WORK: 10th percentile, median, 90th
BLANK_CONTRAST = 0.1
DOT_SHARE = 0.12  # a dot: a compact blob under this share of the canvas's shorter side
MIN_GAP, MIN_STROKE = 8, 4  # at WORK: a dense drawing's gaps are opened to MIN_GAP, strokes kept >= MIN_STROKE


# ------------------------------------------------------------------ the model and its metadata


def load_model(path: str) -> tuple[ort.InferenceSession, dict]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    raw = session.get_modelmeta().custom_metadata_map
    meta = {k[len(PREFIX) :]: v for k, v in raw.items() if k.startswith(PREFIX)}
    for k in ("classes", "input_shape", "mean", "std"):
        meta[k] = json.loads(meta[k])
    meta["temperature"] = float(meta.get("temperature", 1.0))
    return session, meta


def probabilities(session: ort.InferenceSession, meta: dict, x: np.ndarray) -> np.ndarray:
    """uint8 C x H x W -> class probabilities: normalise, run (the graph averages the mirror where
    the model uses a test-time flip), softmax(logits / temperature)."""
    mean = np.asarray(meta["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["std"], np.float32).reshape(-1, 1, 1)
    batch = ((x.astype(np.float32) / np.float32(255) - mean) / std)[None].astype(np.float32)
    logits = session.run(None, {session.get_inputs()[0].name: batch})[0][0].astype(np.float64)
    z = logits / meta["temperature"]
    e = np.exp(z - z.max())
    return e / e.sum()


# ------------------------------------------------------------------ images in


def load_image(path: str) -> Image.Image:
    """Decoded, upright, first frame, 8-bit, mode L, RGB or RGBA (RGBA only with some transparency)."""
    im = Image.open(path)
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    im.load()
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        pass
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im).astype(np.float64)
        if im.mode == "F":
            lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
            a = np.nan_to_num((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a))
        elif a.max(initial=0) > 255 or im.mode.startswith("I;16"):
            a = a / 257.0
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode == "P" or (im.mode == "L" and "transparency" in im.info):
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    elif im.mode not in ("L", "RGB", "RGBA"):
        im = im.convert("RGB")
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        im = im.convert("RGB")
    return im


def resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a 2-D float array (PyTorch's interpolate(..., 'bilinear',
    antialias=True, align_corners=False), which follows Pillow's filter), one axis at a time."""
    return _weights(a.shape[0], size[0]) @ a.astype(np.float64) @ _weights(a.shape[1], size[1]).T


def _weights(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    support, inv = (scale, 1.0 / scale) if scale >= 1.0 else (1.0, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = scale * (i + 0.5)
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        taps = np.clip(1.0 - np.abs((np.arange(lo, hi) - centre + 0.5) * inv), 0.0, None)
        if taps.sum() > 0:
            w[i, lo:hi] = taps / taps.sum()
    return w


# ------------------------------------------------------------------ digits, as MNIST was made


def ink_map(im: Image.Image) -> np.ndarray | None:
    """Where the ink is (0 to 1), dark on light or light on dark, by alpha where it has any; None if blank."""
    a = np.asarray(im, dtype=np.float32) / 255.0
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
    if peak < BLANK_CONTRAST:
        return None
    ink = ink / peak
    ink[ink < 0.25] = 0
    return ink


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _window(m: np.ndarray, r: int, fn, outside: float) -> np.ndarray:
    """fn (np.max or np.min) over the (2r+1) x (2r+1) square around each pixel; `outside` beyond the edge."""
    p = np.pad(m, r, constant_values=outside)
    k = 2 * r + 1
    rows = fn(np.lib.stride_tricks.sliding_window_view(p, k, axis=0), axis=-1)
    return fn(np.lib.stride_tricks.sliding_window_view(rows, k, axis=1), axis=-1)


def stroke_width(mask: np.ndarray) -> float:
    area = float(mask.sum())
    if area == 0:
        return 0.0
    m = mask.astype(np.float32)
    boundary = float(np.clip(m - _window(m, 1, np.min, 0.0), 0, None).sum())
    return 2 * area / max(boundary, 1.0)


def typical_gap(mask: np.ndarray) -> float | None:
    """The median background run between two strokes, along rows or columns, whichever is narrower."""
    medians = []
    for lines in (mask.astype(np.int8), mask.T.astype(np.int8)):
        d = np.diff(np.pad(lines, ((0, 0), (1, 1))), axis=1)
        gaps = []
        for row_d in d:
            ends, starts = np.flatnonzero(row_d == -1), np.flatnonzero(row_d == 1)
            if len(starts) > 1:
                gaps.extend(starts[1:] - ends[:-1])
        if gaps:
            medians.append(float(np.median(gaps)))
    return min(medians) if medians else None


def normalise_strokes(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape
    s = WORK / max(h, w)
    x = resize(crop, (max(1, round(h * s)), max(1, round(w * s))))
    mask = np.pad(x >= 0.3 * float(x.max()), WORK // 4)
    width = stroke_width(mask)
    gap = typical_gap(mask)
    lo, mid, hi = MNIST_WIDTH
    if width < lo:
        r = round((mid - width) / 2)
        if gap is not None:  # keep the gaps open
            r = min(r, int((gap - MIN_GAP) // 2))
        if r > 0:
            mask = _window(mask.astype(np.float32), r, np.max, 0.0) > 0.5
    elif width > hi or (gap is not None and gap < MIN_GAP):
        r = round((width - mid) / 2) if width > hi else 0
        if gap is not None and gap < MIN_GAP:
            r = max(r, min(math.ceil((MIN_GAP - gap) / 2), int((width - MIN_STROKE) // 2)))
        if r > 0:
            thinner = _window(mask.astype(np.float32), r, np.min, 1.0) > 0.5
            if thinner.sum() > 0.25 * mask.sum():
                mask = thinner
    return mask.astype(np.float32)


def centre_by_mass(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    s = DIGIT_BOX / max(h, w)
    small = resize(crop, (max(1, round(h * s)), max(1, round(w * s)))).astype(np.float32)
    small = small / max(float(small.max()), 1e-6)
    sh, sw = small.shape
    total = small.sum()
    cy = float((small.sum(1) * np.arange(sh, dtype=np.float32)).sum() / total)
    cx = float((small.sum(0) * np.arange(sw, dtype=np.float32)).sum() / total)
    c = (DIGIT_CANVAS - 1) / 2
    top = min(max(round(c - cy), 0), DIGIT_CANVAS - sh)
    left = min(max(round(c - cx), 0), DIGIT_CANVAS - sw)
    out = np.zeros((DIGIT_CANVAS, DIGIT_CANVAS), np.float32)
    out[top : top + sh, left : left + sw] = small
    return out


def prepare_digit(im: Image.Image) -> np.ndarray:
    """uint8 1 x 28 x 28, or SystemExit with the app's message for a blank canvas or a dot."""
    ink = ink_map(im)
    if ink is None:
        raise SystemExit("Draw a digit: the canvas is empty.")
    ys, xs = np.nonzero(ink > 0)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    centre = crop[h // 3 : h - h // 3, w // 3 : w - w // 3]
    blob = centre.size == 0 or float(centre.mean()) > 0.5
    small = max(h, w) < DOT_SHARE * min(ink.shape)
    if max(h, w) <= 2 or (small and max(h, w) / min(h, w) < 1.6 and float((crop > 0.5).mean()) > 0.65 and blob):
        raise SystemExit("Draw a digit: a single dot is not a digit.")
    digit = centre_by_mass(normalise_strokes(crop))
    return np.clip(np.rint(digit * 255), 0, 255).astype(np.uint8)[None]


def fit(x: np.ndarray, shape: list[int]) -> np.ndarray:
    """A uint8 C x H x W image re-channelled and resized to the model's input shape (Predictor.fit)."""
    c, h, w = shape
    if x.shape[0] != c:
        x = x.astype(np.float32).mean(0, keepdims=True) if c == 1 else np.repeat(x[:1], c, axis=0)
    if x.shape[1:] != (h, w):
        x = np.stack([resize(ch.astype(np.float32), (h, w)) for ch in x])
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ photos


def prepare_photo(im: Image.Image, size: int, channels: int) -> np.ndarray:
    """uint8 channels x size x size: transparency onto white, centre crop to a square, Lanczos resize."""
    if im.mode == "RGBA":
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im)
    im = im.convert("RGB" if channels == 3 else "L")
    a = np.asarray(ImageOps.fit(im, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5)), np.uint8)
    return a.transpose(2, 0, 1).copy() if a.ndim == 3 else a[None].copy()


def predict(model_path: str, image_path: str, prep: str | None = None) -> dict[str, float]:
    """Class name -> probability, as the app gives it."""
    session, meta = load_model(model_path)
    c, h, _ = meta["input_shape"]
    im = load_image(image_path)
    if (prep or meta.get("preparation")) == "mnist_digit":
        x = fit(prepare_digit(im), meta["input_shape"])
    else:
        x = prepare_photo(im, h, c)
    return dict(zip(meta["classes"], probabilities(session, meta, x).tolist()))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="an ONNX file written by python -m cnn.export")
    p.add_argument("image", help="an image file (PNG, JPEG, ...)")
    p.add_argument("--prep", choices=("mnist_digit", "centre_crop"), help="override the model's preparation")
    p.add_argument("--top", type=int, default=0, help="print only the K most likely classes")
    args = p.parse_args(argv)
    probs = sorted(predict(args.model, args.image, args.prep).items(), key=lambda kv: -kv[1])
    for name, value in probs[: args.top or None]:
        print(f"{name}\t{value:.6f}")


if __name__ == "__main__":
    main()
