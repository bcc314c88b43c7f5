"""What the app keeps of a run and shows while it trains: its record (cnn.runlog: the JSON-lines log
beside its checkpoint, TensorBoard scalars when asked), the live panel's fixed test images, and the
weights a continued run starts from."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import torch

from ..data import Dataset, Split
from ..projects.store import slug
from ..runlog import RunRecorder, run_header
from ..training import Recipe
from ..transfer import starting_weights
from .run import Run

PANEL_SIZE = 16  # test images in the live panel


def checkpoint_path(runs_dir: Path, run: Run) -> Path:
    """Where the run will be saved (its log sits beside it from the start): a Teach run as
    teach-<project>-..., any other as <model>-<data set>-..."""
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{run.id}"
    if run.config.project is not None:
        return runs_dir / f"teach-{slug(run.config.project)}-{stamp}.safetensors"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(run.config.dataset)).name.lower())[:40] or "data"
    return runs_dir / f"{run.config.model}-{name}-{stamp}.safetensors"


def open_record(run: Run, path: Path, tensorboard_dir: Path, recipe: Recipe) -> RunRecorder:
    """The run's log (always) and TensorBoard scalars (when its config asks); a problem with
    TensorBoard is a warning on the page, and training goes on."""
    c = run.config
    header = run_header(
        recipe.as_dict(),
        str(c.dataset),
        "app",
        checkpoint=path.name,
        seed=c.seed,
        train_subset=c.train_subset,
        test_subset=c.test_subset,
        parent=c.parent,
    )
    return RunRecorder.open(
        path, header, tensorboard=tensorboard_dir if c.tensorboard else None, warn=run.warnings.append
    )


def panel_indices(labels: torch.Tensor, classes: int, size: int = PANEL_SIZE) -> list[int]:
    """A fixed panel of test images: the first of each class in turn (0, 1, ..., then the second
    of each), so every class shows; fewer when the split is small."""
    by_class = [(labels == k).nonzero().flatten().tolist() for k in range(classes)]
    out, depth = [], 0
    while len(out) < size and any(depth < len(b) for b in by_class):
        out += [b[depth] for b in by_class if depth < len(b)][: size - len(out)]
        depth += 1
    return out


def panel(test: Split, classes: int) -> tuple[torch.Tensor, list[int]]:
    """(uint8 N x C x H x W images, their labels) of the live panel."""
    idx = panel_indices(test.labels.cpu(), classes)
    return test.images[idx], test.labels[idx].tolist()


def continued_from(path: str, recipe: Recipe, data: Dataset) -> tuple[Recipe, dict]:
    """(recipe on the checkpoint's architecture and normalisation, the weights to start from) for a
    run continued from the checkpoint at path; its classifier is kept when it fits the data's
    classes (resuming), else starts afresh (fine-tuning on other classes)."""
    c, h, _ = data.input_shape
    init = starting_weights(
        path, channels=c, num_classes=len(data.classes), image_size=h, architecture=recipe.model, keep_classifier=True
    )
    return init.fine_tune(recipe), init.state
