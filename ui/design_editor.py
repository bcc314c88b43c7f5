"""The Train tab's layer editor: build a network from a preset or from nothing, layer by layer, and
see at once its table (output shape, parameters, multiply-adds per image), its picture and its
PyTorch code; time a few steps for seconds per epoch; share it as a link.

A design is a JSON list of layers (cnn.models.design: parsed, checked and built there; nothing here
reads a design but to list, move and show its layers). The editor keeps it in a gr.State; the JSON
view edits it as text. Every change answers with one message line: the totals, or which layer is
wrong and what to do; components keep their values on a bad edit (no error badges). Start trains
it when the model "Your design" is chosen, and refuses a broken or too big design (`configured`).

A share link is the page's address with the design (cnn.models.design_link's token), the data set
and the recipe in its query, as TensorFlow Playground keeps its network in its URL: opening it
fills them in (`from_link`); anything wrong in a link is said and the rest of the page works."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from urllib.parse import urlencode

import gradio as gr
import pandas as pd
from gradio.context import Context

from cnn.checkpoint import read_metadata
from cnn.cpu_share import SERVING
from cnn.data.sources import NAMED_CLASSES, NAMED_SHAPES
from cnn.errors import CnnError, ConfigError
from cnn.hardware import pick_device
from cnn.models import MODELS, design_layers, design_link, design_presets, design_view
from cnn.models import design as core
from cnn.runs import RunConfig
from cnn.training import design_speed
from cnn.training.recipes import OPTIMIZERS, RECIPES, get_recipe

from .common import DATASETS, ROOT, AppContext, friendly, md

MODEL = core.DESIGN  # the model name a designed network trains under
DESIGN_RECIPE = "design"  # the recipe preset a design trains with by default
MODEL_LABEL = "Your design (the layer editor below)"
EMPTY = "Empty"
START_PRESET = "LeNet-5"  # what the editor opens with
TABLE_COLUMNS = [
    "#",
    "Layer",
    "Output shape",
    "Parameters",
    "Multiply-adds",
    "Arguments",
]  # sizes first: a phone shows those
FOLDER_SHAPE = (3, 32, 32)  # an image folder's images are shown as colour 32x32 (checked at Start)
TRAIN_SIZES = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}
QUIET = dict(api_visibility="private", show_progress="hidden")
PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}  # typed as in the PyTorch code
# Arguments a new layer of each type opens with (a person edits them after).
NEW_LAYER = {
    "Conv2d": {"out_channels": 16, "kernel_size": 3, "padding": 1},
    "MaxPool2d": {"kernel_size": 2},
    "AvgPool2d": {"kernel_size": 2},
    "AdaptiveAvgPool2d": {"output_size": 1},
    "Linear": {"out_features": 64},
    "Dropout": {"p": 0.25},
    "Dropout2d": {"p": 0.25},
    "LeakyReLU": {"negative_slope": 0.01},
    "Residual": {
        "layers": [{"layer": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"layer": "ReLU"}]
    },
}


# ---------------------------------------------------------------- the design as a list (no parsing)


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


def _layers(design) -> list:
    return list(design) if isinstance(design, list) else []


def _at(design: list, index) -> int | None:
    """A valid 0-based layer index, or None."""
    try:
        i = int(index)
    except (TypeError, ValueError):
        return None
    return i if 0 <= i < len(design) else None


def arguments_text(layer) -> str:
    """A layer's arguments as a person types them: `kernel_size=5, padding=2` (values as JSON)."""
    if not isinstance(layer, dict):
        return ""
    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in layer.items() if k != "layer")


def _split_top(text: str) -> list[str]:
    """text split at the commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_arguments(text: str) -> dict:
    """`name=value, ...` as a dict: each value read as JSON (5, 0.25, true, [3, 3]; a bare word is a
    string), never evaluated. A ConfigError says which part could not be read."""
    out = {}
    for part in _split_top(str(text or "")):
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.isidentifier():
            raise ConfigError(f"Could not read {part!r}: write each argument as name=value, e.g. kernel_size=3.")
        if name == "layer":
            raise ConfigError("Choose the layer's type in the Layer list, not as an argument.")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = f'"{value[1:-1]}"'  # Python's quotes
        value = PYTHON_WORDS.get(value, value)
        try:
            out[name] = json.loads(value.replace("(", "[").replace(")", "]"))
        except json.JSONDecodeError:
            if not value.replace("_", "").isalnum():
                raise ConfigError(f"Could not read the value of {name}: {value!r}.") from None
            out[name] = value
    return out


def edited(design: list, index: int | None, kind: str, args: str) -> list:
    """design with layer `index` replaced by a `kind` layer with these arguments."""
    design = _layers(design)
    i = _at(design, index)
    if i is None:
        raise ConfigError("Choose a layer first: click its row in the table.")
    new = list(design)
    new[i] = {"layer": kind, **parse_arguments(args)}
    return new


def added(design: list, index: int | None, kind: str) -> tuple[list, int]:
    """(design with a new `kind` layer after layer `index`, or at the end; its index)."""
    design = _layers(design)
    i = _at(design, index)
    at = len(design) if i is None else i + 1
    layer = {"layer": kind, **json.loads(json.dumps(NEW_LAYER.get(kind, {})))}
    return design[:at] + [layer] + design[at:], at


def removed(design: list, index: int | None) -> tuple[list, int | None]:
    design = _layers(design)
    i = _at(design, index)
    if i is None:
        raise ConfigError("Choose a layer to remove: click its row in the table.")
    new = design[:i] + design[i + 1 :]
    return new, (min(i, len(new) - 1) if new else None)


def moved(design: list, index: int | None, by: int) -> tuple[list, int | None]:
    design = _layers(design)
    i = _at(design, index)
    if i is None:
        raise ConfigError("Choose a layer to move: click its row in the table.")
    j = i + by
    if not 0 <= j < len(design):
        return design, i
    new = list(design)
    new[i], new[j] = new[j], new[i]
    return new, j


# ---------------------------------------------------------------- what a design makes


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
    design = _layers(design)
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


# ---------------------------------------------------------------- share links


def encode_design(design: list) -> str:
    """A design as a link's `design=` token (cnn.models.design_link: compressed, base64url)."""
    return design_link.design_to_token(design)


