"""The Train tab: pick a data set, a model and its settings, train in the background, watch the
loss curve grow, stop, and load the result into the Draw or Photo tab.

Start checks the settings, starts the run and returns at once. The page then pulls the run's
state: a timer asks every TICK_S seconds (and the page asks once when it loads, so a reloaded
page shows the run going or the last one), and `refresh` sends only what that page does not show
yet. What a page shows is written in the page itself (the hidden `shown` box, which each answer
updates together with the components it changes), so an answer the page never applied is sent
again on the next tick. Closing every page of a run stops it: RunManager stops a run that no page
has asked about for UNWATCHED_S seconds (it keeps its weights), and a reload keeps asking."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from pathlib import Path

import gradio as gr

from cnn.data import resolve_data_dir
from cnn.errors import CnnError, ConfigError
from cnn.run_index import load_history
from cnn.runs import RunConfig
from cnn.training.recipes import OPTIMIZERS, RECIPES, default_recipe, fast_default, get_recipe

from . import confusion_view, design_editor
from .common import DATASETS, AppContext, bind, friendly
from .train_view import OUTPUTS, Shown, TrainOutputs, values, view_update

__all__ = [
    "OUTPUTS",
    "Shown",
    "TrainOutputs",
    "values",
    "view_update",
    "build",
    "on_load",
    "start",
    "stop",
    "refresh",
    "use_in",
    "pick_for_dataset",
]

TICK_S = 1.0  # the page asks for the run's state this often (the progress line: ~1/s)
UNWATCHED_S = 15.0  # a run no page has asked about for this long stops (RunManager's option)
QUIET = dict(api_visibility="private", show_progress="hidden")


# ---------------------------------------------------------------- handlers


@friendly
def refresh(ctx: AppContext, shown: str | None) -> tuple:
    """The timer's tick and the page's load: what this page does not show yet of the current run
    (or the last one). Asking counts as looking at a run that goes (see UNWATCHED_S)."""
    run = ctx.runs.current
    if run is None:
        return values()
    if not run.done:
        run.viewed()
    return view_update(run, Shown.parse(shown))


def _count(text, name: str) -> int | None:
    """A number of images typed in a quick-run box: None when empty (all of them)."""
    t = str(text if text is not None else "").strip().replace(",", "").replace("_", "")
    if not t:
        return None
    try:
        v = float(t)
        if v.is_integer():
            return int(v)
    except (ValueError, OverflowError):
        pass
    raise ConfigError(f"{name} must be a whole number of images, or empty for all (got {text!r}).")


def run_config(
    dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n, tensorboard: bool = False
) -> RunConfig:
    """The run the settings on the page ask for (checked when it starts)."""
    dataset = DATASETS.get(dataset_choice) or (folder or "").strip()
    return RunConfig(
        dataset,
        model,
        recipe,
        epochs,
        batch,
        lr,
        optimizer,
        _count(train_n, "Training images"),
        _count(test_n, "Test images"),
        tensorboard=bool(tensorboard),
    )


def continued(ctx: AppContext, cfg: RunConfig, key: str | None) -> RunConfig:
    """cfg continuing the kept run named key (as the Runs tab lists it): it starts from that run's
    checkpoint. Only a run's name is taken from the page, never a path."""
    key = str(key or "").strip()
    if not key:
        return cfg
    e = ctx.usable_run(key, " to continue from", " Clear 'Continue from run' to train from scratch.")
    return dataclasses.replace(cfg, init_from=str(e.checkpoint), parent=key)


@friendly
def start(
    ctx: AppContext,
    dataset_choice: str,
    folder: str | None,
    model: str,
    recipe: str,
    epochs,
    batch,
    lr,
    optimizer: str,
    train_n,
    test_n,
    tensorboard: bool = False,
    continue_from: str | None = None,
    owner: str | None = None,
    design: list | None = None,
) -> tuple:
    """Check the settings and start a run; then the tab shows it from scratch. Bad settings, or a run
    already going, are refused with a message before anything on the page changes. tensorboard: also
    write TensorBoard scalars (under the runs folder's tensorboard/); continue_from: the name of a
    kept run to start from (its weights). `owner` is this browser's token (kept in its storage, made
    here the first time): only it can stop the run."""
    cfg = run_config(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n, tensorboard)
    cfg = continued(ctx, cfg, continue_from)
    cfg = design_editor.configured(cfg, design)  # the model "design": the editor's layers
    refusal = design_editor.refusal(cfg)
    if refusal:  # a broken or too big design: said, nothing starts, the page stays as it was
        gr.Warning(refusal, duration=10)
        return (*values(), gr.skip())
    owner = owner or uuid.uuid4().hex
    run = ctx.runs.start(cfg, session=owner)
    return (*view_update(run, Shown()), owner)


