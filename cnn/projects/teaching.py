"""Teaching a project: the recipe for its size, the weights it starts from, and where the result goes.

`plan` loads the project and, to fine-tune, the convolutional features of a checkpoint (the shipped
MNIST one for drawings, CIFAR-10 for photos: `FINE_TUNE_FROM`); the caller runs the engine,
`cnn.training.train(plan.recipe, plan.data, init_state=plan.init_state, ...)`, and saves the End
event's model with `plan.metadata(end)`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..data import Dataset
from ..training import End, Recipe, get_recipe
from ..transfer import StartingWeights, starting_weights
from .examples import CHANNELS, SIDE
from .loading import load_project
from .store import Project, slug

FINE_TUNE_FROM = {
    "drawings": Path("checkpoints") / "mnist.safetensors",
    "photos": Path("checkpoints") / "cifar10.safetensors",
}
# How a project is taught, chosen by measurement (bench/teach_drawings.py --variants all and
# bench/teach_photos.py --variants all; docs/teach.md). About `steps` steps
# whatever the project's size (at least MIN_EPOCHS passes, at most the preset's epochs), then the
# changes for fine-tuning or for training from scratch; head_only_share: the share of the run in
# which the classifier alone learns (the rest of the model frozen), all layers after it.
# Drawings, 10 per class, on fresh drawings: all layers from the start 96.6%, the classifier alone
# for the first third 96.7%, lr x3 or /3 the same; 125 steps 96.1%, 500 steps 97.9% at 3x the time;
# from scratch 94.7-96.3%. Photos of classes the backbone never saw (a CIFAR-10 net trained on the
# other 8 classes; 20 photos per class, 3 draws; the CIFAR-10 net costs ~10x a drawing step on a
# CPU, hence 80 steps): the classifier alone half the run then all layers 68.1% (cat/dog) and
# 95.3% (horse/ship); the classifier alone 63.6% / 94.3%, all layers 67.2% / 94.6%, at lr /3
# 67.7% / 95.9%; from scratch 57.5% / 86.5%. `by_model`: a fine-tuned architecture's own changes.
# The shipped CIFAR-10 net (cifar10_fast, what the Teach tab fine-tunes) lost 10-24 points to any
# all-layers phase on cat/dog/horse (the classifier alone 91.0%; half then all 66.7%, at lr /3
# 72.0%, /10 80.3%), so it keeps the classifier alone until a held-out test on it says otherwise.
TEACH = {
    "drawings": dict(steps=250, fine_tune={}, scratch={"lr": 6e-3}),
    "photos": dict(
        steps=80,
        fine_tune={"lr": 3e-3, "head_only_share": 0.5},
        scratch={},
        by_model={"cifar10_fast": {"head_only_share": 1.0}},
    ),
}
MIN_EPOCHS = 4


def teach_recipe(
    kind: str,
    n_train: int,
    init: StartingWeights | None = None,
    *,
    fine_tune: bool | None = None,
    architecture: str | None = None,
) -> Recipe:
    """The teach preset for a project of `kind` with n_train training examples: its batch no larger
    than the data, its epochs scaled to about TEACH[kind]['steps'] steps, with TEACH's changes for
    fine-tuning (default: when `init` is given; those of init's architecture, or `architecture`,
    where TEACH has its own) or from scratch; on init's model and normalisation."""
    base, how = get_recipe(f"teach_{kind}"), TEACH[kind]
    batch = max(1, min(base.batch_size, n_train))
    steps_per_epoch = math.ceil(n_train / batch)
    epochs = round(min(base.epochs, max(MIN_EPOCHS, how["steps"] / steps_per_epoch)), 2)
    fine_tune = init is not None if fine_tune is None else fine_tune
    changes = dict(how["fine_tune"] if fine_tune else how["scratch"])
    if fine_tune:
        changes.update(how.get("by_model", {}).get(init.architecture if init else architecture, {}))
    share = changes.pop("head_only_share", 0)
    if share:
        changes["head_only_epochs"] = round(epochs * share, 2)
    recipe = base.replace(batch_size=batch, epochs=epochs, **changes)
    return init.fine_tune(recipe) if init is not None else recipe


@dataclass
class Plan:
    project_name: str
    kind: str
    data: Dataset
    recipe: Recipe
    init: StartingWeights | None

    @property
    def init_state(self):
        return self.init.state if self.init is not None else None

    def metadata(self, end: End) -> dict:
        """The End event's checkpoint metadata, plus where the run started from and the project."""
        meta = dict(end.metadata)
        meta["project"] = {"name": self.project_name, "kind": self.kind}
        meta["init_from"] = Path(self.init.path).name if self.init is not None else None
        return meta

    def checkpoint_path(self, folder: str | os.PathLike) -> Path:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path(folder) / f"teach-{slug(self.project_name)}-{stamp}-{uuid.uuid4().hex[:6]}.safetensors"


def plan(path: str | os.PathLike, init_from: str | os.PathLike | None = None) -> Plan:
    """The project at `path`, loaded and split, and how to teach it: from scratch (init_from None)
    or fine-tuned from the checkpoint at init_from."""
    project = Project.open(path)
    m = project.manifest()
    kind = m["kind"]
    data = load_project(project.path)
    init = None
    if init_from is not None:
        init = starting_weights(
            init_from, channels=CHANNELS[kind], num_classes=len(data.classes), image_size=SIDE[kind]
        )
    return Plan(m["name"], kind, data, teach_recipe(kind, len(data.train), init), init)