def decode_design(text: str) -> list:
    """A link's `design=` token back to a list of layers; a ConfigError says what is wrong with it."""
    return design_link.design_from_token(str(text or "").strip())


def share_query(design, dataset_choice, recipe, epochs, batch, lr, optimizer) -> str:
    """The query that opens the page with this design, data set and recipe: `?design=...&...`."""
    q = {"design": encode_design(_layers(design))}
    if DATASETS.get(dataset_choice):
        q["dataset"] = DATASETS[dataset_choice]
    for name, v in (("recipe", recipe), ("epochs", epochs), ("batch", batch), ("lr", lr), ("optimizer", optimizer)):
        if v not in (None, ""):
            q[name] = f"{v:g}" if isinstance(v, float) else str(v)
    return "?" + urlencode(q)


@dataclass(frozen=True)
class Link:
    """What a share link fills in (None: left as it is) and what was wrong in it."""

    design: list | None = None
    dataset_choice: str | None = None
    recipe: str | None = None
    epochs: float | None = None
    batch: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    problems: tuple = ()


def _number(query, name: str, low: float, high: float, whole: bool = False) -> float | None:
    v = query.get(name)
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and low < x <= high) or (whole and not x.is_integer()):
        raise ConfigError(f"{name}={v!r} is not a {'whole ' if whole else ''}number above {low:g} and at most {high:g}")
    return int(x) if whole else x


def read_link(query) -> Link:
    """A share link's query (a dict-like of strings) as what it fills in; each bad part is left out
    and named in `problems`, so the rest still opens."""
    found, problems = {}, []
    if "design" in query:
        try:
            found["design"] = decode_design(query["design"])
        except ConfigError as exc:
            problems.append(str(exc).rstrip("."))
    if "dataset" in query:
        named = {v: k for k, v in DATASETS.items() if v}
        choice = named.get(str(query["dataset"]).strip().lower())
        if choice is None:
            problems.append(f"unknown data set {str(query['dataset'])[:40]!r} (one of {', '.join(named)})")
        else:
            found["dataset_choice"] = choice
    for name, allowed in (("recipe", RECIPES), ("optimizer", OPTIMIZERS)):
        if name in query:
            if query[name] in allowed:
                found[name] = query[name]
            else:
                problems.append(f"unknown {name} {str(query[name])[:40]!r}")
    for name, key, low, high, whole in (
        ("epochs", "epochs", 0, 1000, False),
        ("batch", "batch", 0, 65536, True),
        ("lr", "lr", 0, 10, False),
    ):
        try:
            v = _number(query, name, low, high, whole)
            if v is not None:
                found[key] = v
        except ConfigError as exc:
            problems.append(str(exc))
    return Link(**found, problems=tuple(problems))


# ---------------------------------------------------------------- Start


def configured(cfg: RunConfig, design) -> RunConfig:
    """cfg with the editor's design as its layers when its model is the design (RunConfig.checked
    refuses a broken or too big one when the run starts, before anything changes); other models
    leave the design alone."""
    if cfg.model != MODEL:
        return cfg
    if cfg.init_from:  # continuing a designed run: its weights fit its own design only
        kept = read_metadata(cfg.init_from).get("design")
        if isinstance(kept, list) and kept != _layers(design):
            gr.Info("Continuing a designed run trains its own design; the editor's is not used.", duration=6)
            return dataclasses.replace(cfg, layers=kept)
    return dataclasses.replace(cfg, layers=_layers(design))


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
    i = _at(design, index)
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
            return op(_layers(design), index, *rest)
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
    return answer(_layers(design), index, dataset_choice, batch)


@friendly
def estimate(ctx: AppContext, design, dataset_choice, batch, recipe, optimizer, lr, train_n) -> str:
    """Seconds per epoch on this app's device, from timing a few real steps of the design."""
    design = _layers(design)
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
