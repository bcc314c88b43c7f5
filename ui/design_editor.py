"""The Train tab's layer editor: build a network from a preset or from nothing, layer by layer, and
see at once its table (output shape, parameters, multiply-adds per image), its picture and its
PyTorch code; time a few steps for seconds per epoch; share it as a link.

A design is a JSON list of layers (cnn.models.design: parsed, checked and built there; nothing here
reads a design but to list, move and show its layers). The editor keeps it in a gr.State; the JSON
view edits it as text. Every change answers with one message line: the totals, or which layer is
wrong and what to do; components keep their values on a bad edit (no error badges). Start trains
it when the model "Your design" is chosen, and refuses a broken or too big design (`configured`).

A share link (ui/design_share.py) opens the page with a design, data set and recipe filled in
(`_from_link`); anything wrong in a link is said and the rest of the page works.

Beside it: ui/design_edits.py (what an edit does to the list of layers) and ui/design_views.py
(what the editor shows of a design)."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass

import gradio as gr
from gradio.context import Context

from cnn.checkpoint import read_metadata
from cnn.cpu_share import SERVING
from cnn.data.sources import NAMED_CLASSES, NAMED_SHAPES
from cnn.errors import CnnError, ConfigError
from cnn.hardware import pick_device
from cnn.limits import check_layers_text
from cnn.models import MODELS, design_layers, design_presets
from cnn.models import design as core
from cnn.runs import RunConfig
from cnn.training import design_speed
from cnn.training.recipes import OPTIMIZERS, RECIPES, get_recipe

from .common import ROOT, AppContext, friendly, md
from .design_edits import added, arguments_text, as_layers, edited, layer_index, moved, removed
from .design_share import read_link, share_query
from .design_views import Target, analysed, show

MODEL = core.DESIGN  # the model name a designed network trains under
DESIGN_RECIPE = "design"  # the recipe preset a design trains with by default
MODEL_LABEL = "Your design (the layer editor below)"
EMPTY = "Empty"
START_PRESET = "LeNet-5"  # what the editor opens with
TRAIN_SIZES = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}
QUIET = dict(api_visibility="private", show_progress="hidden")


# ---------------------------------------------------------------- the presets a design starts from


@functools.cache
def _presets() -> dict[str, tuple[list, str]]:
    """name -> (design, note): LeNet-5 (examples/lenet5.json), every preset model as its design (or
    the closest one, with what differs: cnn.models.design_presets), and empty."""
    out = {START_PRESET: (json.loads((ROOT / "examples" / "lenet5.json").read_text()), "")}
    for name in MODELS:
        try:
            out[name] = design_presets.closest_design(name)
        except CnnError:
            continue
    out[EMPTY] = ([], "")
    return out


def presets() -> dict[str, list]:
    """The designs the editor starts from, by name (fresh copies: the editor changes them)."""
    return {name: json.loads(json.dumps(d)) for name, (d, _) in _presets().items()}


def model_choices() -> list:
    """The Train tab's model list: every preset, then the design (by its label)."""
    return [(name, name) for name in MODELS if name != MODEL] + [(MODEL_LABEL, MODEL)]


def layer_types() -> list[str]:
    return list(design_layers.LAYER_NAMES)


# ---------------------------------------------------------------- Start


def configured(cfg: RunConfig, design) -> RunConfig:
    """cfg with the editor's design as its layers when its model is the design (RunConfig.checked
    refuses a broken or too big one when the run starts, before anything changes); other models
    leave the design alone."""
    if cfg.model != MODEL:
        return cfg
    if cfg.init_from:  # continuing a designed run: its weights fit its own design only
        kept = read_metadata(cfg.init_from).get("design")
        if isinstance(kept, list) and kept != as_layers(design):
            gr.Info("Continuing a designed run trains its own design; the editor's is not used.", duration=6)
            return dataclasses.replace(cfg, layers=kept)
    return dataclasses.replace(cfg, layers=as_layers(design))


