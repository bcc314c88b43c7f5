"""Why it failed: the seconds to show a confusion cell of up to 24 mistakes, each beside its Grad-CAM
for the predicted class with the top two answers (ui/confusion_view.pictures: one batched Grad-CAM
pass, cnn.serving.mistakes.why_wrong), against the same pictures made one image at a time (Grad-CAM
and a prediction per image, as the Grad-CAM choice does). Shipped models, the cell with the most
mistakes among the 10,000 test images (MNIST has no cell of 24); the two alternate, median of --repeat.

    python bench/why_wrong_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common  # (sets the data directory)
from common import header, table

from cnn.data import load_dataset
from cnn.serving.explain import explainer_for
from cnn.serving.mistakes import predictions_of
from cnn.serving.predictor import Predictor
from cnn.serving.render import enlarge, overlay, side_by_side, to_pil
from ui.confusion_view import pictures

ROOT = common.Path(__file__).resolve().parents[1]
CELL = 24


def one_by_one(predictor, preds, idx, true, pred) -> list:
    """The same gallery, one Grad-CAM and one prediction per image."""
    ex, items = explainer_for(predictor), []
    for i in idx:
        img = preds.images[i]
        cam = overlay(img, ex.grad_cam(img, pred), side=112)
        probs = predictor.predict(img)
        top = sorted(probs, key=probs.get, reverse=True)[:2]
        items.append((side_by_side(enlarge(to_pil(img), 112), cam), f"#{i} " + ", ".join(top)))
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args(argv)
    header(f"Why it failed: a cell of up to {CELL} mistakes with their Grad-CAM, batched against one by one")
    rows = []
    for name, data in (("mnist", "mnist"), ("cifar10", "cifar10")):
        predictor = Predictor.from_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        preds = predictions_of(predictor, load_dataset(data, train=False).test)
        conf = preds.confusion.clone()
        conf.fill_diagonal_(-1)
        true, pred = divmod(int(conf.argmax()), len(preds.classes))
        idx = preds.cell(true, pred, CELL)
        ways = {
            "batched (the app)": lambda: pictures(preds, predictor, idx, true, pred, 0),
            "one by one": lambda: one_by_one(predictor, preds, idx, true, pred),
        }
        times = {k: [] for k in ways}
        for f in ways.values():
            f()  # warm-up
        for r in range(a.repeat):
            for k in list(ways) if r % 2 == 0 else list(ways)[::-1]:
                t0 = time.perf_counter()
                ways[k]()
                times[k].append(time.perf_counter() - t0)
        base = statistics.median(times["one by one"])
        for k, ts in times.items():
            m = statistics.median(ts)
            rows.append(
                {
                    "model": name,
                    "cell": f"{preds.classes[true]} taken for {preds.classes[pred]}",
                    "images": len(idx),
                    "way": k,
                    "median s": f"{m:.3f}",
                    "max s": f"{max(ts):.3f}",
                    "speed-up": f"{base / m:.2f}x",
                }
            )
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
