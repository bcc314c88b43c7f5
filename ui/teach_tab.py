"""The Teach tab: teach a model your own classes. A project (drawings or photos) holds a few examples
of each class: drawn on the canvas, uploaded (many files, or a .zip of class folders), taken with
the webcam or pasted. Train fine-tunes the shipped MNIST (drawings) or CIFAR-10 (photos) model on
them in seconds; the result is scored on held-out examples and can go into the Draw or Photo tab."""

from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from cnn.errors import CnnError
from cnn.projects import Project, export_zip, import_zip, prepare
from cnn.runs import RunBusy, RunConfig
from cnn.serving.decode import from_data_url
from cnn.serving.render import enlarge
from cnn.training import RunStatus

from . import augment_panel, downloads, run_view, teach_canvas, teach_layout, teach_view, train_tab
from .common import AppContext, bind, friendly, md, opens_tab
from .teach_layout import START
from .teach_view import VIEW, choices, open_project_at, view

RESULT = ("status", "result", "confusion", "wrong", "last_model", "download", "to_draw", "to_photo")
UPDATES_EVERY = 0.3  # s between progress updates


# ---------------------------------------------------------------- handlers: projects and classes


@friendly
def open_project(ctx: AppContext, path, request: gr.Request = None) -> tuple:
    return view(ctx, open_project_at(ctx, path, request) if path else None, request=request)


@friendly
def project_list(ctx: AppContext, path, request: gr.Request = None) -> gr.Dropdown:
    """The projects afresh (made in another session, imported or copied in by hand meanwhile),
    the open one still picked while it exists."""
    found = choices(ctx, request)
    return gr.Dropdown(choices=found, value=path if path in {v for _, v in found} else None)


@friendly
def create_project(ctx: AppContext, name: str, kind: str, request: gr.Request = None) -> tuple:
    return view(ctx, Project.create(name, kind, ctx.runs.data_dir, ctx.owner(request)), request=request)


