"""A clickable confusion matrix, in the Train tab's result and in the Runs tab: clicking a cell shows
that cell's test images (true 4 taken for 9, say), and each can show its Grad-CAM for the true class
or for the predicted one. The matrix is a picture (cnn.serving.render.confusion_image); its select
event gives the clicked pixel, which `confusion_cell` turns into a (true, predicted) cell."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from cnn.cpu_share import serving
from cnn.data import load_dataset
from cnn.data.sources import named_source
from cnn.errors import CnnError
from cnn.run_index import load_history
from cnn.serving.mistakes import TestPredictions, grad_cams, predictions_of, top_two, why_wrong
from cnn.serving.predictor import cached_predictor
from cnn.serving.render import confusion_cell, confusion_image, enlarge, overlay, side_by_side, to_pil

from . import outputs
from .common import AppContext, bind, friendly, md

CAMS = ("Images", "Grad-CAM for the true class", "Grad-CAM for the predicted class")
RUNS_TEST_IMAGES = 2000  # a kept run without a recorded test subset is scored on this many test images
HINT = "Click a cell of the confusion matrix to see its test images."
PICKED = ("cell", "note", "gallery")  # what a click on a matrix answers
SHOWN = ("note", "gallery")  # what a new Grad-CAM choice answers
MATRIX = ("matrix", "note", "cell", "gallery")  # what the Runs tab's "Show" answers


@dataclass
class CellPanel:
    """A confusion cell's test images: the note, the Grad-CAM choice, the gallery and the cell."""

    note: gr.Markdown
    cam: gr.Radio
    gallery: gr.Gallery
    cell: gr.State

    @classmethod
    def build(cls, prefix: str) -> CellPanel:
        note = gr.Markdown(HINT, elem_id=f"{prefix}-cell-note")
        cam = gr.Radio(list(CAMS), value=CAMS[0], show_label=False, elem_id=f"{prefix}-cell-cam")
        gallery = gr.Gallery(
            show_label=False,
            columns=3,  # a mistake is two pictures wide, its top two written under them: legible at 3
            height=300,
            fit_columns=False,
            object_fit="contain",
            elem_id=f"{prefix}-cell-gallery",
        )  # one image stays a thumbnail
        return cls(note, cam, gallery, gr.State(None))


def cell_view(preds: TestPredictions, checkpoint: str, cell, cam: str, limit: int = 48) -> dict:
    """The note and gallery items, by name (SHOWN), of a cell (true, predicted): its test images, or
    their Grad-CAM maps for the true or the predicted class."""
    if cell is None:
        return dict(note=HINT, gallery=[])
    true, pred = int(cell[0]), int(cell[1])
    idx, names = preds.cell(true, pred, limit), preds.classes
    total = int(preds.confusion[true, pred])
    what = "right" if true == pred else f"taken for **{md(names[pred])}**"
    note = (
        f"True **{md(names[true])}**, {what}: {total} test image(s)"
        + (f", the first {len(idx)} shown" if total > len(idx) else "")
        + "."
    )
    if not idx:
        return dict(note=note, gallery=[])
    which = CAMS.index(cam) if cam in CAMS else 0
    predictor = cached_predictor(checkpoint) if which or true != pred else None
    with serving():  # a person is waiting: a training run in this process waits
        items = pictures(preds, predictor, idx, true, pred, which)
    if which:
        cam_class = names[true if which == 1 else pred]
        note += f" Grad-CAM for the {'true' if which == 1 else 'predicted'} class ({md(cam_class)})."
    elif true != pred:
        note += f" Beside each, Grad-CAM for **{md(names[pred])}**: where the model looked when it said so."
    return dict(note=note, gallery=items)


