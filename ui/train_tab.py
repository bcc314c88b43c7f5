"""The Train tab: pick a data set, a model and its settings, train in the background while the loss
curve streams, stop, and load the result into the Draw or Photo tab."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, fields
from pathlib import Path

import gradio as gr

from cnn.data import resolve_data_dir
from cnn.errors import CnnError
from cnn.models import MODELS
from cnn.runs import Run, RunConfig
from cnn.training import RunStatus
from cnn.training.recipes import OPTIMIZERS, RECIPES, default_recipe, get_recipe

from . import run_view
from .common import AppContext, bind, error, friendly, session_of

DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist", "CIFAR-10": "cifar10", "Image folder": None}
UPDATES_EVERY = 0.3  # s: at most ~3 page updates a second while a run goes


@dataclass(frozen=True)
class TrainOutputs:
    """The Train tab's outputs, defined once: `build` lays out these components, and every handler
    that shows a run (clear, start, the result) sends values for them by name through `values`."""
    status: gr.Markdown
    progress: gr.HTML
    loss_plot: gr.LinePlot
    acc_plot: gr.ScatterPlot
    result: gr.Markdown
    to_draw: gr.Button
    to_photo: gr.Button
    confusion: gr.Image
    wrong_gallery: gr.Gallery
    last_run: gr.State    # the checkpoint path of the last finished run

    @classmethod
    def build(cls) -> TrainOutputs:
        status = gr.Markdown("", elem_id="train-status")
        progress = gr.HTML("", elem_id="train-progress")
        with gr.Row():
            loss_plot = gr.LinePlot(x="epoch", y="loss", title="Training loss", elem_id="loss-plot",
                                    height=260)
            acc_plot = gr.ScatterPlot(x="epoch", y="accuracy", color="split", title="Accuracy per epoch",
                                      elem_id="acc-plot", height=260, y_lim=[0, 1],
                                      color_map={"train": "#1f77b4", "test": "#ff7f0e"})
        result = gr.Markdown("", elem_id="train-result")
        with gr.Row():
            to_draw = gr.Button("Use this model in the Draw tab", visible=False, elem_id="to-draw")
            to_photo = gr.Button("Use this model in the Photo tab", visible=False, elem_id="to-photo")
        with gr.Row():
            confusion = gr.Image(label="Confusion matrix (rows: true, columns: predicted)", interactive=False)
            wrong_gallery = gr.Gallery(label="Misclassified test images: true class, taken for", columns=4,
                                       height=360, elem_id="wrong-gallery")
        return cls(status, progress, loss_plot, acc_plot, result, to_draw, to_photo, confusion,
                   wrong_gallery, gr.State(None))

    def components(self) -> list:
        return [getattr(self, name) for name in OUTPUTS]


OUTPUTS = tuple(f.name for f in fields(TrainOutputs))


def values(**by_name) -> tuple:
    """Values for the Train tab's outputs, in their order; an output not named is left as it is."""
    unknown = set(by_name) - set(OUTPUTS)
    if unknown:
        raise TypeError(f"not a Train tab output: {', '.join(sorted(unknown))}")
    return tuple(by_name[name] if name in by_name else gr.skip() for name in OUTPUTS)


# ---------------------------------------------------------------- handlers

@friendly
def clear_results() -> tuple:
    return values(status="", progress="", loss_plot=None, acc_plot=None, result="", confusion=None,
                  wrong_gallery=[], last_run=None, to_draw=gr.Button(visible=False),
                  to_photo=gr.Button(visible=False))


def train_view(run: Run) -> tuple:
    """The Train tab's outputs for a run so far, and its result once it is done."""
    # an empty frame would leave a coloured plot blank for good (Gradio 6.31), so send none
    loss, acc = run_view.loss_frame(run), run_view.accuracy_frame(run)
    now = dict(status=run_view.status_markdown(run), progress=run_view.progress_html(run),
               loss_plot=gr.skip() if loss is None else loss, acc_plot=gr.skip() if acc is None else acc)
    if not run.done:
        return values(**now)
    path, channels = run_view.trained_model(run)
    return values(**now, result=run_view.result_markdown(run), confusion=run_view.confusion(run),
                  wrong_gallery=run_view.misclassified_items(run), last_run=path,
                  to_draw=gr.Button(visible=bool(path) and channels == 1),
                  to_photo=gr.Button(visible=bool(path)))


def run_config(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n,
               test_n) -> RunConfig:
    """The run the settings on the page ask for (checked when it starts)."""
    dataset = DATASETS.get(dataset_choice) or (folder or "").strip()
    return RunConfig(dataset, model, recipe, epochs, batch, lr, optimizer,
                     int(train_n) if train_n else None, int(test_n) if test_n else None)


