"""The Train tab's layer editor: build a network from a preset or from nothing, layer by layer, and
see at once its table (output shape, parameters, multiply-adds per image), its picture and its
PyTorch code; time a few steps for seconds per epoch; share it as a link.

A design is a JSON list of layers (cnn.models.design: parsed, checked and built there; nothing here
reads a design but to list, move and show its layers). The editor keeps it in a gr.State; the JSON
view edits it as text. Every change answers with one message line under the edit buttons: the
totals, or which layer is wrong and what to do; components keep their values on a bad edit (no
error badges), and a design that does not build greys out the picture and code it can no longer
show ("Out of date: fix layer 5"). Start trains it when the model "Your design" is chosen, and
refuses a broken or too big design (design_start.configured).

Beside it: ui/design_outputs.py (its outputs, by name), design_edits.py (what an edit does to the
list of layers), design_views.py (what it shows of a design), design_start.py (presets, Start),
design_estimate.py (seconds per epoch), design_share.py and design_link_open.py (share links)."""

from __future__ import annotations

import functools
import json

import gradio as gr

from cnn.errors import CnnError, ConfigError
from cnn.limits import check_layers_text

from . import design_estimate, design_link_open, gradio_internals
from .common import AppContext, bind, friendly, md
from .design_edits import added, as_layers, edited, moved, removed
from .design_outputs import DesignEditor, answer, selection, values
from .design_share import share_query
from .design_start import (
    DESIGN_RECIPE,
    EMPTY,
    MODEL,
    MODEL_LABEL,
    START_PRESET,
    configured,
    layer_types,
    model_choices,
    opened,
    preset_choices,
    presets,
    refusal,
)
from .design_views import Target, show

# (what the Train tab and the tests reach through this module)
__all__ = [
    "DESIGN_RECIPE",
    "EMPTY",
    "MODEL",
    "MODEL_LABEL",
    "START_PRESET",
    "DesignEditor",
    "answer",
    "build",
    "configured",
    "model_choices",
    "preset_choices",
    "presets",
    "refusal",
]
QUIET = dict(api_visibility="private", show_progress="hidden")
# Every event that reads the design and answers a new one runs alone, one after another, each with the
# design the one before left (Gradio reads a gr.State when the event runs): side by side, two quick
# clicks each changed the same design and the second answer dropped the first's change. A button's
# clicks queue up (trigger_mode "multiple") where Gradio would drop those made while one is on its
# way: three quick "Add after" on a busy server added one layer. An edit takes 5-22 ms
# (docs/benchmarks/cpu/design_editor.log), so one queue for every page costs little.
EDIT = dict(concurrency_id="design-edit", concurrency_limit=1, **QUIET)
CLICK_EDIT = dict(trigger_mode="multiple", **EDIT)


def _guarded(op):
    """An edit: its ConfigError is shown in the message line and nothing else changes; the answer,
    a dict by output name (design_outputs), goes out in the outputs' order."""

    @functools.wraps(op)  # (Gradio reads op's signature: gr.SelectData is passed by its type hint)
    def run(design, index, *rest):
        try:
            return values(**op(as_layers(design), index, *rest))
        except CnnError as exc:
            return values(message=f"⚠️ {md(str(exc))}")

    return friendly(run)


@_guarded
def on_open(design, index, preset, dataset_choice, batch):
    """Start from a preset (its note, when its design is only close to it, as a toast)."""
    chosen, note = opened(preset)
    if note:
        gr.Info(note, duration=10)
    return answer(chosen, 0 if chosen else None, dataset_choice, batch)


@_guarded
def on_select(design, index, dataset_choice, batch, evt: gr.SelectData):
    """A click on a table row edits its layer (a Residual's inner row, 3.2: the Residual at 3)."""
    place = str((evt.row_value or [""])[0])
    try:
        row = int(place.split(".")[0]) - 1
    except ValueError:
        return {}
    return dict(selected=row, **selection(design, row))


@_guarded
def on_apply(design, index, kind, args, dataset_choice, batch):
    return answer(edited(design, index, kind, args), index, dataset_choice, batch)


@_guarded
def on_add(design, index, kind, dataset_choice, batch):
    new, at = added(design, index, kind or "ReLU")
    return answer(new, at, dataset_choice, batch)


@_guarded
def on_remove(design, index, dataset_choice, batch):
    return answer(*removed(design, index), dataset_choice, batch)


def _move(by: int):
    @_guarded
    def on_move(design, index, dataset_choice, batch):
        return answer(*moved(design, index, by), dataset_choice, batch)

    return on_move


@_guarded
def on_text(design, index, text, dataset_choice, batch):
    """The JSON view applied: the list follows it (malformed JSON: a message, nothing changes)."""
    check_layers_text(text)  # over cnn.limits' size: refused unread
    try:
        new = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"The JSON could not be read: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if not isinstance(new, list):
        raise ConfigError('The JSON must be a list of layers: [{"layer": "Conv2d", ...}, ...].')
    return answer(new, 0 if new else None, dataset_choice, batch)


@friendly
def on_target(design, index, dataset_choice, batch):
    """The data set or batch changed: the same design, shown for its images."""
    return values(**answer(as_layers(design), index, dataset_choice, batch))


estimate = design_estimate.estimate


