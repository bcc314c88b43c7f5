"""The Train tab: pick a data set, a model and its settings, train in the background, watch the
loss curve grow, stop, and load the result into the Draw or Photo tab.

Start checks the settings and asks the app's queue of runs (cnn.runs) for a run, which trains at
once or waits for its turn; it returns at once. The page shows the run of ITS person (the
browser's token, kept in its storage; with logins also the user): while that person's run waits
or trains, a timer asks every TICK_S seconds (and the page asks once when it loads or the tab is
opened, so a reloaded page shows its run waiting, going or the last one), and `tick` sends only
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

from cnn.errors import CnnError
from cnn.runs import RunBusy
from cnn.training import RunStatus

from . import augment_panel, confusion_view, design_editor, outputs, train_settings
from .common import AppContext, bind, friendly, opens_tab
from .train_continue import continued
from .train_settings import TrainSettings, run_config
from .train_view import OUTPUTS, Shown, TrainOutputs, changes

__all__ = [
    "STARTED",
    "TICKED",
    "USED",
    "build",
    "on_load",
    "owner_state",
    "start",
    "stop",
    "tick",
    "page_timer",
    "use_in",
]

TICK_S = 1.0  # the page asks for the run's state this often (the progress line: ~1/s)
UNWATCHED_S = 15.0  # a run no page has asked about for this long stops (RunManager's option)
QUIET = dict(api_visibility="private", show_progress="hidden")
STARTED = (*OUTPUTS, "owner")  # what `start` answers: the tab's outputs and this browser's token
TICKED = (*OUTPUTS, "timer")  # what `tick` answers: the tab's outputs and the page's timer
USED = ("model", "about")  # what `use_in` answers: the Draw or Photo tab's model and its words


# ---------------------------------------------------------------- handlers


def owner_state() -> gr.BrowserState:
    """This browser's token (made by `token` when the page loads, kept in its storage): the person
    whose run the Train and Teach tabs show, start and stop."""
    return gr.BrowserState(None, storage_key="cnn-playground-train-owner")


def token(owner: str | None) -> str:
    return owner or uuid.uuid4().hex


def show(ctx: AppContext, run, shown: Shown | None) -> dict:
    """What a page showing `shown` lacks of `run`, by name, its place in the queue included while it
    waits. Asking counts as looking at a run that waits or goes (see UNWATCHED_S)."""
    if not run.done:
        run.viewed()
    waiting = (ctx.runs.place(run), ctx.runs.estimated_wait(run)) if run.status == RunStatus.QUEUED else None
    return changes(run, shown, waiting=waiting)


def tick(ctx: AppContext, shown: Shown | None, owner: str | None = None, request: gr.Request = None) -> tuple:
    """What this page does not show yet of its person's run (waiting, going, or their last one), and
    the page's timer kept going while that run waits or trains (stopped otherwise: Start, opening the
    Train tab and reloading the page start it again): TICKED."""
    run = _run_of(ctx, owner, request)  # (looked up once: what is shown and the timer agree)
    shows = {} if run is None else show(ctx, run, shown)
    return outputs.values(TICKED, "tick", **shows, timer=gr.Timer(active=run is not None and not run.done))


def _run_of(ctx: AppContext, owner: str | None, request: gr.Request | None):
    """The run this page's person is shown (waiting, going, or their last), or None."""
    return ctx.runs.run_for(owner, ctx.owner(request), teach=False) if owner or ctx.owner(request) else None


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
    """Check the settings and queue a run; then the tab shows it from scratch (waiting or training):
    STARTED. Bad settings are refused with a message before anything on the page changes; so is a
    second run of this person (a warning: nothing went wrong). tensorboard: also write TensorBoard
    scalars (under the runs folder's tensorboard/); continue_from: the name of a kept run to start
    from (its weights). `owner` is this browser's token (made here if the page has none yet): only
    it can stop the run. With logins the run is the logged-in user's (saved in their folder;
    continue_from names one of their runs)."""
    cfg = run_config(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n, tensorboard)
    cfg = dataclasses.replace(continued(ctx, cfg, continue_from, request), augment=augment)  # the panel's
    cfg = design_editor.configured(cfg, design)  # the model "design": the editor's layers
    refusal = design_editor.refusal(cfg)
    if refusal:  # a broken or too big design: said, nothing starts, the page stays as it was
        gr.Warning(refusal, duration=10)
        return outputs.values(STARTED, "start")
    owner = token(owner)
    try:
        run = ctx.runs.start(cfg, session=owner, owner=ctx.owner(request), person=ctx.person(request))
    except RunBusy as exc:
        gr.Warning(str(exc), duration=6)
        return outputs.values(STARTED, "start", owner=owner)
    return outputs.values(STARTED, "start", **show(ctx, run, None), owner=owner)


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
    """Load the last run's model into the 'draw' or 'photo' tab: USED (the tab's model and its about
    line; the page then opens the tab: common.opens_tab)."""
    if not path:
        raise CnnError("There is no trained model yet: start a run first.")
    what = "digit" if where == "draw" else "photo"
    pred = ctx.predictor(path, what)
    if where == "draw" and pred.input_shape[0] != 1:
        raise CnnError("This model takes colour images; it can only go in the Photo tab.")
    gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.", duration=4)
    return outputs.values(USED, "use_in", model=path, about=ctx.about(path, what))


