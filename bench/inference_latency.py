"""Draw and Photo prediction latency on the CPU, preprocessing included, over 500 calls each,
PyTorch eager and ONNX Runtime side by side.

    python bench/inference_latency.py [--calls 500]

Draw: a 560x560 RGBA canvas holding an MNIST test digit drawn large and off-centre, through
cnn.serving.digits.prepare_digit and the shipped MNIST model. Photo: a 640x480 RGB photo (a CIFAR
test image enlarged), through cnn.serving.photos.prepare_photo and the shipped CIFAR-10 model.
The baseline row of each is the model's forward pass alone on an already-prepared input. Each
input is timed with both backends one call after the other (Predictor backend='pytorch' and
backend='onnxruntime', one intra-op thread each), so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import common  # noqa: F401
from common import header, table
from PIL import Image

from cnn.data import load_dataset
from cnn.serving.digits import prepare_digit
from cnn.serving.onnx_runtime import onnxruntime_or_none
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, inputs, calls: int) -> list[float]:
    for x in inputs[:10]:
        fn(x)  # warm-up
    out = []
    for i in range(calls):
        t = time.perf_counter()
        fn(inputs[i % len(inputs)])
        out.append((time.perf_counter() - t) * 1000)
    return out


def timed_pair(fns, inputs, calls: int) -> list[list[float]]:
    """Each function's times on the same inputs, the functions taking turns call by call."""
    for x in inputs[:10]:
        for fn in fns:
            fn(x)  # warm-up
    out = [[] for _ in fns]
    for i in range(calls):
        for fn, times in zip(fns, out):
            t = time.perf_counter()
            fn(inputs[i % len(inputs)])
            times.append((time.perf_counter() - t) * 1000)
    return out


def row(name, ms) -> dict:
    q = statistics.quantiles(ms, n=100)
    return {
        "path": name,
        "calls": len(ms),
        "p50 ms": f"{q[49]:.2f}",
        "p95 ms": f"{q[94]:.2f}",
        "p99 ms": f"{q[98]:.2f}",
        "max ms": f"{max(ms):.2f}",
    }


def pair_row(name, eager, ort) -> dict:
    e, o = statistics.quantiles(eager, n=100), statistics.quantiles(ort, n=100)
    cells = {"path": name, "calls": len(eager)}
    for label, q in (("eager", e), ("ORT", o)):
        cells.update({f"{label} p50": f"{q[49]:.2f}", f"{label} p95": f"{q[94]:.2f}", f"{label} p99": f"{q[98]:.2f}"})
    cells["p50 eager/ORT"] = f"{e[49] / o[49]:.2f}x"
    return cells


PAIR_COLUMNS = [
    "path",
    "calls",
    "eager p50",
    "eager p95",
    "eager p99",
    "ORT p50",
    "ORT p95",
    "ORT p99",
    "p50 eager/ORT",
]


def canvases(n: int) -> list[Image.Image]:
    mnist = load_dataset("mnist", train=False).test
    out = []
    for i in range(n):
        digit = Image.fromarray(mnist.images[i, 0].numpy()).resize((300, 300), Image.Resampling.BILINEAR)
        canvas = Image.new("RGBA", (560, 560), (0, 0, 0, 0))
        ink = Image.new("RGBA", digit.size, (0, 0, 0, 255))
        canvas.paste(ink, (40 + 5 * (i % 30), 60 + 3 * (i % 40)), digit)  # black ink, transparent ground
        out.append(canvas)
    return out


def photos(n: int) -> list[Image.Image]:
    cifar = load_dataset("cifar10", train=False).test
    return [
        Image.fromarray(cifar.images[i].permute(1, 2, 0).numpy()).resize((640, 480), Image.Resampling.BICUBIC)
        for i in range(n)
    ]


def backend_rows(digit, photo, draws, pics, ready_d, ready_p, calls) -> list[dict]:
    """PyTorch eager against ONNX Runtime on the same inputs, preprocessing included where named."""
    digit_ort = Predictor.from_checkpoint(ROOT / "checkpoints" / "mnist.safetensors", backend="onnxruntime")
    photo_ort = Predictor.from_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors", backend="onnxruntime")
    draw = [lambda c, p=p: p.predict(p.fit(prepare_digit(c).image)) for p in (digit, digit_ort)]
    snap = [lambda x, p=p: p.predict(prepare_photo(x)[0]) for p in (photo, photo_ort)]
    return [
        pair_row("Draw: model only", *timed_pair([digit.predict, digit_ort.predict], ready_d, calls)),
        pair_row("Draw: canvas -> preprocess -> predict", *timed_pair(draw, draws, calls)),
        pair_row("Photo: model only", *timed_pair([photo.predict, photo_ort.predict], ready_p, calls)),
        pair_row("Photo: 640x480 -> preprocess -> predict", *timed_pair(snap, pics, calls)),
    ]


def draw_rows(label: str, suffix: str, digit: Predictor, ready, draws, calls: int) -> list[dict]:
    """A digit model's two rows: the model alone on prepared digits, and canvas to answer."""
    return [
        row(f"{label}: model only{suffix}", timed(digit.predict, ready, calls)),
        row(
            f"{label}: canvas -> preprocess -> predict",
            timed(lambda c: digit.predict(prepare_digit(c).image), draws, calls),
        ),
    ]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--mnist-before", type=Path, help="also time this MNIST checkpoint (the one shipped before)")
    args = p.parse_args(argv)
    header(f"prediction latency, {args.calls} calls each")
    digit = Predictor.from_checkpoint(ROOT / "checkpoints" / "mnist.safetensors", backend="pytorch")
    photo = Predictor.from_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors", backend="pytorch")
    draws, pics = canvases(50), photos(50)
    ready_d = [prepare_digit(c).image for c in draws]
    ready_p = [prepare_photo(x)[0] for x in pics]
    rows = [
        *draw_rows("Draw", " (baseline)", digit, ready_d, draws, args.calls),
        row("Photo: model only (baseline)", timed(photo.predict, ready_p, args.calls)),
        row(
            "Photo: 640x480 -> preprocess -> predict",
            timed(lambda x: photo.predict(prepare_photo(x)[0]), pics, args.calls),
        ),
    ]
    if args.mnist_before:
        before = Predictor.from_checkpoint(args.mnist_before, backend="pytorch")
        rows[2:2] = draw_rows(f"Draw, {args.mnist_before.name}", "", before, ready_d, draws, args.calls)
    print(table(rows, ["path", "calls", "p50 ms", "p95 ms", "p99 ms", "max ms"]))
    if onnxruntime_or_none() is None:
        print("onnxruntime is not installed: no ONNX Runtime rows (pip install onnx onnxruntime)")
    else:
        print()
        print(table(backend_rows(digit, photo, draws, pics, ready_d, ready_p, args.calls), PAIR_COLUMNS))
    print(f"models: {digit.describe()}; {photo.describe()}")


if __name__ == "__main__":
    main()