def pictures(preds: TestPredictions, predictor, idx: list[int], true: int, pred: int, which: int) -> list:
    """The gallery items of a cell's images: plain (a right cell), each beside its Grad-CAM for the
    predicted class (a mistake), or one Grad-CAM map each (which: 1 true, 2 predicted class). A
    mistake's caption gives the model's top two answers."""
    names, batch = preds.classes, preds.images[idx]
    cams, tops = None, None
    if true != pred and not which:
        cams, tops = why_wrong(predictor, batch, pred)
    elif true != pred:
        tops = top_two(predictor, batch)
    items = []
    for k, (i, img) in enumerate(zip(idx, batch)):
        plain = enlarge(to_pil(img), 112)
        answers = "" if tops is None else ", ".join(f"{names[c]} {p:.0%}" for c, p in tops[k])
        if which:
            picture = overlay(img, grad_cams(predictor, img, true, pred)[which - 1], side=112)
        else:
            picture = plain if cams is None else side_by_side(plain, overlay(img, cams[k], side=112), caption=answers)
        caption = f"#{i}: true {names[true]}, predicted {names[pred]}" + (f" · {answers}" if answers else "")
        items.append((picture, caption))
    return items


def clicked(preds: TestPredictions, evt: gr.SelectData) -> list[int]:
    """The (true, predicted) cell at the clicked pixel of the matrix picture."""
    x, y = evt.index[:2] if isinstance(evt.index, (list, tuple)) else (None, None)
    cell = None if x is None else confusion_cell(x, y, len(preds.classes))
    if cell is None:
        raise CnnError("That is outside the matrix: click one of its cells.")
    return list(cell)


# ---------------------------------------------------------------- the Train tab's last run


def train_source(ctx: AppContext, owner: str | None, user: str | None = None) -> tuple[TestPredictions, str]:
    """The test predictions (those of its confusion matrix) and checkpoint of the run the page of
    this person shows (their browser's token `owner`, or login `user`: cnn.runs run_for)."""
    run = ctx.runs.run_for(owner, user) if owner or user else None
    ev = run.end.evaluation if run is not None and run.end is not None else None
    if ev is None or run.data is None or run.checkpoint is None:
        raise CnnError("There is no finished run with a test evaluation to look into.")
    test = run.data.test
    return TestPredictions(list(run.data.classes), test.images, test.labels, ev.predictions), str(run.checkpoint)


@friendly
def pick_train_cell(
    ctx: AppContext, cam: str, owner: str | None, evt: gr.SelectData, request: gr.Request = None
) -> tuple:
    """A click on the Train tab's matrix: PICKED (the cell, its note and gallery)."""
    preds, path = train_source(ctx, owner, ctx.owner(request))
    cell = clicked(preds, evt)
    return outputs.values(PICKED, "pick_train_cell", cell=cell, **cell_view(preds, path, cell, cam))


@friendly
def show_train_cell(ctx: AppContext, cell, cam: str, owner: str | None, request: gr.Request = None) -> tuple:
    """The Grad-CAM choice changed: SHOWN (the note and gallery) of the same cell."""
    if cell is None:
        return outputs.values(SHOWN, "show_train_cell", note=HINT, gallery=[])
    return outputs.values(
        SHOWN, "show_train_cell", **cell_view(*train_source(ctx, owner, ctx.owner(request)), cell, cam)
    )


# ---------------------------------------------------------------- a kept run (the Runs tab)


@functools.lru_cache(maxsize=4)
def _scored(
    path: str, mtime_ns: int, dataset: str, data_dir: str | None, allow_any: bool, subset: int | None, seed: int
) -> TestPredictions:
    predictor = cached_predictor(path)
    size = None if named_source(dataset) else predictor.input_shape[1]
    data = load_dataset(dataset, data_dir, train=False, allow_any_path=allow_any, image_size=size)
    return predictions_of(predictor, data.test.subset(subset, seed=seed))