# ---------------------------------------------------------------- layout


def page_timer() -> gr.Timer:
    """The page's timer for the Train tab (make it outside the tabs: a timer in a tab that is not
    shown does not tick). It starts stopped; `tick` keeps it going while a run waits or trains."""
    return gr.Timer(TICK_S, active=False)


def build(
    ctx: AppContext, draw, photo, owner: gr.BrowserState, timer: gr.Timer
) -> tuple[TrainOutputs, TrainSettings, design_editor.DesignEditor]:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab
    its "Use this model" buttons load a trained model into; owner is the browser's token
    (`owner_state`); timer is `page_timer()`. Returns (outputs, the settings, the layer editor);
    call `on_load` with the outputs."""
    with gr.Tab("Train", id="train") as tab:
        gr.Markdown(_about(ctx))
        chosen = train_settings.data_and_model(ctx)
        panel = augment_panel.build(chosen["recipe"].value, "train")  # beside the recipe, which fills it
        chosen |= train_settings.training(ctx)
        settings = TrainSettings(**chosen, **train_settings.keeping())
        editor = design_editor.build(ctx, settings)
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
        out = TrainOutputs.build()
    train_settings.wire(ctx, settings)
    start_btn.click(
        bind(start, ctx),
        [*settings.components(), owner, editor.design, panel.spec],
        [*out.components(), owner],  # STARTED
        concurrency_id="train",
        concurrency_limit=None,
        **QUIET,
    ).success(lambda: gr.Timer(active=True), None, timer, queue=False, **QUIET)
    # a run started on another page of this person shows when the tab opens (Train runs only: run_for's teach=False)
    tab.select(bind(tick, ctx), [out.shown, owner], [*out.components(), timer], queue=False, **QUIET)
    stop_btn.click(bind(stop, ctx), owner, None, concurrency_id="stop", concurrency_limit=None, **QUIET)
    show = augment_panel.wire_train(
        ctx, panel, [settings.dataset, settings.folder], settings.recipe, settings.continue_from
    )  # the data set's images, filled from the recipe or from the run continued
    tab.select(**show)  # the preview of the data set's images, drawn when the tab opens
    settings.dataset.change(**show)
    confusion_view.wire_train(ctx, out.confusion, out.cell_panel(), owner)
    for where, button, tab in (("draw", out.to_draw, draw), ("photo", out.to_photo, photo)):
        button.click(
            functools.partial(use_in, ctx, where), out.last_run, [tab.model, tab.about], api_visibility="private"
        ).success(None, None, None, js=opens_tab(where), api_visibility="private")
    return out, settings, editor


def _about(ctx: AppContext) -> str:
    """The tab's first line: the device, how many runs train at once, where runs are kept."""
    where = f"{ctx.runs.runs_dir}/users/<your login>/" if ctx.logins else ctx.runs.runs_dir
    n = ctx.runs.max_runs
    return (
        f"Device: **{ctx.runs.device_name()}**. {n} training run{'s' * (n > 1)} at a time for everyone "
        f"using this app; the others wait for their turn (one per person). Runs are saved under `{where}`."
    )


def on_load(demo: gr.Blocks, ctx: AppContext, out: TrainOutputs, owner: gr.BrowserState, timer: gr.Timer) -> None:
    """The page's pull (call in `demo`, outside its tabs): a page that (re)loads gets its token and
    shows its run (waiting, going, or the last one) at once; then, while that run waits or trains,
    its timer asks every TICK_S seconds, whichever tab is open."""
    pull = dict(queue=False, **QUIET)  # (no status tracker runs a timer)
    inputs, outputs = [out.shown, owner], [*out.components(), timer]
    timer.tick(bind(tick, ctx), inputs, outputs, trigger_mode="multiple", **pull)
    demo.load(token, owner, owner, **pull).then(bind(tick, ctx), inputs, outputs, **pull)