def refusal(cfg: RunConfig) -> str | None:
    """Why Start refuses cfg's design (broken, or too big for its batch), or None: a named data set's
    images are known before loading (an image folder's design is checked when its run starts)."""
    key = str(cfg.dataset or "").strip().lower()
    if cfg.model != MODEL or cfg.layers is None or key not in NAMED_SHAPES:
        return None
    try:
        batch = max(1, int(float(cfg.batch_size)))
    except (TypeError, ValueError, OverflowError):
        return None  # (RunConfig.checked says what is wrong with the batch size)
    try:
        core.parse(cfg.layers, NAMED_SHAPES[key], NAMED_CLASSES[key], batch)
    except CnnError as exc:
        return f"Your design cannot train yet: {exc}"
    return None


# ---------------------------------------------------------------- the editor on the page


@dataclass(frozen=True)
class DesignEditor:
    design: gr.State  # the list of layers
    selected: gr.State  # the 0-based index of the layer being edited (None: none)
    table: gr.Dataframe
    message: gr.Markdown
    picture: gr.HTML
    code: gr.Code
    text: gr.Code  # the JSON view
    number: gr.Markdown  # which layer the edit row edits
    kind: gr.Dropdown
    args: gr.Textbox

    def views(self) -> list:
        return [self.table, self.message, self.picture, self.code, self.text]

    def outputs(self) -> list:
        return [self.design, self.selected, *self.views(), self.number, self.kind, self.args]


def _selection(design: list, index) -> tuple:
    """(the edit row's heading, its layer type, its arguments) for layer `index`."""
    i = layer_index(design, index)
    if i is None:
        return "Click a layer's row to edit it.", gr.skip(), ""
    layer = design[i] if isinstance(design[i], dict) else {}
    return f"Editing layer **{i + 1}** of {len(design)}", layer.get("layer"), arguments_text(layer)


def answer(design: list, index, dataset_choice, batch) -> tuple:
    """What every change sends: the design, the selected layer and every view of it."""
    v = show(design, Target.of(dataset_choice, batch))
    return (design, index, v.table, v.message, v.picture, v.code, v.text, *_selection(design, index))


def _kept(message: str, n: int) -> tuple:
    """An edit refused: only the message changes (the other n outputs stay as they are)."""
    return (*[gr.skip()] * 3, f"⚠️ {md(message)}", *[gr.skip()] * n)


def _guarded(op):
    """An edit: its ConfigError is shown in the message line and nothing else changes."""

    @functools.wraps(op)  # (Gradio reads op's signature: gr.SelectData is passed by its type hint)
    def run(design, index, *rest):
        try:
            return op(as_layers(design), index, *rest)
        except CnnError as exc:
            return (gr.skip(), gr.skip(), gr.skip(), f"⚠️ {md(str(exc))}", *[gr.skip()] * 6)

    return friendly(run)


@_guarded
def on_open(design, index, preset, dataset_choice, batch):
    """Start from a preset (its note, when its design is only close to it, as a toast)."""
    if preset not in _presets():
        raise ConfigError(f"Unknown preset {preset!r}: choose one in the list.")
    chosen, note = presets()[preset], _presets()[preset][1]
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
        return (gr.skip(),) * 10
    return (gr.skip(), row, *[gr.skip()] * 5, *_selection(design, row))


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
    return answer(as_layers(design), index, dataset_choice, batch)


