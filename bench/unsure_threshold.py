"""The "unsure" threshold of the Draw and Photo tabs, chosen on held-out data.

    python bench/unsure_threshold.py            # both tabs' shipped models; prints the tables and the choice
    python bench/unsure_threshold.py --tab draw

A tab headlines a prediction as unsure (with the two best guesses) when its top calibrated
probability, softmax(logits / T) with the checkpoint's temperature, is below the threshold. The rule:
the highest threshold (rounded down to 0.01) that keeps at least 99% of in-distribution answers
confident, i.e. the 1st percentile of their top probability; it then flags as many out-of-distribution
inputs as such a threshold can. It is chosen on half A of each set (split_halves, seed 0) and reported
on half B, which the choice never saw.

- Draw: in-distribution are MNIST's 10,000 test digits (the shipped model never trained on them), each
  drawn black on a transparent 420x420 canvas as the Sketchpad delivers it and prepared as the Draw tab
  prepares it (prepare_digit). Out-of-distribution are drawings that are not digits, made offline with
  bench/teach_drawings.py's hand-drawn strokes: letters (A, E, F, H, K, M, W, X) and shapes (triangle,
  square, star, arrow, hash). (No circle: a drawn circle is a fair 0.)
- Photo: in-distribution are CIFAR-10's 10,000 test images; out-of-distribution are MNIST test digits
  as photos (grey, white on black, as prepare_photo makes them 32x32) and the same non-digit drawings
  flattened onto white.
Probabilities are computed as the Predictor computes them (its normalisation, flip averaging and
temperature), in batches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
import numpy as np
import torch
from common import header, table
from PIL import Image
from teach_drawings import drawing

from cnn.calibration import calibrated_probabilities, split_halves
from cnn.data import load_dataset
from cnn.evaluation import Augmentation, tta_logits
from cnn.serving.digits import prepare_digit
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
KEEP = 0.99  # share of in-distribution answers the threshold keeps confident
S = 0.5  # unit stroke coordinates: [-1, 1], y down
LETTERS = {
    "A": [[(-0.6, 1), (0, -1), (0.6, 1)], [(-0.35, 0.25), (0.35, 0.25)]],
    "E": [[(0.6, -1), (-0.6, -1), (-0.6, 1), (0.6, 1)], [(-0.6, 0), (0.4, 0)]],
    "F": [[(0.6, -1), (-0.6, -1), (-0.6, 1)], [(-0.6, 0), (0.4, 0)]],
    "H": [[(-0.6, -1), (-0.6, 1)], [(0.6, -1), (0.6, 1)], [(-0.6, 0), (0.6, 0)]],
    "K": [[(-0.5, -1), (-0.5, 1)], [(0.5, -1), (-0.5, 0.1)], [(-0.3, -0.1), (0.5, 1)]],
    "M": [[(-0.7, 1), (-0.7, -1), (0, 0.3), (0.7, -1), (0.7, 1)]],
    "W": [[(-0.8, -1), (-0.4, 1), (0, -0.2), (0.4, 1), (0.8, -1)]],
    "X": [[(-0.6, -1), (0.6, 1)], [(0.6, -1), (-0.6, 1)]],
    "hash": [[(-S, -1), (-S, 1)], [(S, -1), (S, 1)], [(-1, -S), (1, -S)], [(-1, S), (1, S)]],
}
SHAPES = ("triangle", "square", "star", "arrow")


def not_digits(n: int, seed: int) -> list[Image.Image]:
    """n drawings that are not digits, letters and shapes in turn, on a transparent canvas."""
    rng = np.random.default_rng(seed)
    kinds = list(LETTERS) + list(SHAPES)
    out = []
    for i in range(n):
        k = kinds[i % len(kinds)]
        strokes = [np.array(s, dtype=float) for s in LETTERS[k]] if k in LETTERS else None
        out.append(drawing(k, rng, strokes))
    return out


def canvas_digit(digit: np.ndarray, canvas: int = 420, scale: int = 12) -> Image.Image:
    """An MNIST digit drawn black on a transparent canvas, as the Sketchpad's layer holds a drawing."""
    ink = Image.fromarray(digit, "L").resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    layer.paste(Image.new("RGBA", ink.size, (0, 0, 0, 255)), ((canvas - ink.width) // 2,) * 2, mask=ink)
    return layer


def top_probability(pred: Predictor, images: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(top calibrated probability, predicted class) of uint8 N x C x H x W images, as pred.predict gives them."""
    tops, classes = [], []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            z = tta_logits(
                pred.model, pred.normalizer(images[i : i + batch]), Augmentation.served(pred.tta_flip), stack=True
            )
            p = calibrated_probabilities(z, pred.temperature)
            top, cls = p.max(1)
            tops.append(top)
            classes.append(cls)
    return torch.cat(tops), torch.cat(classes)


def choose(id_conf: torch.Tensor) -> float:
    """The 1st percentile of the in-distribution top probabilities, rounded down to 0.01."""
    q = float(torch.quantile(id_conf.double(), 1 - KEEP))
    return float(np.floor(q * 100) / 100)


def report(name: str, t_chosen: float, id_b: torch.Tensor, id_right_b: torch.Tensor, ood_b: dict) -> list[dict]:
    rows = []
    for t in sorted({0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, t_chosen}):
        row = {
            "tab": name,
            "threshold": f"{t:.2f}" + (" (chosen)" if t == t_chosen else ""),
            "in-dist. kept confident": f"{(id_b >= t).double().mean():.2%}",
            "in-dist. wrong answers flagged": f"{(id_b[~id_right_b] < t).double().mean():.2%} of {int((~id_right_b).sum())}",  # noqa: E501
        }
        for k, v in ood_b.items():
            row[f"{k} flagged"] = f"{(v < t).double().mean():.2%}"
        rows.append(row)
    return rows


def halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = split_halves(len(x), 0)
    return x[a], x[b]


def evaluate_tab(name: str, pred: Predictor, id_images, id_labels, ood: dict[str, torch.Tensor]) -> tuple[float, list]:
    conf, cls = top_probability(pred, id_images)
    right = cls == id_labels
    (conf_a, conf_b), (_, right_b) = halves(conf), halves(right)
    ood_conf = {k: halves(top_probability(pred, v)[0]) for k, v in ood.items()}
    t = choose(conf_a)
    print(
        f"{name}: T = {pred.temperature:.4f}; in-distribution {len(conf)} images (accuracy {right.double().mean():.2%}), "  # noqa: E501
        f"half A's 1st percentile of the top probability {float(torch.quantile(conf_a.double(), 1 - KEEP)):.4f} "
        f"-> threshold {t:.2f}; " + ", ".join(f"{k}: {len(v)}" for k, v in ood.items()),
        flush=True,
    )
    return t, report(name, t, conf_b, right_b, {k: v[1] for k, v in ood_conf.items()})


def draw_tab(n_ood: int) -> tuple[float, list]:
    pred = Predictor.from_checkpoint(ROOT / "checkpoints" / "mnist.safetensors", backend="pytorch")
    test = load_dataset("mnist").test
    prepared = [prepare_digit(canvas_digit(x[0].numpy())).image for x in test.images]
    kept = [i for i, x in enumerate(prepared) if x is not None]  # the rest get the tab's message, not a guess
    digits, labels = torch.stack([prepared[i] for i in kept]), test.labels[kept]
    ood = torch.stack([r.image for r in map(prepare_digit, not_digits(n_ood, seed=99)) if r.image is not None])
    print(
        f"Draw: {len(test) - len(kept)} test digit(s) refused by prepare_digit (a dot or blank), left out", flush=True
    )
    return evaluate_tab("Draw", pred, digits, labels, {"drawn letters and shapes": ood})


def photo_tab(n_ood: int) -> tuple[float, list]:
    pred = Predictor.from_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors", backend="pytorch")
    test = load_dataset("cifar10").test
    mnist = load_dataset("mnist").test.subset(n_ood, seed=1)
    as_photos = torch.stack([prepare_photo(Image.fromarray(x[0].numpy(), "L"))[0] for x in mnist.images])
    drawn = torch.stack([prepare_photo(im)[0] for im in not_digits(n_ood, seed=98)])
    return evaluate_tab(
        "Photo",
        pred,
        test.images,
        test.labels,
        {"MNIST digits as photos": as_photos, "drawn letters and shapes": drawn},
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tab", choices=("draw", "photo", "both"), default="both")
    ap.add_argument("--ood", type=int, default=2000, help="out-of-distribution inputs per kind")
    args = ap.parse_args(argv)
    header("The unsure threshold: in-distribution held-out answers against inputs of no class")
    chosen = {}
    for name, fn in (("draw", draw_tab), ("photo", photo_tab)):
        if args.tab in (name, "both"):
            chosen[name], rows = fn(args.ood)
            print(table(rows, list(rows[0])))
    print(
        "chosen (half A, 99% of in-distribution answers confident): "
        + ", ".join(f"{k} {v:.2f}" for k, v in chosen.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