@friendly
def start(ctx: AppContext, dataset_choice: str, folder: str | None, model: str, recipe: str, epochs,
          batch, lr, optimizer: str, train_n, test_n, request: gr.Request | None = None):
    """Start a run and stream its view until it ends; refused with a message for bad settings or
    while another run goes. Stops the run if the page goes away."""
    cfg = run_config(dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n)
    run = ctx.runs.start(cfg, session=session_of(request))
    seen, last, warned = -1, 0.0, 0
    try:
        while True:
            seen = run.wait(seen, 0.5)
            for w in run.warnings[warned:]:
                gr.Warning(w)
            warned = len(run.warnings)
            if not run.done:
                time.sleep(max(0.0, UPDATES_EVERY - (time.time() - last)))
            last = time.time()
            yield train_view(run)
            if run.done:
                break
    finally:
        if not run.done:
            run.stop()  # the page went away: no run is left holding the device
    if run.status == RunStatus.FAILED:
        raise error(run.message)


@friendly
def stop(ctx: AppContext, request: gr.Request | None = None) -> None:
    run = ctx.runs.current
    if run is None or run.done:
        gr.Info("No training run is going.")
    elif not ctx.runs.stop(session_of(request)):
        gr.Warning("The run going now was started from another page; only that page can stop it.")
    else:
        gr.Info("Stopping: the run ends after the current step and keeps its weights.")


@friendly
def on_unload(ctx: AppContext, request: gr.Request | None = None) -> None:
    """The page closed: its run, if any, stops."""
    ctx.runs.stop_session(session_of(request))


@friendly
def use_in(ctx: AppContext, where: str, path: str | None) -> tuple:
    """Load the last run's model into the 'draw' or 'photo' tab: (path, its about line, the tab)."""
    if not path:
        raise CnnError("There is no trained model yet: start a run first.")
    what = "digit" if where == "draw" else "photo"
    pred = ctx.predictor(path, what)
    if where == "draw" and pred.input_shape[0] != 1:
        raise CnnError("This model takes colour images; it can only go in the Photo tab.")
    gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.")
    return path, ctx.about(path, what), gr.Tabs(selected=where)


@friendly
def fill_from_recipe(name: str) -> tuple:
    """A recipe preset's (epochs, batch size, learning rate, optimizer)."""
    r = get_recipe(name)
    return r.epochs, r.batch_size, r.lr, r.optimizer


@friendly
def recipe_for_model(model: str) -> str:
    return default_recipe(model).name


@friendly
def folder_box(dataset_choice: str) -> gr.Textbox:
    """The image folder box shows only for 'Image folder'."""
    return gr.Textbox(visible=DATASETS.get(dataset_choice) is None)


# ---------------------------------------------------------------- layout

def _settings(ctx: AppContext) -> list:
    """The run's settings, in the order `start` takes them."""
    runs = ctx.runs
    with gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="MNIST", label="Data set", elem_id="dataset")
        folder = gr.Textbox(label="Image folder (one sub-folder per class)", visible=False,
                            placeholder=f"a folder under the data directory {resolve_data_dir(runs.data_dir)}"
                            if not runs.allow_any_path else "the path of an image folder")
        model = gr.Dropdown(list(MODELS), value="mnist_fast", label="Model", elem_id="model")
        recipe = gr.Dropdown(list(RECIPES), value="mnist_fast", label="Recipe preset", elem_id="recipe")
    r0 = get_recipe("mnist_fast")
    with gr.Row():
        epochs = gr.Number(r0.epochs, label="Epochs (may be fractional)", elem_id="epochs")
        batch = gr.Number(r0.batch_size, label="Batch size", precision=0, elem_id="batch")
        lr = gr.Number(r0.lr, label="Learning rate", elem_id="lr")
        optimizer = gr.Dropdown(list(OPTIMIZERS), value=r0.optimizer, label="Optimizer", elem_id="optimizer")
    with gr.Accordion("Quick run: train on part of the data", open=False):
        with gr.Row():
            train_n = gr.Number(None, label="Training images (empty: all)", precision=0,
                                elem_id="train-subset")
            test_n = gr.Number(None, label="Test images (empty: all)", precision=0, elem_id="test-subset")
    private = dict(api_visibility="private")
    dataset.change(folder_box, dataset, folder, **private)
    model.input(recipe_for_model, model, recipe, **private)
    recipe.change(fill_from_recipe, recipe, [epochs, batch, lr, optimizer], **private)
    return [dataset, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n]


def build(ctx: AppContext, tabs: gr.Tabs, draw, photo) -> TrainOutputs:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab
    its "Use this model" buttons load a trained model into."""
    with gr.Tab("Train", id="train"):
        gr.Markdown(f"Device: **{ctx.runs.device_name()}**. One training run at a time for everyone "
                    f"using this app. Runs are saved under `{ctx.runs.runs_dir}`.")
        settings = _settings(ctx)
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
        out = TrainOutputs.build()
    private = dict(api_visibility="private")
    start_btn.click(clear_results, None, out.components(), queue=False, **private).then(
        bind(start, ctx), settings, out.components(), concurrency_id="train", concurrency_limit=None,
        show_progress="hidden", **private)
    stop_btn.click(bind(stop, ctx), None, None, concurrency_id="stop", concurrency_limit=None, **private)
    for where, button, tab in (("draw", out.to_draw, draw), ("photo", out.to_photo, photo)):
        button.click(functools.partial(use_in, ctx, where), out.last_run, [tab.model, tab.about, tabs],
                     **private)
    return out