@friendly
def estimate(ctx: AppContext, design, dataset_choice, batch, recipe, optimizer, lr, train_n) -> str:
    """Seconds per epoch on this app's device, from timing a few real steps of the design."""
    design = as_layers(design)
    target = Target.of(dataset_choice, batch)
    try:
        analysed(design, target)
        r = get_recipe(recipe if recipe in RECIPES else DESIGN_RECIPE)
        r = r.replace(
            model=MODEL,
            design=design,
            batch_size=target.batch_size,
            optimizer=optimizer if optimizer in OPTIMIZERS else r.optimizer,
        )
        r = r.replace(lr=float(lr)) if lr not in (None, "") else r
    except (CnnError, ValueError) as exc:
        return f"⚠️ No estimate: {md(str(exc))}"
    n = TRAIN_SIZES.get(target.dataset or "", 10_000)
    try:
        n = min(n, int(str(train_n).replace(",", ""))) if str(train_n or "").strip() else n
    except ValueError:
        pass
    device = pick_device(getattr(ctx.runs, "device", None) or "cpu")
    with SERVING.serving():  # a training run in this process gives way for the second it takes
        per_step = design_speed.seconds_per_step(r, target.input_shape, target.num_classes, device=device)
    steps = math.ceil(n / target.batch_size)
    busy = " (a run is training now, so this is slower than on a quiet machine)" if _training(ctx) else ""
    return (
        f"About **{per_step * steps:,.1f} s per epoch** on {md(ctx.runs.device_name())}{busy}: "
        f"{per_step * 1000:,.0f} ms per step of {target.batch_size} images × {steps:,} steps "
        f"({n:,} images; data loading not included)."
    )


def _training(ctx: AppContext) -> bool:
    run = ctx.runs.current
    return run is not None and not run.done


def build(ctx: AppContext, settings: list) -> DesignEditor:
    """The editor's layout and events (call in the Train tab, after the settings; settings in
    `train_tab.start`'s order). Opens when the model "Your design" is chosen."""
    dataset, folder, model, recipe, epochs, batch, lr, optimizer, train_n = settings[:9]
    start = presets().get(START_PRESET) or next(iter(presets().values()))
    first = show(start, Target.of("MNIST", 64))
    with gr.Accordion("Your design: build your own network", open=False, elem_id="design-editor") as box:
        gr.Markdown(
            "Choose **Your design** as the model to train it. Start from a preset, click a layer's row "
            "to edit it, or edit the JSON. Shapes and costs are for the chosen data set's images."
        )
        with gr.Row(elem_id="design-start"):
            preset = gr.Dropdown(
                list(presets()), value=START_PRESET, label="Start from", elem_id="design-preset", scale=3
            )
            open_btn = gr.Button("Open", elem_id="design-open", scale=1, min_width=80)
        message = gr.Markdown(first.message, elem_id="design-message")
        table_ = gr.Dataframe(
            first.table, interactive=False, elem_id="design-table", wrap=True, max_height=420, show_search="none"
        )
        number = gr.Markdown(*_selection(start, 0)[:1], elem_id="design-selected")
        with gr.Row(elem_id="design-edit"):
            kind = gr.Dropdown(
                layer_types(), value=_selection(start, 0)[1], label="Layer", elem_id="design-kind", min_width=140
            )
            args = gr.Textbox(
                _selection(start, 0)[2],
                label="Arguments (name=value, ...)",
                elem_id="design-args",
                min_width=200,
                scale=2,
            )
        with gr.Row(elem_id="design-buttons"):
            apply_btn = gr.Button("Apply", variant="primary", elem_id="design-apply", min_width=70)
            add_btn = gr.Button("Add after", elem_id="design-add", min_width=70)
            remove_btn = gr.Button("Remove", elem_id="design-remove", min_width=70)
            up_btn = gr.Button("↑ Up", elem_id="design-up", min_width=60)
            down_btn = gr.Button("↓ Down", elem_id="design-down", min_width=60)
        with gr.Tabs(elem_id="design-views"):
            with gr.Tab("Picture", id="design-picture-tab"):
                picture = gr.HTML(first.picture, elem_id="design-picture")
            with gr.Tab("PyTorch code", id="design-code-tab"):
                code = gr.Code(first.code, language="python", interactive=False, elem_id="design-code")
            with gr.Tab("JSON", id="design-json-tab"):
                text = gr.Code(first.text, language="json", interactive=True, elem_id="design-json", max_lines=30)
                text_btn = gr.Button("Apply the JSON", elem_id="design-json-apply")
        with gr.Row(elem_id="design-estimate-row"):
            estimate_btn = gr.Button("Estimate seconds per epoch", elem_id="design-estimate-btn", min_width=120)
            estimate_md = gr.Markdown("", elem_id="design-estimate")
        with gr.Row(elem_id="design-share-row"):
            share_btn = gr.Button("Copy share link", elem_id="design-share-btn", min_width=120)
            link = gr.Textbox(
                "", label="Share link: opens this design, data set and recipe", elem_id="design-link", buttons=["copy"]
            )
        design = gr.State(start)
        selected = gr.State(0 if start else None)
    ed = DesignEditor(design, selected, table_, message, picture, code, text, number, kind, args)
    target = [dataset, batch]
    out = ed.outputs()
    open_btn.click(on_open, [design, selected, preset, *target], out, **QUIET)
    table_.select(on_select, [design, selected, *target], out, **QUIET)
    apply_btn.click(on_apply, [design, selected, kind, args, *target], out, **QUIET)
    args.submit(on_apply, [design, selected, kind, args, *target], out, **QUIET)
    add_btn.click(on_add, [design, selected, kind, *target], out, **QUIET)
    remove_btn.click(on_remove, [design, selected, *target], out, **QUIET)
    up_btn.click(_move(-1), [design, selected, *target], out, **QUIET)
    down_btn.click(_move(+1), [design, selected, *target], out, **QUIET)
    text_btn.click(on_text, [design, selected, text, *target], out, **QUIET)
    dataset.change(on_target, [design, selected, *target], out, **QUIET)
    batch.change(on_target, [design, selected, *target], out, **QUIET)
    model.change(lambda m: gr.Accordion(open=True) if m == MODEL else gr.skip(), model, box, **QUIET)
    estimate_btn.click(
        _bound_estimate(ctx),
        [design, dataset, batch, recipe, optimizer, lr, train_n],
        estimate_md,
        concurrency_id="design-estimate",
        concurrency_limit=1,
        api_visibility="private",
    )
    share_btn.click(share_query, [design, dataset, recipe, epochs, batch, lr, optimizer], link, **QUIET).then(
        None, link, link, js="(q) => q ? location.origin + location.pathname + q : q", **QUIET
    )
    page = Context.root_block  # the page (gr.Blocks) being built: fill a shared link in when it opens
    if page is not None:
        fill = [dataset, folder, model, recipe, epochs, batch, lr, optimizer, box]
        page.load(_from_link, [design, selected], [*out, *fill], **QUIET)
    return ed


