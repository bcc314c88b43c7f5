"""The app's public API (gradio_client, or HTTP): /predict_digit and /predict_photo (an image file in,
{class: probability} out; with `run`, the person's own trained run predicts), and /train, which
queues a run like the Train tab's Start (the same queue: cnn.runs), streams its place and then its
progress as the job's updates, and ends with a result dict and the checkpoint file.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    result, checkpoint = client.predict(dataset="mnist", epochs=1, train_subset=5000, api_name="/train")
    client.predict(handle_file("seven.png"), run=result["run"], api_name="/predict_digit")

One client session (or one login) is one person: one run waiting or training at a time."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from pathlib import Path

import gradio as gr

from cnn.data.augment_spec import format_spec
from cnn.data.augment_spec import parse as parse_augment
from cnn.errors import CnnError, ConfigError
from cnn.runs import Run, RunConfig
from cnn.serving.decode import BLANK_MESSAGE
from cnn.serving.digits import DOT_MESSAGE
from cnn.training import RunStatus
from cnn.training.defaults import fast_default
from cnn.training.recipes import RECIPES, default_recipe, get_recipe

from . import draw_tab, map_api, outputs, photo_tab, probe_api
from .common import PREDICT, AppContext, bind, friendly, raw_upload, servable
from .numbers import parse_number

API_BLANK = {
    BLANK_MESSAGE: "The image is blank: there is no digit in it to classify.",
    DOT_MESSAGE: "The image holds only a dot, not a digit.",
}
UPDATE_EVERY_S = 0.5  # /train streams an update at most this often
POLL_S = 0.1  # and looks at its run this often (on the event loop: a waiting job costs no thread)
TRAINED = ("result", "checkpoint")  # what /train answers: its progress or result, then the file


def checkpoint_of(ctx: AppContext, run: str, request: gr.Request | None, what: str) -> str:
    """The checkpoint of the kept run named `run` that this person may predict with (as the Runs
    tab names it; never a path), refused with a message when there is none by that name (another
    user's run is none: AppContext.kept_run looks only in this person's folder)."""
    e = ctx.usable_run(str(run).strip(), f" to predict {what}s with", request=request)
    return str(e.checkpoint)


@friendly
def predict_digit(ctx: AppContext, image, run: str = "", request: gr.Request = None) -> dict:
    """/predict_digit: the digit model's probabilities (the shipped one, or the run named `run`); a
    clear error for no digit."""
    if image is None:
        raise CnnError("No image was given. Send an image of a digit.")
    path = checkpoint_of(ctx, run, request, "digit") if run else ctx.shipped("draw")
    if run and ctx.predictor(path, "digit").input_shape[0] != 1:
        raise CnnError(f"The run {run} takes colour photos: predict with it through /predict_photo.")
    probs, _, _ = draw_tab.digit_prediction(ctx, image, path)
    if isinstance(probs, str):
        raise CnnError(API_BLANK.get(probs, probs))
    return probs


@friendly
def predict_photo(ctx: AppContext, image, run: str = "", request: gr.Request = None) -> dict:
    """/predict_photo: the photo model's probabilities (the shipped one, or the run named `run`)."""
    if image is None:
        raise CnnError("No image was given. Send a photo.")
    path = checkpoint_of(ctx, run, request, "photo") if run else ctx.shipped("photo")
    return photo_tab.photo_prediction(ctx, image, path)[0]


# ---------------------------------------------------------------- /train


def _number(value, name: str, whole: bool = False):
    """A setting given as a number (or empty: None, the recipe's own), refused in words otherwise."""
    try:
        return parse_number(value, whole)
    except ValueError:
        raise ConfigError(f"{name} must be a {'whole ' if whole else 'finite '}number (got {value!r}).") from None


def api_config(
    ctx: AppContext, dataset, model, layers, recipe, epochs, batch_size, lr, train_subset, test_subset, augment=""
):
    """The RunConfig the /train arguments ask for: the data set's fast model and recipe where none is
    named, the recipe's own numbers where none is given; a setting it does not know is refused."""
    dataset = str(dataset or "").strip()
    if not dataset:
        raise ConfigError("Name a data set: mnist, fashion-mnist, cifar10, or a folder under the data directory.")
    model, recipe = str(model or "").strip(), str(recipe or "").strip()
    if recipe and recipe not in RECIPES:
        raise ConfigError(f"Unknown recipe {recipe!r}. Choose one of: {', '.join(RECIPES)}.")
    if layers and str(layers).strip():
        try:
            design = json.loads(layers) if isinstance(layers, str) else layers
        except ValueError as exc:
            raise ConfigError(f"layers must be a design as JSON (a list of layers): {exc}.") from None
        model = model or "design"
    else:
        design = None
    base = (
        get_recipe(recipe)
        if recipe
        else default_recipe(model)
        if model and model != "design"
        else fast_default(dataset, ctx.runs.device_type())
    )
    pick = lambda given, default: default if given is None else given
    cfg = RunConfig(
        dataset,
        model or base.model,
        base.name,
        pick(_number(epochs, "epochs"), base.epochs),
        pick(_number(batch_size, "batch_size", whole=True), base.batch_size),
        pick(_number(lr, "lr"), base.lr),
        base.optimizer,
        _number(train_subset, "train_subset", whole=True),
        _number(test_subset, "test_subset", whole=True),
    )
    augment = str(augment or "").strip() or None  # empty: the recipe's own
    if augment is not None:
        cfg = dataclasses.replace(cfg, augment=format_spec(parse_augment(augment)))  # refused here if bad
    return dataclasses.replace(cfg, layers=design) if design is not None else cfg


