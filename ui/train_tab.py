"""The Train tab: pick a data set, a model and its settings, train in the background, watch the
loss curve grow, stop, and load the result into the Draw or Photo tab.

Start checks the settings and asks the app's queue of runs (cnn.runs) for a run, which trains at
once or waits for its turn; it returns at once. The page shows the run of ITS person (the
browser's token, kept in its storage; with logins also the user): while that person's run waits
or trains, a timer asks every TICK_S seconds (and the page asks once when it loads or the tab is
opened, so a reloaded page shows its run waiting, going or the last one), and `refresh` sends only
the parts that page does not show yet (train_view.Shown, in a gr.State). With no run going the
timer stops: an idle page sends nothing (each event of a page also makes Gradio re-read every
component an event ever used, and a drawn sketchpad answers that by uploading its layers).
A waiting run shows "waiting: N ahead of you (about M s)", updated on each tick.
Start while this person has a run waiting or training says so; Stop stops (or takes out of the
queue) only this person's run. Closing every page of a run: RunManager drops a waiting run, or
stops a training one (it keeps its weights), that no page has asked about for UNWATCHED_S
seconds, and a reload keeps asking."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from pathlib import Path

import gradio as gr

from cnn.data import resolve_data_dir
from cnn.errors import CnnError, ConfigError
from cnn.models import MODELS
from cnn.run_index import load_history
from cnn.runs import RunBusy, RunConfig
from cnn.training import RunStatus
from cnn.training.defaults import fast_default
from cnn.training.recipes import OPTIMIZERS, RECIPES, default_recipe, get_recipe

from . import augment_panel, confusion_view, design_editor, design_outputs, design_views, words
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
    "owner_state",
    "start",
    "stop",
    "refresh",
    "tick",
    "page_timer",
    "use_in",
    "pick_for_dataset",
]

TICK_S = 1.0  # the page asks for the run's state this often (the progress line: ~1/s)
UNWATCHED_S = 15.0  # a run no page has asked about for this long stops (RunManager's option)
QUIET = dict(api_visibility="private", show_progress="hidden")


# ---------------------------------------------------------------- handlers


def owner_state() -> gr.BrowserState:
    """This browser's token (made by `token` when the page loads, kept in its storage): the person
    whose run the Train and Teach tabs show, start and stop."""
    return gr.BrowserState(None, storage_key="cnn-playground-train-owner")


def token(owner: str | None) -> str:
    return owner or uuid.uuid4().hex


def show(ctx: AppContext, run, shown: Shown | None) -> tuple:
    """What a page showing `shown` lacks of `run`, its place in the queue included while it waits.
    Asking counts as looking at a run that waits or goes (see UNWATCHED_S)."""
    if not run.done:
        run.viewed()
    waiting = (ctx.runs.place(run), ctx.runs.estimated_wait(run)) if run.status == RunStatus.QUEUED else None
    return view_update(run, shown, waiting=waiting)


@friendly
def refresh(ctx: AppContext, shown: Shown | None, owner: str | None = None, request: gr.Request = None) -> tuple:
    """What this page does not show yet of its person's run (waiting, going, or their last one);
    `tick`, the timer's and the page's pull, sends it with the timer's state."""
    return _refreshed(ctx, _run_of(ctx, owner, request), shown)


def tick(ctx: AppContext, shown: Shown | None, owner: str | None = None, request: gr.Request = None) -> tuple:
    """`refresh`, and the page's timer kept going while this person's run waits or trains (stopped
    otherwise: Start, opening the Train tab and reloading the page start it again)."""
    run = _run_of(ctx, owner, request)  # (looked up once: what is shown and the timer agree)
    return (*_refreshed(ctx, run, shown), gr.Timer(active=run is not None and not run.done))


def _run_of(ctx: AppContext, owner: str | None, request: gr.Request | None):
    """The run this page's person is shown (waiting, going, or their last), or None."""
    return ctx.runs.run_for(owner, ctx.owner(request), teach=False) if owner or ctx.owner(request) else None


def _refreshed(ctx: AppContext, run, shown: Shown | None) -> tuple:
    return values() if run is None else show(ctx, run, shown)


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