def _bound_estimate(ctx: AppContext):
    def call(design, dataset_choice, batch, recipe, optimizer, lr, train_n):
        return estimate(ctx, design, dataset_choice, batch, recipe, optimizer, lr, train_n)

    return call


def _from_link(design, selected, request: gr.Request):
    """The page opened: a share link's design, data set and recipe filled in (nothing without one)."""
    query = dict(getattr(request, "query_params", {}) or {}) if request is not None else {}
    n = len(DesignEditor.__dataclass_fields__) + 9
    keys = {"design", "dataset", "recipe", "epochs", "batch", "lr", "optimizer"}
    if not keys & set(query):
        return (gr.skip(),) * n
    link = read_link(query)
    skip = gr.skip()
    if link.problems:
        gr.Warning("Part of this link could not be used: " + "; ".join(link.problems) + ".", duration=10)
    settings = [
        link.dataset_choice or skip,
        gr.Textbox(visible=False) if link.dataset_choice else skip,
        MODEL if link.design is not None else skip,
    ]
    recipe = link.recipe or skip
    r = get_recipe(link.recipe) if link.recipe else None
    epochs = link.epochs if link.epochs is not None else (r.epochs if r else skip)
    batch = link.batch if link.batch is not None else (r.batch_size if r else skip)
    lr = link.lr if link.lr is not None else (r.lr if r else skip)
    optimizer = link.optimizer or (r.optimizer if r else skip)
    if link.design is None:
        editor = (skip,) * (n - 9)
    else:
        editor = answer(
            link.design, 0 if link.design else None, link.dataset_choice or "MNIST", batch if batch is not skip else 64
        )
    box = gr.Accordion(open=True) if link.design is not None else skip
    return (*editor, *settings, recipe, epochs, batch, lr, optimizer, box)