def runs_source(
    ctx: AppContext, key: str | None, request: gr.Request | None = None
) -> tuple[TestPredictions, str, str]:
    """(a kept run's predictions on its test images, its checkpoint, which images): the test subset
    its log names, else a fixed sample of RUNS_TEST_IMAGES. Scored once per checkpoint version."""
    e = ctx.usable_run(key, request=request)
    h = load_history(e)
    header = (h.header if h is not None else None) or {}
    dataset = str(header.get("dataset") or e.dataset)
    subset, seed = header.get("test_subset") or RUNS_TEST_IMAGES, int(header.get("seed") or 0)
    r = ctx.runs
    r.check_readable(dataset, ctx.owner(request))  # a checkpoint may name another user's folder
    preds = _scored(
        str(e.checkpoint),
        Path(e.checkpoint).stat().st_mtime_ns,
        dataset,
        None if r.data_dir is None else str(r.data_dir),
        r.allow_any_path,
        int(subset),
        seed,
    )
    which = (
        f"its {len(preds.labels):,} test images"
        if header.get("test_subset")
        else f"{len(preds.labels):,} of the {dataset} test images (a fixed sample)"
    )
    return preds, str(e.checkpoint), which


@friendly
def runs_matrix(ctx: AppContext, key: str | None, request: gr.Request = None) -> tuple:
    """MATRIX: the chosen run's confusion matrix, a note, no cell, no images."""
    preds, _, which = runs_source(ctx, key, request)
    acc = float((preds.labels.cpu() == preds.predictions).float().mean())
    note = f"**{key}** on {which}: {acc:.2%} right. {HINT}"
    return outputs.values(
        MATRIX, "runs_matrix", matrix=confusion_image(preds.confusion, preds.classes), note=note, cell=None, gallery=[]
    )


@friendly
def pick_runs_cell(ctx: AppContext, key: str | None, cam: str, evt: gr.SelectData, request: gr.Request = None) -> tuple:
    """A click on the Runs tab's matrix: PICKED."""
    preds, path, _ = runs_source(ctx, key, request)
    cell = clicked(preds, evt)
    return outputs.values(PICKED, "pick_runs_cell", cell=cell, **cell_view(preds, path, cell, cam))


@friendly
def show_runs_cell(ctx: AppContext, key: str | None, cell, cam: str, request: gr.Request = None) -> tuple:
    """The Grad-CAM choice changed in the Runs tab: SHOWN."""
    if cell is None:
        return outputs.values(SHOWN, "show_runs_cell", note=HINT, gallery=[])
    preds, path, _ = runs_source(ctx, key, request)
    return outputs.values(SHOWN, "show_runs_cell", **cell_view(preds, path, cell, cam))


def wire_train(ctx: AppContext, matrix: gr.Image, panel: CellPanel, owner: gr.BrowserState) -> None:
    private = dict(api_visibility="private")
    matrix.select(bind(pick_train_cell, ctx), [panel.cam, owner], [panel.cell, panel.note, panel.gallery], **private)
    panel.cam.change(bind(show_train_cell, ctx), [panel.cell, panel.cam, owner], [panel.note, panel.gallery], **private)


def build_for_runs(ctx: AppContext, chosen: gr.Dropdown) -> None:
    """The Runs tab's confusion matrix of the chosen run, and its cells (call inside the tab)."""
    with gr.Accordion("Confusion matrix of the chosen run (click a cell)", open=False):
        show = gr.Button("Show the chosen run's confusion matrix", size="sm", elem_id="runs-confusion-btn")
        with gr.Row():
            matrix = gr.Image(show_label=False, interactive=False, elem_id="runs-confusion")
            with gr.Column():
                panel = CellPanel.build("runs")
    private = dict(api_visibility="private")
    show.click(bind(runs_matrix, ctx), chosen, [matrix, panel.note, panel.cell, panel.gallery], **private)
    matrix.select(bind(pick_runs_cell, ctx), [chosen, panel.cam], [panel.cell, panel.note, panel.gallery], **private)
    panel.cam.change(bind(show_runs_cell, ctx), [chosen, panel.cell, panel.cam], [panel.note, panel.gallery], **private)
