"""The trainer's project folders and --init-from: what cnn.cli.train asks of cnn.projects and
cnn.transfer. A project folder (one holding project.json) trains with its teach preset; so does an
image folder fine-tuned with --init-from (teach_photos: a plain folder holds photos)."""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import read_metadata
from ..data import Dataset
from ..models import DESIGN
from ..projects import project_folder, teach_recipe
from ..projects.store import Project
from ..training import Recipe
from ..transfer import starting_weights


def init_image_size(args) -> int | None:
    """The side an image folder is decoded at when fine-tuning: the checkpoint's input."""
    if not getattr(args, "init_from", None):
        return None
    return int(read_metadata(args.init_from)["input_shape"][1])


def teach_default(args, data: Dataset) -> tuple[Recipe, str] | None:
    """(recipe, why) for a project folder or a folder fine-tuned with --init-from when neither
    --model nor --recipe is named; None for everything else (the data set's fast default)."""
    folder = project_folder(data.name, args.data_dir, allow_any_path=True)
    n = len(data.train) if data.train is not None else len(data.test)
    fine = bool(getattr(args, "init_from", None))
    arch = read_metadata(args.init_from)["architecture"] if fine else None  # its own fine-tuning changes
    if folder is not None:
        kind = Project(folder).kind
        return teach_recipe(kind, n, fine_tune=fine, architecture=arch), f"the teach preset for a {kind} project"
    if fine and data.name not in ("mnist", "fashion-mnist", "cifar10"):
        return teach_recipe("photos", n, fine_tune=True, architecture=arch), "the teach preset for an image folder"
    return None


def fine_tune(args, recipe: Recipe, data: Dataset) -> tuple[Recipe, dict | None, str]:
    """With --init-from: the recipe on the checkpoint's architecture and normalisation, the weights
    to start from and a line saying so; without it the recipe unchanged, None and ''."""
    if not getattr(args, "init_from", None):
        return recipe, None, ""
    c, h, _ = data.input_shape
    design = recipe.design if getattr(args, "layers", None) else None
    init = starting_weights(
        args.init_from,
        channels=c,
        num_classes=len(data.classes),
        image_size=h,
        architecture=DESIGN if design is not None else args.model,
        design=design,
    )
    return init.fine_tune(recipe), init.state, f"fine-tuning from {init.describe()}"


def init_name(args) -> str | None:
    return Path(args.init_from).name if getattr(args, "init_from", None) else None