def continued(ctx: AppContext, cfg: RunConfig, key: str | None, request: gr.Request | None = None) -> RunConfig:
    """cfg continuing the requesting user's kept run named key (as the Runs tab lists it): it starts
    from that run's checkpoint. Only a run's name is taken from the page, never a path."""
    key = str(key or "").strip()
    if not key:
        return cfg
    e = ctx.usable_run(key, " to continue from", " Clear 'Continue from run' to train from scratch.", request)
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
    augment: str | None = None,
    request: gr.Request = None,
) -> tuple:
    """Check the settings and queue a run; then the tab shows it from scratch (waiting or training).
    Bad settings are refused with a message before anything on the page changes; so is a second
    run of this person (a warning: nothing went wrong). tensorboard: also write TensorBoard scalars
    (under the runs folder's tensorboard/); continue_from: the name of a kept run to start from
    (its weights). `owner` is this browser's token (made here if the page has none yet): only it
    can stop the run. With logins the run is the logged-in user's (saved in their folder;
    continue_from names one of their runs)."""
    cfg = run_config(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n, tensorboard)
    cfg = dataclasses.replace(continued(ctx, cfg, continue_from, request), augment=augment)  # the panel's
    cfg = design_editor.configured(cfg, design)  # the model "design": the editor's layers
    refusal = design_editor.refusal(cfg)
    if refusal:  # a broken or too big design: said, nothing starts, the page stays as it was
        gr.Warning(refusal, duration=10)
        return (*values(), gr.skip())
    owner = token(owner)
    try:
        run = ctx.runs.start(cfg, session=owner, owner=ctx.owner(request), person=ctx.person(request))
    except RunBusy as exc:
        gr.Warning(str(exc), duration=6)
        return (*values(), owner)
    return (*show(ctx, run, None), owner)


@friendly
def stop(ctx: AppContext, owner: str | None = None, request: gr.Request = None) -> None:
    """Stop this person's training run, or take their waiting run out of the queue; nobody else's."""
    run = ctx.runs.run_for(owner, ctx.owner(request)) if owner or ctx.owner(request) else None
    if run is None or run.done:
        gr.Info("You have no run waiting or training (Stop touches only your own).", duration=4)
        return
    queued = run.status == RunStatus.QUEUED
    if not ctx.runs.stop(owner, ctx.owner(request)):
        gr.Info("Your run has already ended.", duration=3)
    elif queued:
        gr.Info("Cancelled: your run left the queue.", duration=3)
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
def continue_settings(ctx: AppContext, key: str | None, epochs, request: gr.Request = None) -> tuple:
    """The Runs tab's "Continue training": the Train tab's settings (in `start`'s order, the
    TensorBoard box left as it is) filled with the run's recipe for `epochs` more epochs, starting
    from its checkpoint; then the Train tab is shown. Change any setting to fine-tune instead."""
    e = ctx.usable_run(key, " to continue from", request=request)
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
def continue_design(ctx: AppContext, key: str | None, dataset_choice, batch, request: gr.Request = None) -> tuple:
    """After "Continue training" (`continue_settings`): a designed run's own design in the layer
    editor, which is what the continued run trains (design_editor.configured); other runs leave the
    editor as it is."""
    design = design_views.design_of(ctx.usable_run(key, " to continue from", request=request))
    if design is None:
        return design_outputs.values()
    return design_outputs.values(**design_editor.answer(design, 0 if design else None, dataset_choice, batch))


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
    # groups that fold away (a phone shows one screen of settings at a time)
    with gr.Accordion("Data and model", open=True, elem_id="train-settings-data"), gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="MNIST", label="Data set", elem_id="dataset")
        folder = gr.Textbox(
            label="Image folder (one sub-folder per class)",
            visible=False,
            elem_id="folder",
            placeholder=f"a folder under the data directory {resolve_data_dir(runs.data_dir)}"
            if not runs.allow_any_path
            else "the path of an image folder",
        )
        model = gr.Dropdown(
            words.model_choices(MODELS) + design_editor.model_choices()[-1:],
            value=r0.model,
            label="Model",
            elem_id="model",
        )
        recipe = gr.Dropdown(list(RECIPES), value=r0.name, label="Recipe preset", elem_id="recipe")
    with gr.Accordion("Epochs, batch size, learning rate, optimizer", open=True, elem_id="train-settings-training"):
        with gr.Row():
            epochs = gr.Number(r0.epochs, label="Epochs (may be fractional)", elem_id="epochs")
            batch = gr.Number(r0.batch_size, label="Batch size", precision=0, elem_id="batch")
            lr = gr.Number(r0.lr, label="Learning rate", elem_id="lr")
            optimizer = gr.Dropdown(list(OPTIMIZERS), value=r0.optimizer, label="Optimizer", elem_id="optimizer")
    with gr.Accordion("Quick run: train on part of the data", open=False, elem_id="train-settings-more"):
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


