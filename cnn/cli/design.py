"""What the command-line tools do with a design (--layers DESIGN.json): read it, check it for the
data set's images, and print its table."""

from __future__ import annotations

from ..data import Dataset
from ..data.sources import NAMED_CLASSES, NAMED_SHAPES, named_source
from ..models import parse
from ..models.design import DEFAULT_BATCH, load_design_file
from ..training import Recipe


def design_flag(args) -> list | None:
    """--layers' design, checked as far as it can be before the data loads: as JSON, and for a
    named data set's images (size limits at --batch-size, else the default recipe's batch)."""
    if not getattr(args, "layers", None):
        return None
    layers = load_design_file(args.layers)
    key = named_source(args.dataset or "")
    if key is None:
        return layers
    design = parse(layers, NAMED_SHAPES[key], NAMED_CLASSES[key], args.batch_size or DEFAULT_BATCH)
    print(design.format_table(f"design {args.layers}: {design.summary()}"), flush=True)
    return design.layers


def checked_design(recipe: Recipe, data: Dataset) -> list:
    """The recipe's design, normalised and checked for the data's images, classes and batch size."""
    return parse(recipe.design, data.input_shape, len(data.classes), recipe.batch_size).layers