def _layout(start: list) -> tuple[dict, DesignEditor]:
    """The editor's components (call inside its accordion): (the buttons and boxes by name, the
    DesignEditor of its outputs)."""
    first, sel = show(start, Target.of("MNIST", 64)), selection(start, 0 if start else None)
    gr.Markdown(
        "Choose **Your design** as the model to train it. Start from a preset, click a layer's row "
        "to edit it, or edit the JSON. Shapes and costs are for the chosen data set's images."
    )
    c = {}
    with gr.Row(elem_id="design-start"):
        c["preset"] = gr.Dropdown(
            preset_choices(), value=START_PRESET, label="Start from", elem_id="design-preset", scale=3
        )
        c["open"] = gr.Button("Open", elem_id="design-open", scale=1, min_width=80)
    table_ = gr.Dataframe(
        first.table, interactive=False, elem_id="design-table", wrap=True, max_height=420, show_search="none"
    )
    number = gr.Markdown(sel["number"], elem_id="design-selected")
    with gr.Row(elem_id="design-edit"):
        kind = gr.Dropdown(layer_types(), value=sel.get("kind"), label="Layer", elem_id="design-kind", min_width=140)
        args = gr.Textbox(
            sel["args"], label="Arguments (name=value, ...)", elem_id="design-args", min_width=200, scale=2
        )
    with gr.Row(elem_id="design-buttons"):
        for key, label, width in BUTTONS:
            c[key] = gr.Button(
                label, variant="primary" if key == "apply" else "secondary", elem_id=f"design-{key}", min_width=width
            )
    message = gr.Markdown(first.message, elem_id="design-message")  # beside the buttons that change the design
    with gr.Column(elem_id="design-views-box") as views_box:
        stale = gr.Markdown("", visible=False, elem_id="design-stale")
        with gr.Tabs(elem_id="design-views"):
            with gr.Tab("Picture", id="design-picture-tab"):
                picture = gr.HTML(first.picture, elem_id="design-picture")
            with gr.Tab("PyTorch code", id="design-code-tab"):
                code = gr.Code(first.code, language="python", interactive=False, elem_id="design-code")
            with gr.Tab("JSON", id="design-json-tab"):
                text = gr.Code(first.text, language="json", interactive=True, elem_id="design-json", max_lines=30)
                c["json-apply"] = gr.Button("Apply the JSON", elem_id="design-json-apply")
    with gr.Row(elem_id="design-estimate-row"):
        c["estimate"] = gr.Button("Estimate seconds per epoch", elem_id="design-estimate-btn", min_width=120)
        c["estimate_md"] = gr.Markdown("", elem_id="design-estimate")
    with gr.Row(elem_id="design-share-row"):
        c["share"] = gr.Button("Copy share link", elem_id="design-share-btn", min_width=120)
        c["link"] = gr.Textbox(
            "",
            label="Share link: opens this design and every setting in the Train tab",
            elem_id="design-link",
            buttons=["copy"],
        )
    design, selected = gr.State(start), gr.State(0 if start else None)
    return c, DesignEditor(design, selected, table_, message, picture, code, text, number, kind, args, views_box, stale)


BUTTONS = (
    ("apply", "Apply", 70),
    ("add", "Add after", 70),
    ("remove", "Remove", 70),
    ("up", "↑ Up", 60),
    ("down", "↓ Down", 60),
)


def build(ctx: AppContext, settings) -> DesignEditor:
    """The editor's layout and events (call in the Train tab, after the settings, a
    train_settings.TrainSettings; a share link opens the Train tab: design_link_open).
    Opens when the model "Your design" is chosen."""
    s = settings
    dataset, model, recipe, epochs, batch, lr, optimizer = (
        s.dataset,
        s.model,
        s.recipe,
        s.epochs,
        s.batch,
        s.lr,
        s.optimizer,
    )
    train_n, test_n = s.train_n, s.test_n
    start = presets().get(START_PRESET) or next(iter(presets().values()))
    with gr.Accordion("Your design: build your own network", open=False, elem_id="design-editor") as box:
        c, ed = _layout(start)
    state, target, out = [ed.design, ed.selected], [dataset, batch], ed.outputs()
    c["open"].click(on_open, [*state, c["preset"], *target], out, **CLICK_EDIT)
    ed.table.select(on_select, [*state, *target], out, **EDIT)
    c["apply"].click(on_apply, [*state, ed.kind, ed.args, *target], out, **CLICK_EDIT)
    ed.args.submit(on_apply, [*state, ed.kind, ed.args, *target], out, **CLICK_EDIT)
    c["add"].click(on_add, [*state, ed.kind, *target], out, **CLICK_EDIT)
    c["remove"].click(on_remove, [*state, *target], out, **CLICK_EDIT)
    c["up"].click(_move(-1), [*state, *target], out, **CLICK_EDIT)
    c["down"].click(_move(+1), [*state, *target], out, **CLICK_EDIT)
    c["json-apply"].click(on_text, [*state, ed.text, *target], out, **CLICK_EDIT)
    dataset.change(on_target, [*state, *target], out, **EDIT)
    batch.change(on_target, [*state, *target], out, **EDIT)
    model.change(lambda m: gr.Accordion(open=True) if m == MODEL else gr.skip(), model, box, **QUIET)
    c["estimate"].click(
        bind(design_estimate.estimate, ctx),
        [ed.design, dataset, batch, recipe, optimizer, lr, train_n],
        c["estimate_md"],
        concurrency_id="design-estimate",
        concurrency_limit=1,
        api_visibility="private",
    )
    shared = [ed.design, dataset, recipe, epochs, batch, lr, optimizer, train_n, test_n]
    c["share"].click(share_query, shared, c["link"], **QUIET).then(
        None, c["link"], c["link"], js="(q) => q ? location.origin + location.pathname + q : q", **QUIET
    )
    page = gradio_internals.page_being_built()  # the page (gr.Blocks) being built: fill a shared link in when it opens
    if page is not None:
        design_link_open.wire(page, ed, settings, box)
    return ed