def page_timer() -> gr.Timer:
    """The page's timer for the Train tab (make it outside the tabs: a timer in a tab that is not
    shown does not tick). It starts stopped; `tick` keeps it going while a run waits or trains."""
    return gr.Timer(TICK_S, active=False)


def build(
    ctx: AppContext, tabs: gr.Tabs, draw, photo, owner: gr.BrowserState, timer: gr.Timer
) -> tuple[TrainOutputs, list, design_editor.DesignEditor]:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab
    its "Use this model" buttons load a trained model into; owner is the browser's token
    (`owner_state`); timer is `page_timer()`. Returns (outputs, the settings in `start`'s order,
    owner left out, the layer editor); call `on_load` with the outputs."""
    where = f"{ctx.runs.runs_dir}/users/<your login>/" if ctx.logins else ctx.runs.runs_dir
    with gr.Tab("Train", id="train") as tab:
        n = ctx.runs.max_runs
        gr.Markdown(
            f"Device: **{ctx.runs.device_name()}**. {n} training run{'s' * (n > 1)} at a time for everyone "
            f"using this app; the others wait for their turn (one per person). Runs are saved under "
            f"`{where}`."
        )
        settings = _settings(ctx)
        panel = augment_panel.build(settings[3].value, "train")  # beside the recipe, which fills it
        settings += _keeping()
        editor = design_editor.build(ctx, settings, tabs)
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
        out = TrainOutputs.build()
    start_btn.click(
        bind(start, ctx),
        [*settings, owner, editor.design, panel.spec],
        [*out.components(), owner],
        concurrency_id="train",
        concurrency_limit=None,
        **QUIET,
    ).success(lambda: gr.Timer(active=True), None, timer, queue=False, **QUIET)
    # a run started on another page of this person shows when the tab opens (Train runs only: run_for's teach=False)
    tab.select(bind(tick, ctx), [out.shown, owner], [*out.components(), timer], queue=False, **QUIET)
    stop_btn.click(bind(stop, ctx), owner, None, concurrency_id="stop", concurrency_limit=None, **QUIET)
    show = augment_panel.wire_train(ctx, panel, settings[:2], settings[3], settings[11])  # data, recipe, continue
    tab.select(**show)  # the preview of the data set's images, drawn when the tab opens
    settings[0].change(**show)
    confusion_view.wire_train(ctx, out.confusion, out.cell_panel(), owner)
    for where, button, tab in (("draw", out.to_draw, draw), ("photo", out.to_photo, photo)):
        button.click(
            functools.partial(use_in, ctx, where), out.last_run, [tab.model, tab.about, tabs], api_visibility="private"
        )
    return out, settings, editor


def on_load(demo: gr.Blocks, ctx: AppContext, out: TrainOutputs, owner: gr.BrowserState, timer: gr.Timer) -> None:
    """The page's pull (call in `demo`, outside its tabs): a page that (re)loads gets its token and
    shows its run (waiting, going, or the last one) at once; then, while that run waits or trains,
    its timer asks every TICK_S seconds, whichever tab is open."""
    pull = dict(queue=False, **QUIET)  # (no status tracker runs a timer)
    inputs, outputs = [out.shown, owner], [*out.components(), timer]
    timer.tick(bind(tick, ctx), inputs, outputs, trigger_mode="multiple", **pull)
    demo.load(token, owner, owner, **pull).then(bind(tick, ctx), inputs, outputs, **pull)