@friendly
def stop(ctx: AppContext, owner: str | None = None) -> None:
    run = ctx.runs.current
    if run is None or run.done:
        gr.Info("No training run is going.", duration=3)
    elif not ctx.runs.stop(owner or ""):
        gr.Warning("The run going now was started from another browser; only that one can stop it.", duration=5)
    else:
        gr.Info("Stopping: the run ends after the current step, keeps its weights and tests them.", duration=3)


@friendly
def use_in(ctx: AppContext, where: str, path: str | None) -> tuple:
    """Load the last run's model into the 'draw' or 'photo' tab: (path, its about line, the tab)."""
    if not path:
        raise CnnError("There is no trained model yet: start a run first.")
    what = "digit" if where == "draw" else "photo"
    pred = ctx.predictor(path, what)
    if where == "draw" and pred.input_shape[0] != 1:
        raise CnnError("This model takes colour images; it can only go in the Photo tab.")
    gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.", duration=4)
    return path, ctx.about(path, what), gr.Tabs(selected=where)


@friendly
def continue_settings(ctx: AppContext, key: str | None, epochs) -> tuple:
    """The Runs tab's "Continue training": the Train tab's settings (in `start`'s order, the
    TensorBoard box left as it is) filled with the run's recipe for `epochs` more epochs, starting
    from its checkpoint; then the Train tab is shown. Change any setting to fine-tune instead."""
    e = ctx.usable_run(key, " to continue from")
    if epochs is None or not 0 < float(epochs) <= 1000:
        raise ConfigError("Epochs to continue for must be a number above 0 (at most 1000).")
    h = load_history(e)
    header = (h.header if h is not None else None) or {}
    named = {v: k for k, v in DATASETS.items() if v}
    where = str(header.get("dataset") or e.dataset)
    choice = named.get(where.lower(), "Image folder")
    r = e.recipe
    recipe = r.get("name") if r.get("name") in RECIPES else default_recipe(e.model).name
    subset = lambda n: "" if header.get(n) is None else str(header[n])
    gr.Info(f"The Train tab now continues {e.key} for {float(epochs):g} epoch(s); press Start.", duration=5)
    return (
        choice,
        gr.Textbox(value="" if choice != "Image folder" else where, visible=choice == "Image folder"),
        e.architecture or e.model,  # (a designed run's model is 'design'; e.model names its layers)
        recipe,
        float(epochs),
        r.get("batch_size"),
        r.get("lr"),
        r.get("optimizer"),
        subset("train_subset"),
        subset("test_subset"),
        gr.skip(),
        e.key,
        gr.Tabs(selected="train"),
    )


@friendly
def fill_from_recipe(name: str) -> tuple:
    """A recipe preset's (epochs, batch size, learning rate, optimizer)."""
    r = get_recipe(name)
    return r.epochs, r.batch_size, r.lr, r.optimizer


@friendly
def recipe_for_model(model: str) -> str:
    return default_recipe(model).name


@friendly
def pick_for_dataset(ctx: AppContext, dataset_choice: str) -> tuple:
    """(the folder box, model, recipe) for a data set: a named one gets its fast model and recipe
    for this app's device; 'Image folder' shows the folder box and keeps the model."""
    key = DATASETS.get(dataset_choice)
    if key is None:
        return gr.Textbox(visible=True), gr.skip(), gr.skip()
    r = fast_default(key, ctx.runs.device_type())
    return gr.Textbox(visible=False), r.model, r.name


# ---------------------------------------------------------------- layout


