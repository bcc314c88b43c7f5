"""How a training run (cnn.runs.Run) looks on the page: status line, progress bar, plot data,
result with its short-run hint, misclassified images and confusion matrix. No Gradio here: plain
strings, data frames and images, which the Train tab hands to its components."""
from __future__ import annotations

import pandas as pd
from PIL import Image

from cnn.runs import Run
from cnn.serving.render import confusion_image, enlarge, to_pil
from cnn.training import RunStatus

SHORT_RUN_STEPS = 100  # a finished run with fewer updates than this gets a hint on why it underfits


def clock(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on; '?' when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def status_markdown(run: Run) -> str:
    c = run.config
    head = f"**{c.model}** on **{c.dataset}** with recipe {c.recipe}, device {run.device}"
    if run.status == RunStatus.LOADING:
        return head + ": loading the data set..."
    if run.start is not None and not run.done:
        last = run.steps[-1] if run.steps else None
        loss = f", last loss {last.loss:.4f}" if last else ""
        return head + f": training on {run.start.n_train:,} images{loss}."
    return head + f": {run.status}."


def progress_html(run: Run) -> str:
    """A progress bar with steps, epoch, elapsed time, ETA and images/s."""
    p = run.progress()
    if p["total"] == 0:
        return "<div>Preparing...</div>"
    ips = f"{p['images_per_s']:,.0f} images/s" if p["images_per_s"] else "- images/s"
    return (f"<div><progress value='{p['fraction']:.4f}' max='1'></progress><br>"
            f"step {p['step']} / {p['total']} ({p['fraction']:.0%}) · epoch {p['epoch']:.2f} · "
            f"elapsed {clock(p['elapsed'])} · ETA {clock(p['eta'])} · {ips}</div>")


def short_run_hint(run: Run) -> str | None:
    """Why a finished run this short probably underfits (None for a run long enough)."""
    s = run.start
    if run.status != RunStatus.FINISHED or s is None or s.total_steps >= SHORT_RUN_STEPS:
        return None
    epochs = f"{s.epochs:g} epoch{'' if s.epochs == 1 else 's'}"
    return (f"This run made only {s.total_steps} weight updates ({s.n_train:,} images x {epochs} "
            f"/ batches of {s.batch_size}). Runs this short usually underfit: more epochs, more "
            f"training images or a smaller batch give the net more updates.")


def result_markdown(run: Run) -> str:
    lines = [f"### Run {run.status}", run.message]
    if run.end is not None and run.end.test_accuracy is not None:
        lines.insert(1, f"**Test accuracy: {run.end.test_accuracy:.2%}** "
                        f"({len(run.data.test):,} test images, {run.end.elapsed:.1f} s)")
    hint = short_run_hint(run)
    if hint:
        lines.append(hint)
    return "\n\n".join(lines)


def _frame(points: list[dict], **dtypes) -> pd.DataFrame:
    """Plot data with fixed column types, so an empty plot is not taken for a categorical one."""
    return pd.DataFrame({k: pd.Series([p[k] for p in points], dtype=t) for k, t in dtypes.items()})


def loss_frame(run: Run) -> pd.DataFrame | None:
    """The loss curve (epoch, step, loss), or None before the first step."""
    points = run.loss_points()
    return _frame(points, epoch=float, step=int, loss=float) if points else None


def accuracy_frame(run: Run) -> pd.DataFrame | None:
    """Accuracy per epoch (epoch, accuracy, split), or None before the first epoch ends."""
    points = run.accuracy_points()
    return _frame(points, epoch=int, accuracy=float, split=str) if points else None


def misclassified_items(run: Run, limit: int = 24) -> list[tuple[Image.Image, str]]:
    """Gallery items: the most confidently wrong test images, enlarged, with 'true, taken for predicted'."""
    return [(enlarge(to_pil(img), 112), f"{true}, taken for {pred}")
            for img, true, pred in run.misclassified(limit)]


def confusion(run: Run) -> Image.Image | None:
    """The confusion matrix of the final evaluation, or None when there is none."""
    ev = run.end.evaluation if run.end else None
    return confusion_image(ev.confusion, run.data.classes) if ev is not None and run.data else None


def trained_model(run: Run) -> tuple[str | None, int]:
    """(the saved checkpoint's path or None, the model's input channels or 0)."""
    path = str(run.checkpoint) if run.checkpoint else None
    return path, run.data.input_shape[0] if run.data else 0