@friendly
def delete_project(ctx: AppContext, path, sure: bool, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    if not sure:
        raise CnnError("Tick 'Yes, delete this project' first: deleting removes all its examples.")
    name = project.name
    project.delete()
    gr.Info(f"Deleted the project {name}.")
    return view(ctx, None, request=request)


@friendly
def add_class(ctx: AppContext, path, name: str, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    return view(ctx, project, project.add_class(name).name, request=request)


@friendly
def pick_class(ctx: AppContext, path, cls: str, request: gr.Request = None) -> tuple:
    return view(ctx, open_project_at(ctx, path, request), cls, request=request)


@friendly
def rename_class(ctx: AppContext, path, cls: str, new: str, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    project.rename_class(cls, new)
    return view(ctx, project, " ".join(str(new).split()), request=request)


@friendly
def delete_class(ctx: AppContext, path, cls: str, sure: bool, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    if not sure:
        raise CnnError(f"Tick 'Yes, delete' first: deleting the class {cls} removes its examples.")
    project.delete_class(cls)
    return view(ctx, project, request=request)


# ---------------------------------------------------------------- handlers: examples


@friendly
def add_drawing(ctx: AppContext, drawing: str, path, cls: str, request: gr.Request = None) -> None:
    """Store the canvas's drawing (a PNG data URL the page took at the click: ui/teach_canvas.py) in
    class `cls`, the class picked at the click. It shows nothing itself: quick adds save side by side
    and their answers can reach the page in any order, so the page asks for the project after each
    (pick_class, one ask at a time, the last one after the last save: see _wire_adding)."""
    project = open_project_at(ctx, path, request)
    image = from_data_url(drawing)
    if image is None:
        raise CnnError("The canvas is empty: draw an example first.")
    project.add_example(cls, image)


@friendly
def add_picture(ctx: AppContext, path, cls: str, picture, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    if picture is None:
        raise CnnError("No picture: upload one, take a webcam snapshot or paste one.")
    project.add_example(cls, picture)
    return view(ctx, project, cls, request=request)


@friendly
def add_files(ctx: AppContext, path, cls: str, files, request: gr.Request = None) -> tuple:
    """Many images into the selected class, and .zip files of class folders into their classes; the
    VIEW outputs and the emptied upload box."""
    project = open_project_at(ctx, path, request)
    added, refused = 0, []
    for f in files or []:
        f = str(getattr(f, "name", f))
        if f.lower().endswith(".zip"):
            r = import_zip(project, f)
            gr.Info(r.summary())
            continue
        if not cls:
            raise CnnError("Pick (or add) the class these images belong to first.")
        try:
            project.add_example(cls, f)
            added += 1
        except CnnError as exc:
            refused.append(f"{Path(f).name}: {exc}")
    if added or refused:
        gr.Info(f"Added {added} example(s) to {cls}." + (f" Refused {len(refused)}: {refused[0]}" if refused else ""))
    return view(ctx, project, cls, request=request) + (
        None,
    )  # the upload box emptied: the next upload holds only new files


def pick_example(files: list[str], evt: gr.SelectData) -> str | None:
    return files[evt.index] if files and 0 <= evt.index < len(files) else None


@friendly
def remove_example(ctx: AppContext, path, cls: str, picked: str | None, request: gr.Request = None) -> tuple:
    project = open_project_at(ctx, path, request)
    if not picked:
        raise CnnError("Click an example in the class's gallery first, then Remove.")
    project.remove_example(cls, picked)
    return view(ctx, project, cls, request=request)


@friendly
def seen(ctx: AppContext, image, path, request: gr.Request = None):
    """What the model would see of the canvas's drawing (a PNG data URL) or of a picture (a file):
    nothing while empty or unusable."""
    if not image or not path:
        return None
    try:
        image = from_data_url(image) if str(image).startswith("data:") else image
        _, preview = prepare(open_project_at(ctx, path, request).kind, image)
    except CnnError:
        return None
    return enlarge(preview, 168)


@friendly
def export(ctx: AppContext, path, request: gr.Request = None) -> str:
    project = open_project_at(ctx, path, request)
    with tempfile.TemporaryDirectory(prefix="teach-export-") as folder:  # the zip moves out; the folder goes
        return downloads.offer_export(export_zip(project, Path(folder) / f"{project.path.name}.zip"))


# ---------------------------------------------------------------- training


def _result(**by_name) -> tuple:
    return tuple(by_name.get(k, gr.skip()) for k in RESULT)


@friendly
def teach(ctx: AppContext, path, start_from: str, owner=None, augment=None, request: gr.Request = None):
    """Queue a Teach run of the project (cnn.runs: the app's one queue of runs, shared with the Train
    tab), show its place while it waits and its progress while it trains (a few seconds), then the
    result. `owner` is this browser's token (the Train tab's too: one run per person); `augment` the
    Augmentation panel's spec."""
    project = open_project_at(ctx, path, request)
    kind = project.kind
    init = ctx.shipped("draw" if kind == "drawings" else "photo") if start_from == START[0] else None
    cfg = dataclasses.replace(RunConfig.for_project(str(project.path), project.name, kind, init), augment=augment)
    try:
        run = ctx.runs.start(
            cfg, session=owner or uuid.uuid4().hex, owner=ctx.owner(request), person=ctx.person(request)
        )
    except RunBusy as exc:  # a message, not an error: this person's run goes on (Train tab: Stop)
        gr.Warning(str(exc), duration=6)
        yield _result(status=f"⚠️ {exc}")
        return
    yield _result(
        status=f"Teaching {md(project.name)} ...",
        result="",
        confusion=None,
        wrong=[],
        to_draw=gr.Button(visible=False),
        to_photo=gr.Button(visible=False),
        download=None,
    )
    version, last = run.version, 0.0
    while not run.done:
        run.viewed()  # this page looks at it (a page closed for long loses it: see train_tab.UNWATCHED_S)
        version = run.wait(version, UPDATES_EVERY)
        if time.time() - last < UPDATES_EVERY or run.done:
            continue
        last = time.time()
        if run.status == RunStatus.QUEUED:
            yield _result(status=run_view.waiting_line(ctx.runs.place(run), ctx.runs.estimated_wait(run)))
        elif run.steps:
            yield _result(status=teach_view.progress(run.steps[-1]))
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED) or run.checkpoint is None:
        raise CnnError(run.message or f"The run {run.status}.")
    yield _result(
        status=f"Done: saved `{run.checkpoint.name}`.",
        result=teach_view.result_markdown(run),
        confusion=teach_view.confusion(run),
        wrong=teach_view.misclassified(run),
        last_model=str(run.checkpoint),
        download=teach_view.download_copy(run.checkpoint),
        to_draw=gr.Button(visible=kind == "drawings"),
        to_photo=gr.Button(visible=kind == "photos"),
    )


# A second "Add class" clicked before the first is answered is queued, not dropped (Gradio's default
# drops it: the class typed second was lost without a word), and the adds of classes run one at a
# time, so their answers come in order and the page ends on the class added last. (One queue for all
# pages: an add of a class costs milliseconds.)
ADD_CLASS = dict(trigger_mode="multiple", concurrency_id="teach-class", concurrency_limit=1)
PRIVATE = dict(api_visibility="private")  # every event of the tab: the page's own, no API endpoint


def _wire_opening(ctx: AppContext, c: dict, out: list) -> None:
    """Opening a project from the list and creating one: the panels below grey out until the page
    shows it (teach_layout.OPENING), so that no click meanwhile goes with the project shown before."""
    opened = dict(fn=None, inputs=None, outputs=None, js=teach_layout.OPENED, **PRIVATE)
    opening = dict(js=teach_layout.OPENING, **PRIVATE)
    c["choose"].input(bind(open_project, ctx), c["choose"], out, **opening).then(**opened)
    c["create"].click(bind(create_project, ctx), [c["new_name"], c["kind"]], out, **opening).then(**opened)


def _wire_adding(ctx: AppContext, c: dict, out: list) -> None:
    """Add (a drawing): the page takes the drawing and empties the canvas in the click
    (teach_canvas.TAKE); adds queue up behind it, each with the class picked at its click, and show
    their progress on the examples. The project is shown by a view asked for after each add, one at a
    time, the last ask after the last save ("always_last"): the adds' own answers could come in any
    order, and an older count stayed."""
    prj, cls = c["project"], c["class_pick"]
    c["add_btn"].click(
        bind(add_drawing, ctx),
        [c["drawing"], prj, cls],
        None,
        js=teach_canvas.TAKE,
        trigger_mode="multiple",
        show_progress_on=[c["examples"]],
        **PRIVATE,
    ).then(None, None, None, js=teach_canvas.SAVED, **PRIVATE).then(
        bind(pick_class, ctx), [prj, cls], out, trigger_mode="always_last", show_progress="hidden", **PRIVATE
    )


def build(ctx: AppContext, draw, photo, owner: gr.BrowserState) -> dict:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab
    its "Use in" buttons load a trained model into; owner is the browser's token (train_tab.owner_state)."""
    with gr.Tab("Teach", id="teach") as tab:
        c = teach_layout.layout(ctx)
        for name in ("project", "files", "picked", "last_model"):
            c[name] = gr.State(None)
    out = [c[k] for k in VIEW]
    prj, cls = c["project"], c["class_pick"]
    tab.select(bind(project_list, ctx), prj, c["choose"], show_progress="hidden", **PRIVATE)
    _wire_opening(ctx, c, out)
    b = bind
    c["add_class"].click(b(add_class, ctx), [prj, c["new_class"]], out, **ADD_CLASS, **PRIVATE)
    cls.input(b(pick_class, ctx), [prj, cls], out, **PRIVATE)
    c["rename"].click(b(rename_class, ctx), [prj, cls, c["rename_to"]], out, **PRIVATE)
    c["delete_class"].click(b(delete_class, ctx), [prj, cls, c["sure_class"]], out, **PRIVATE)
    c["delete_project"].click(b(delete_project, ctx), [prj, c["sure_project"]], out, **PRIVATE)
    _wire_adding(ctx, c, out)
    c["add_picture"].click(b(add_picture, ctx), [prj, cls, c["picture"]], out, **PRIVATE)
    c["upload"].upload(b(add_files, ctx), [prj, cls, c["upload"]], out + [c["upload"]], **PRIVATE)
    c["examples"].select(pick_example, c["files"], c["picked"], **PRIVATE)
    c["remove"].click(b(remove_example, ctx), [prj, cls, c["picked"]], out, **PRIVATE)
    c["look"].click(
        b(seen, ctx),
        [c["drawing"], prj],
        c["seen"],
        js=teach_canvas.PEEK,
        trigger_mode="always_last",
        show_progress="hidden",
        **PRIVATE,
    )
    c["picture"].change(b(seen, ctx), [c["picture"], prj], c["seen"], show_progress="hidden", **PRIVATE)
    c["export"].click(b(export, ctx), prj, c["export_file"], **PRIVATE)
    c["train"].click(
        bind(teach, ctx),
        [prj, c["start_from"], owner, c["augment"].spec],
        [c[k] for k in RESULT],
        concurrency_id="teach",
        concurrency_limit=None,  # the app's queue of runs orders them (cnn.runs)
        show_progress="hidden",
        **PRIVATE,
    )
    augment_panel.wire_project(ctx, c["augment"], prj)
    for where, button, tab in (("draw", c["to_draw"], draw), ("photo", c["to_photo"], photo)):
        button.click(b(train_tab.use_in, ctx, where), c["last_model"], [tab.model, tab.about], **PRIVATE).success(
            None, None, None, js=opens_tab(where), **PRIVATE
        )
    return c