def progress(ctx: AppContext, run: Run) -> dict:
    """One streamed update: where the run stands (its place while it waits)."""
    if run.status == RunStatus.QUEUED:
        return {
            "status": "waiting",
            "ahead": ctx.runs.place(run),
            "wait_s": round(ctx.runs.estimated_wait(run), 1),
        }
    p = run.progress()
    out = {"status": str(run.status), "step": p["step"], "total_steps": p["total"]}
    if run.steps:
        out.update(loss=round(run.steps[-1].loss, 4), eta_s=round(p["eta"] or 0.0, 1), epoch=round(p["epoch"], 3))
    return out


def result(run: Run) -> dict:
    """The finished job's answer: at least test_accuracy, run (its name, for `run=` in the predict
    endpoints and the Runs tab) and checkpoint (its file name on the server)."""
    end = run.end
    return {
        "status": str(run.status),
        "run": run.name,
        "checkpoint": run.checkpoint.name,
        "test_accuracy": end.test_accuracy if end is not None else None,
        "model": run.config.model,
        "dataset": run.config.dataset,
        "recipe": run.recipe.name if run.recipe is not None else run.config.recipe,
        "epochs": float(run.config.epochs),
        "augment": run.recipe.augment if run.recipe is not None else run.config.augment,
        "train_seconds": round(end.elapsed, 2) if end is not None else None,
        "message": run.message,
    }


@friendly
async def train(
    ctx: AppContext,
    dataset: str = "mnist",
    model: str = "",
    layers: str = "",
    recipe: str = "",
    epochs: float | None = None,
    batch_size: float | None = None,
    lr: float | None = None,
    train_subset: float | None = None,
    test_subset: float | None = None,
    augment: str = "",
    request: gr.Request = None,
):
    """/train: queue a run (the Train tab's queue), stream its place and progress, then TRAINED
    (the result dict, the checkpoint file). It waits on the event loop, holding no worker thread however
    long the run waits; a client that cancels its job (or goes away) takes its run out of the queue,
    or stops it."""
    cfg = api_config(ctx, dataset, model, layers, recipe, epochs, batch_size, lr, train_subset, test_subset, augment)
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    who = dict(session=session, owner=ctx.owner(request), person=ctx.person(request))
    run = await asyncio.to_thread(ctx.runs.start, cfg, **who)
    try:
        version, last = -1, 0.0
        while not run.done:
            run.viewed()  # this client waits for it
            if time.time() - last >= UPDATE_EVERY_S and run.version != version:
                version, last = run.version, time.time()
                yield outputs.values(TRAINED, "/train", result=progress(ctx, run), checkpoint=None)
            await asyncio.sleep(POLL_S)
    finally:
        if not run.done:  # the job was cancelled, or its client went away
            ctx.runs.stop_run(run, "Cancelled: its /train job was cancelled before its turn.")
    if run.checkpoint is None:
        raise CnnError(run.message or f"The run {run.status}.")
    yield outputs.values(TRAINED, "/train", result=result(run), checkpoint=servable(Path(run.checkpoint)))


def build(ctx: AppContext) -> None:
    """The named endpoints, on hidden components (call inside the Blocks)."""
    with gr.Row(visible=False):
        digit_in = raw_upload(gr.Image(type="filepath", image_mode=None, label="image"))
        photo_in = raw_upload(gr.Image(type="filepath", image_mode=None, label="image"))
        run_in = gr.Textbox("", label="run")
        out = gr.JSON(label="probabilities")
        settings = [
            gr.Textbox("mnist", label="dataset"),
            gr.Textbox("", label="model"),
            gr.Textbox("", label="layers"),
            gr.Textbox("", label="recipe"),
            *(gr.Number(None, label=n) for n in ("epochs", "batch_size", "lr", "train_subset", "test_subset")),
            gr.Textbox("", label="augment"),  # name=value pairs (cnn.data.augment_spec); empty: the recipe's
        ]
        train_out = [gr.JSON(label="result"), gr.File(label="checkpoint")]  # TRAINED
        train_btn = gr.Button("train")
    digit_in.change(bind(predict_digit, ctx), [digit_in, run_in], out, api_name="predict_digit", **PREDICT)
    photo_in.change(bind(predict_photo, ctx), [photo_in, run_in], out, api_name="predict_photo", **PREDICT)
    train_btn.click(
        bind(train, ctx),
        settings,
        train_out,
        api_name="train",
        concurrency_id="train-api",
        concurrency_limit=None,  # the app's queue of runs orders them (cnn.runs)
        show_progress="hidden",
    )
    probe_api.build(ctx, checkpoint_of)  # /attack_digit, /attack_photo (ui/probe_api.py)
    map_api.build(ctx)  # /embedding
