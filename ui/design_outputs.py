"""The layer editor's outputs, defined once (as ui/train_view.py's TrainOutputs): the components,
their names, and `values(**by_name)`, which every editor handler answers through, so that no
handler counts outputs. `answer` is what a change sends: the design and every view of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import gradio as gr

from . import outputs
from .design_edits import arguments_text, layer_index
from .design_views import Target, show

STALE_CLASS = "design-stale"  # the views' box greyed out (ui/app.py CSS): the table moved on, they did not


@dataclass(frozen=True)
class DesignEditor:
    design: gr.State  # the list of layers
    selected: gr.State  # the 0-based index of the layer being edited (None: none)
    table: gr.Dataframe
    message: gr.Markdown  # under the edit buttons: the totals, or which layer is wrong and what to do
    picture: gr.HTML
    code: gr.Code
    text: gr.Code  # the JSON view
    number: gr.Markdown  # which layer the edit row edits
    kind: gr.Dropdown
    args: gr.Textbox
    views_box: gr.Column  # around the picture, code and JSON views: greyed out when they are stale
    stale: gr.Markdown  # "Out of date: fix layer 5", over the views, when they are stale

    def outputs(self) -> list:
        return [getattr(self, name) for name in OUTPUTS]


OUTPUTS = tuple(f.name for f in fields(DesignEditor))


def values(**by_name) -> tuple:
    """Values for the editor's outputs, in their order; an output not named is left as it is."""
    return outputs.values(OUTPUTS, "layer editor", **by_name)


def named(out) -> dict:
    """A handler's answer by output name (tests read answers so, never by position)."""
    return outputs.named(OUTPUTS, out)


def selection(design: list, index) -> dict:
    """The edit row (its heading, its layer type, its arguments) for layer `index`."""
    i = layer_index(design, index)
    if i is None:
        return dict(number="Click a layer's row to edit it.", args="")
    layer = design[i] if isinstance(design[i], dict) else {}
    return dict(
        number=f"Editing layer **{i + 1}** of {len(design)}", kind=layer.get("layer"), args=arguments_text(layer)
    )


def stale_note(message: str) -> str:
    """'Out of date: fix layer 5' for a broken design's message ('layer 5, Conv2d: ...')."""
    m = re.search(r"layer (\d+(?:\.\d+)?)", message)
    where = f"layer {m.group(1)}" if m else "the design"
    return f"**Out of date: fix {where}.** The picture and code show the last design that worked."


def answer(design: list, index, dataset_choice, batch) -> dict:
    """What every change sends, by name: the design, the selected layer and every view of it. A
    broken design keeps the last picture and code, greyed out under a note that says so."""
    v = show(design, Target.of(dataset_choice, batch))
    stale = not isinstance(v.picture, str)  # (gr.skip(): the design does not build)
    return dict(
        design=design,
        selected=index,
        table=v.table,
        message=v.message,
        picture=v.picture,
        code=v.code,
        text=v.text,
        views_box=gr.Column(elem_classes=[STALE_CLASS] if stale else []),
        stale=gr.Markdown(stale_note(v.message) if stale else "", visible=stale),
        **selection(design, index),
    )