def _settings(ctx: AppContext) -> list:
    """The run's settings, in the order `start` takes them."""
    runs = ctx.runs
    r0 = fast_default("mnist", runs.device_type())
    with gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="MNIST", label="Data set", elem_id="dataset")
        folder = gr.Textbox(
            label="Image folder (one sub-folder per class)",
            visible=False,
            elem_id="folder",
            placeholder=f"a folder under the data directory {resolve_data_dir(runs.data_dir)}"
            if not runs.allow_any_path
            else "the path of an image folder",
        )
        model = gr.Dropdown(design_editor.model_choices(), value=r0.model, label="Model", elem_id="model")
        recipe = gr.Dropdown(list(RECIPES), value=r0.name, label="Recipe preset", elem_id="recipe")
    with gr.Row():
        epochs = gr.Number(r0.epochs, label="Epochs (may be fractional)", elem_id="epochs")
        batch = gr.Number(r0.batch_size, label="Batch size", precision=0, elem_id="batch")
        lr = gr.Number(r0.lr, label="Learning rate", elem_id="lr")
        optimizer = gr.Dropdown(list(OPTIMIZERS), value=r0.optimizer, label="Optimizer", elem_id="optimizer")
    with gr.Accordion("Quick run: train on part of the data", open=False):
        with gr.Row():
            train_n = gr.Textbox("", label="Training images (empty: all)", placeholder="all", elem_id="train-subset")
            test_n = gr.Textbox("", label="Test images (empty: all)", placeholder="all", elem_id="test-subset")
    # Only a person's choice fills the settings from a preset (.input, then fill): the Runs tab's
    # "Continue training" sets them all at once and must not be overwritten.
    fill = dict(fn=fill_from_recipe, inputs=recipe, outputs=[epochs, batch, lr, optimizer], **QUIET)
    dataset.input(functools.partial(pick_for_dataset, ctx), dataset, [folder, model, recipe], **QUIET).then(**fill)
    model.input(recipe_for_model, model, recipe, **QUIET).then(**fill)
    recipe.input(**fill)
    return [dataset, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n]


def _keeping() -> list:
    """(TensorBoard checkbox, the run to continue from): after the settings, in `start`'s order."""
    with gr.Row():
        tensorboard = gr.Checkbox(
            False, label="Also write TensorBoard logs (runs folder, tensorboard/)", elem_id="tensorboard"
        )
        continue_from = gr.Textbox(
            "",
            label="Continue from run (empty: train from scratch)",
            placeholder="set by the Runs tab's 'Continue training'",
            elem_id="continue-from",
        )
    return [tensorboard, continue_from]


def build(ctx: AppContext, tabs: gr.Tabs, draw, photo) -> tuple[TrainOutputs, list]:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab
    its "Use this model" buttons load a trained model into. Returns (outputs, the settings in
    `start`'s order, owner left out); call `on_load` with the outputs."""
    with gr.Tab("Train", id="train"):
        gr.Markdown(
            f"Device: **{ctx.runs.device_name()}**. One training run at a time for everyone "
            f"using this app. Runs are saved under `{ctx.runs.runs_dir}`."
        )
        settings = _settings(ctx) + _keeping()
        editor = design_editor.build(ctx, settings)
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
        out = TrainOutputs.build()
        owner = gr.BrowserState(None, storage_key="cnn-playground-train-owner")
    ctx.runs.stop_unwatched_after = UNWATCHED_S  # the app turns it on: its pages ask every TICK_S s
    start_btn.click(
        bind(start, ctx),
        [*settings, owner, editor.design],
        [*out.components(), owner],
        concurrency_id="train",
        concurrency_limit=None,
        **QUIET,
    )
    stop_btn.click(bind(stop, ctx), owner, None, concurrency_id="stop", concurrency_limit=None, **QUIET)
    confusion_view.wire_train(ctx, out.confusion, out.cell_panel())
    for where, button, tab in (("draw", out.to_draw, draw), ("photo", out.to_photo, photo)):
        button.click(
            functools.partial(use_in, ctx, where), out.last_run, [tab.model, tab.about, tabs], api_visibility="private"
        )
    return out, settings


def on_load(demo: gr.Blocks, ctx: AppContext, out: TrainOutputs) -> None:
    """The page's pull (call in `demo`, outside its tabs): a page that (re)loads shows the run going,
    or the last one, at once; then its timer asks every TICK_S seconds, whichever tab is open (a
    timer in a tab that is not shown does not tick)."""
    timer = gr.Timer(TICK_S)
    pull = dict(queue=False, show_progress_on=out.shown, **QUIET)  # (no status tracker runs a timer)
    timer.tick(bind(refresh, ctx), out.shown, out.components(), trigger_mode="multiple", **pull)
    demo.load(bind(refresh, ctx), out.shown, out.components(), **pull)
