"""What the layer editor and the Runs tab show of a design: its table (output shape, parameters,
multiply-adds per layer), the message line, its picture, its PyTorch code and its JSON, for the chosen
data set's images; and how the designs of compared runs differ, layer by layer."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from cnn.data.sources import NAMED_CLASSES, NAMED_SHAPES
from cnn.errors import CnnError
from cnn.models import design as core
from cnn.models import design_view

from .common import DATASETS, md
from .design_edits import arguments_text, as_layers

TABLE_COLUMNS = [
    "#",
    "Layer",
    "Output shape",
    "Parameters",
    "Multiply-adds",
    "Arguments",
]  # sizes first: a phone shows those
FOLDER_SHAPE = (3, 32, 32)  # an image folder's images are shown as colour 32x32 (checked at Start)


@dataclass(frozen=True)
class Target:
    """What the design is shown for: the chosen data set's image shape and class count, the batch."""

    input_shape: tuple
    num_classes: int
    batch_size: int
    dataset: str | None  # the named data set, None for an image folder

    @classmethod
    def of(cls, dataset_choice, batch) -> Target:
        key = DATASETS.get(dataset_choice)
        try:
            b = max(1, int(float(batch)))
        except (TypeError, ValueError, OverflowError):
            b = 64
        return cls(NAMED_SHAPES.get(key, FOLDER_SHAPE), NAMED_CLASSES.get(key, 10), b, key)


def _count(n) -> str:
    return f"{int(n):,}" if n is not None else ""


def table(design: list, parsed) -> pd.DataFrame:
    """One row per layer (a Residual's layers under it, numbered 3.1, 3.2, ...) with its output
    shape, parameters and multiply-adds; a design that does not work lists its top-level layers,
    unsized."""
    if parsed is not None:
        rows = [[str(r[0]), r[1], r[3].replace("x", "×"), _count(r[4]), _count(r[5]), r[2]] for r in parsed.table()]
    else:
        rows = [
            [
                str(i + 1),
                str(layer.get("layer", "?")) if isinstance(layer, dict) else "?",
                "—",
                "",
                "",
                arguments_text(layer),
            ]
            for i, layer in enumerate(design)
        ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def analysed(design: list, target: Target, limits: bool = True):
    """The parsed design (cnn.models.design.parse) for the target's images; with limits, refused
    when too big for the target's batch."""
    d = core.parse(design, target.input_shape, target.num_classes, batch_size=None)
    if limits:
        d.check_limits(target.batch_size)
    return d


def picture_html(parsed) -> str:
    """The design's picture (an SVG) in a box that scrolls sideways on a narrow screen."""
    return f'<div class="design-picture-scroll" style="overflow-x: auto">{parsed.picture()}</div>'


@dataclass(frozen=True)
class Views:
    """Everything the editor shows of a design (see `show`)."""

    table: pd.DataFrame
    message: str
    picture: str
    code: str
    text: str


def show(design: list, target: Target) -> Views:
    """The table, message, picture, code and JSON of a design. A broken one lists its layers and
    says which is wrong and what to do; a too big one shows its table and says its size and the
    limit; both keep the last picture and code."""
    design = as_layers(design)
    text = design_view.to_json(design) if all(isinstance(x, dict) for x in design) else json.dumps(design)
    if not design:
        return Views(table(design, None), "The design is empty: add a layer, or start from a preset.", "", "", text)
    try:
        parsed = analysed(design, target, limits=False)
    except CnnError as exc:
        return Views(table(design, None), f"⚠️ {md(str(exc))}", gr.skip(), gr.skip(), text)
    sizes = (
        f"**{parsed.params:,}** parameters · **{parsed.macs:,}** multiply-adds per image · "
        f"input {design_view.dims(target.input_shape)}, {target.num_classes} classes"
    )
    try:
        parsed.check_limits(target.batch_size)
        message = sizes
    except CnnError as exc:
        message = f"⚠️ {md(str(exc))}"
    return Views(table(design, parsed), message, picture_html(parsed), parsed.pytorch_code(), text)


# ---------------------------------------------------------------- the Runs tab's comparison


def design_of(entry) -> list | None:
    """The design a kept run was trained with (None: a preset model)."""
    d = getattr(entry, "design", None) or (getattr(entry, "recipe", None) or {}).get("design")
    return d if isinstance(d, list) else None


def design_differences(entries: list) -> str:
    """Markdown: how the designs of the compared runs differ from the first one's, layer by layer
    ('' when fewer than two of them are designs)."""
    designed = [(e, design_of(e)) for e in entries]
    designed = [(e, d) for e, d in designed if d is not None]
    if len(designed) < 2:
        return ""
    (first, base), parts = designed[0], []
    for e, d in designed[1:]:
        lines = core.diff(base, d)
        body = "\n".join(f"- {md(line)}" for line in lines) if lines else "- the same layers"
        parts.append(f"**{md(first.key)} → {md(e.key)}**, layer by layer:\n\n{body}")
    return "\n\n**Designs that differ**\n\n" + "\n\n".join(parts)
