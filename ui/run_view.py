"""How a training run (cnn.runs.Run) looks on the page: status line, progress bar, plot data and
their axes, result with its short-run hint, misclassified images and confusion matrix. No Gradio
here: plain strings, data frames and images, which the Train tab hands to its components."""

from __future__ import annotations

import base64
import html
import io
import math
import re

import pandas as pd
from PIL import Image

from cnn.calibration import Reliability
from cnn.runs import Run
from cnn.serving.render import confusion_image, enlarge, filter_grid, reliability_image, to_pil
from cnn.training import RunStatus
from cnn.training.calibrate import calibration_caveat, calibration_line

SHORT_RUN_STEPS = 100  # a finished run with fewer updates than this gets a hint on why it underfits
LOSS_POINTS = 300  # the loss curve is drawn from at most this many points


def clock(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on; '?' when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def waiting_line(place: int, wait: float) -> str:
    """'waiting: 2 ahead of you (about 40 s)': a waiting run's place (cnn.runs RunManager.place)
    and estimated wait."""
    about = f"{max(1, round(wait))} s" if wait < 90 else f"{round(wait / 60)} min"
    return f"waiting: {place} ahead of you (about {about})"


def status_markdown(run: Run, waiting: tuple[int, float] | None = None) -> str:
    """One line on what the run is and where it stands (it changes only when its state does);
    waiting: (place, estimated wait) of a run that waits for its turn."""
    c = run.config
    head = f"**{c.model}** on **{c.dataset}** with recipe {c.recipe}, device {run.device}"
    if run.status == RunStatus.QUEUED:
        line = head + ": " + (waiting_line(*waiting) if waiting else "waiting for its turn") + "."
    elif run.status == RunStatus.LOADING:
        line = head + ": loading the data set..."
    elif run.start is not None and not run.done:
        line = head + f": {run.note or training_line(run)}"
    else:
        line = head + f": {run.status}."
    return "\n\n".join([line, *(f"⚠️ {w}" for w in run.warnings)])


def training_line(run: Run) -> str:
    """'training on 3,600 images (400 held out to fit the temperature on).'"""
    loaded = len(run.data.train) if run.data is not None and run.data.train is not None else 0
    held = loaded - run.start.n_train
    return f"training on {run.start.n_train:,} images" + (
        f" ({held:,} held out to fit the temperature on)." if held > 0 else "."
    )


def progress_html(run: Run) -> str:
    """A progress bar with steps, epoch, last loss, elapsed time, ETA and images/s; nothing for a
    run that failed before it trained."""
    p = run.progress()
    if p["total"] == 0:
        return "" if run.done else "<div>Preparing...</div>"
    ips = f"{p['images_per_s']:,.0f} images/s" if p["images_per_s"] else "- images/s"
    if p.get("threads"):  # the CPU threads: fewer while other programs use the CPU (cnn.cpu_share)
        of = re.search(r"\((\d+) threads?\)", run.device or "")  # the device's, as the tab names it
        ips += (
            f" on {p['threads']}{f' of {of.group(1)}' if of else ''} CPU thread{'s' * (p['threads'] > 1 or bool(of))}"
        )
    loss = f" · loss {run.steps[-1].loss:.3f}" if run.steps else ""
    return (
        f"<div><progress value='{p['fraction']:.4f}' max='1'></progress><br>"
        f"step {p['step']} / {p['total']} ({p['fraction']:.0%}) · epoch {p['epoch']:.2f}{loss} · "
        f"elapsed {clock(p['elapsed'])} · ETA {clock(p['eta'])} · {ips}</div>"
    )


def short_run_hint(run: Run) -> str | None:
    """Why a finished run this short probably underfits (None for a run long enough)."""
    s = run.start
    if run.status != RunStatus.FINISHED or s is None or s.total_steps >= SHORT_RUN_STEPS:
        return None
    epochs = f"{s.epochs:g} epoch{'' if s.epochs == 1 else 's'}"
    return (
        f"This run made only {s.total_steps} weight updates ({s.n_train:,} images x {epochs} "
        f"/ batches of {s.batch_size}). Runs this short usually underfit: more epochs, more "
        f"training images or a smaller batch give the net more updates."
    )


def result_markdown(run: Run) -> str:
    """The result of a run that ended: its test accuracy (of the kept weights, for a stopped run),
    what happened, and what the empty panels mean when there was no test evaluation."""
    meta = run.end.metadata if run.end is not None else {}
    message = run.message.replace(calibration_line(meta), "").replace("  ", " ") if meta else run.message
    lines = [f"### Run {run.status}", html.escape(message, quote=False)]  # (calibration: its own paragraph)
    end = run.end
    if end is not None and end.test_accuracy is not None:
        what = "Test accuracy of the kept weights" if run.status == RunStatus.STOPPED else "Test accuracy"
        lines.insert(
            1,
            f"**{what}: {end.test_accuracy:.2%}** "
            f"({len(run.data.test):,} test images, {end.elapsed:.1f} s of training)",
        )
    if end is None or end.evaluation is None:
        lines.append(
            "No test-set evaluation for this run, so there is no confusion matrix and no misclassified images to show."
        )
    cal = calibration_text(end.metadata if end is not None else {})
    if cal:
        lines.append(cal)
    hint = short_run_hint(run)
    if hint:
        lines.append(hint)
    return "\n\n".join(lines)


def _frame(points: list[dict], **dtypes) -> pd.DataFrame:
    """Plot data with fixed column types, so an empty plot is not taken for a categorical one."""
    return pd.DataFrame({k: pd.Series([p[k] for p in points], dtype=t) for k, t in dtypes.items()})


def loss_frame(run: Run, max_points: int = LOSS_POINTS) -> pd.DataFrame | None:
    """The loss curve (epoch, step, loss), or None before the first step. A long run's curve is
    averaged over runs of neighbouring points down to at most max_points (its last point exact)."""
    points = run.loss_points()
    if not points:
        return None
    frame = _frame(points, epoch=float, step=int, loss=float)
    if len(frame) <= max_points:
        return frame
    groups = (pd.RangeIndex(len(frame)) * max_points) // len(frame)
    small = frame.groupby(groups).agg(epoch=("epoch", "last"), step=("step", "last"), loss=("loss", "mean"))
    return small.reset_index(drop=True).astype({"epoch": float, "step": int, "loss": float})


def run_epochs(run: Run) -> float:
    """How many epochs the run is set to train (1 until it is known)."""
    if run.start is not None:
        return float(run.start.epochs)
    return float(run.recipe.epochs) if run.recipe is not None else 1.0


def loss_x_range(run: Run) -> list[float]:
    """The loss plot's x axis: the whole run, so the curve grows into a fixed frame."""
    return [0.0, run_epochs(run)]


def accuracy_x_range(run: Run) -> list[float]:
    """The accuracy plot's x axis: the whole run (at least one epoch), padded so that the first and
    last dots are not cut at the edges."""
    hi = max(1.0, run_epochs(run))
    pad = 0.06 * hi
    return [-pad, hi + pad]


def accuracy_frame(run: Run) -> pd.DataFrame | None:
    """Accuracy per epoch (epoch, accuracy, split), or None before there is any. A fractional last
    epoch sits where it ended (0.8, not 1); a stopped run's kept weights add their test accuracy."""
    total, out = run_epochs(run), []
    for e in list(run.epochs):
        x = min(float(e.epoch), total)
        out.append({"epoch": x, "accuracy": e.train_accuracy, "split": "train"})
        if e.test_accuracy is not None:
            out.append({"epoch": x, "accuracy": e.test_accuracy, "split": "test"})
    if run.status == RunStatus.STOPPED and run.end is not None and run.end.test_accuracy is not None:
        out.append({"epoch": run.progress()["epoch"], "accuracy": run.end.test_accuracy, "split": "test"})
    return _frame(out, epoch=float, accuracy=float, split=str) if out else None


def smoothing_floor(smoothing: float, classes: int) -> float:
    """The lowest cross-entropy reachable with label smoothing: the entropy of the smoothed target
    (1 - s + s/k on the true class, s/k on each of the other k - 1)."""
    if smoothing <= 0 or classes < 2:
        return 0.0
    other = smoothing / classes
    true = 1 - smoothing + other
    return -(true * math.log(true) + (classes - 1) * other * math.log(other))


def loss_caption(run: Run, classes: int | None = None) -> str:
    """A note under the loss plot: why the loss levels off above zero when the recipe smooths labels."""
    s = run.recipe.label_smoothing if run.recipe is not None else 0.0
    k = classes or (len(run.data.classes) if run.data else 10)
    if s <= 0:
        return "The training loss (cross-entropy), averaged over the steps between two points."
    return (
        f"The recipe uses label smoothing {s:g}: its targets are never a sure 100%, so even a perfect "
        f"model's loss is {smoothing_floor(s, k):.2f} here ({k} classes), and the curve levels off "
        f"above that, not at zero. The test accuracy says how good the model is."
    )


def misclassified_items(run: Run, limit: int = 24) -> list[tuple[Image.Image, str]]:
    """Gallery items: the most confidently wrong test images, enlarged, with 'true, taken for predicted'."""
    return [(enlarge(to_pil(img), 112), f"{true}, taken for {pred}") for img, true, pred in run.misclassified(limit)]


def confusion(run: Run) -> Image.Image | None:
    """The confusion matrix of the final evaluation, or None when there is none."""
    ev = run.end.evaluation if run.end else None
    return confusion_image(ev.confusion, run.data.classes) if ev is not None and run.data else None


def trained_model(run: Run) -> tuple[str | None, int]:
    """(the saved checkpoint's path or None, the model's input channels or 0)."""
    path = str(run.checkpoint) if run.checkpoint else None
    return path, run.data.input_shape[0] if run.data else 0


def _data_url(im: Image.Image) -> str:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def live_panel_html(run: Run) -> str:
    """The live panel: each fixed test image with the model's current top class and its
    probability, framed green when right and red when wrong; '' before the first snapshot."""
    snap, images = run.snapshot, run.panel_images
    if snap is None or images is None or run.data is None:
        return ""
    classes, cells = run.data.classes, []
    for img, true, pred, p in zip(images, run.panel_labels, snap.predictions, snap.probabilities):
        right = pred == true
        name = html.escape(str(classes[pred]))
        tip = html.escape(f"true: {classes[true]}")
        cells.append(
            f"<figure class='live-cell {'right' if right else 'wrong'}' title='{tip}'>"
            f"<img src='{_data_url(to_pil(img))}' alt='{tip}'>"
            f"<figcaption>{'✓' if right else '✗'}&nbsp;{name} · {p:.0%}</figcaption></figure>"  # not "✓1 55%"
        )
    n_right = sum(int(a == b) for a, b in zip(run.panel_labels, snap.predictions))
    return (
        f"<div class='live-head'>After step {snap.step} (epoch {snap.epoch:.2f}): {n_right} of "
        f"{len(cells)} right</div><div class='live-grid'>{''.join(cells)}</div>"
    )


def filters_image(run: Run) -> Image.Image | None:
    """The first convolution's filters as they are now (None before the first snapshot)."""
    snap = run.snapshot
    return None if snap is None or snap.filters is None else filter_grid(snap.filters)


def calibration_text(meta: dict) -> str:
    """What the temperature fitted at the end of the run did, in a sentence ('' without one)."""
    cal, t = meta.get("calibration") or {}, meta.get("temperature")
    if t is None or "ece_before" not in cal:
        return ""
    return (
        f"**Calibration:** temperature {t:.3f}, fitted on {html.escape(str(cal.get('fitted_on', '?')))}. "
        f"There, the expected calibration error ({cal.get('bins', 15)} bins: how far the confidence is "
        f"from the accuracy) is {cal['ece_before']:.2%} before it and {cal['ece_after']:.2%} after; "
        f"every prediction of this model is divided by it. {calibration_caveat(cal)}"
    ).strip()


def reliability(run: Run):
    """(the reliability diagram before and after the run's temperature, its caption), or (None, '')."""
    meta = run.end.metadata if run.end is not None else {}
    cal = meta.get("calibration") or {}
    rel = cal.get("reliability")
    if not rel or meta.get("temperature") is None:
        return None, ""
    before, after = Reliability.from_dict(rel["before"]), Reliability.from_dict(rel["after"])
    caption = (
        f"Reliability on {cal.get('ece_images', sum(before.count)):,} images the model did not train on: "
        f"ECE {before.ece:.2%} before the temperature, {after.ece:.2%} after (T = {meta['temperature']:.3f})"
    )
    return reliability_image(before, after, meta["temperature"]), caption
