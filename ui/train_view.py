"""The Train tab's outputs, and what each answer to a page sends of a run: only the parts that page
does not show yet (see `Shown`), so a page redraws only what changed, and the loss plot at most
every LOSS_EVERY_S seconds while a run goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import gradio as gr

from cnn.runs import Run

from . import confusion_view, outputs, run_view
from .common import log, onnx_download, servable

LOSS_EVERY_S = 3.0  # the loss plot is redrawn at most this often while a run goes


# Epoch ticks as people write numbers: 100, 120, 1,000, 0.25. Vega gives a format without a precision
# the ticks' own ("~g" became "~.2g": 1e+2, 1.2e+2); "r" rounds to that many digits in decimal notation.
EPOCH_TICKS = ",~r"


@dataclass(frozen=True)
class TrainOutputs:
    """The Train tab's outputs, defined once: `build` lays out these components, and every handler
    that shows a run sends values for them by name through `values`."""

    status: gr.Markdown
    progress: gr.HTML
    loss_plot: gr.LinePlot
    loss_note: gr.Markdown  # why the loss levels off where it does
    acc_plot: gr.ScatterPlot
    live_panel: gr.HTML  # watch it learn: the fixed test images and what the model makes of them now
    filters: gr.Image  # and its first convolution's filters
    result: gr.Markdown
    to_draw: gr.Button
    to_photo: gr.Button
    get_checkpoint: gr.DownloadButton  # the run's .safetensors
    get_onnx: gr.DownloadButton  # and its ONNX export, beside it
    panels: gr.Row  # the confusion matrix and the misclassified images, shown with a result
    confusion: gr.Image
    cell_note: gr.Markdown  # a clicked confusion cell's test images (ui/confusion_view.py)
    cell_cam: gr.Radio
    cell_gallery: gr.Gallery
    cell: gr.State
    wrong_gallery: gr.Gallery
    reliability: gr.Image  # before and after the temperature, shown with a result that has one
    last_run: gr.State  # the checkpoint path of the last finished run
    shown: gr.State  # what this page shows of its run (a Shown)

    @classmethod
    def build(cls) -> TrainOutputs:
        """The tab's outputs, laid out panel by panel."""
        status = gr.Markdown("", elem_id="train-status")
        progress = gr.HTML("", elem_id="train-progress")
        parts = {**_curves(), **_live(), "result": gr.Markdown("", elem_id="train-result"), **_buttons()}
        parts |= _mistakes()
        reliability = gr.Image(
            label="Reliability diagram", interactive=False, visible=False, elem_id="reliability", width=600
        )
        return cls(
            status=status,
            progress=progress,
            **parts,
            reliability=reliability,
            last_run=gr.State(None),
            shown=gr.State(None),
        )

    def cell_panel(self) -> confusion_view.CellPanel:
        return confusion_view.CellPanel(self.cell_note, self.cell_cam, self.cell_gallery, self.cell)

    def components(self) -> list:
        return [getattr(self, name) for name in OUTPUTS]


OUTPUTS = tuple(f.name for f in fields(TrainOutputs))


def values(**by_name) -> tuple:
    """Values for the Train tab's outputs, in their order; an output not named is left as it is."""
    return outputs.values(OUTPUTS, "Train tab", **by_name)


# ---------------------------------------------------------------- layout: one builder a panel


def _curves() -> dict:
    """The loss curve with its note, beside the accuracy per epoch."""
    with gr.Row():
        with gr.Column():
            loss_plot = gr.LinePlot(
                x="epoch",
                y="loss",
                title="Training loss",
                elem_id="loss-plot",
                height=260,
                x_axis_format=EPOCH_TICKS,
                y_axis_format=".3~g",  # ticks of 3 digits, not 1.835559
            )
            loss_note = gr.Markdown("", elem_id="loss-note")
        acc_plot = gr.ScatterPlot(
            x="epoch",
            y="accuracy",
            color="split",
            title="Accuracy per epoch",
            elem_id="acc-plot",
            height=260,
            y_lim=[0, 1.05],  # room above 100%: points at the top stay clear of the edge
            y_axis_format=".0%",
            x_axis_format=EPOCH_TICKS,
            color_map={"train": "#1f77b4", "test": "#ff7f0e"},
        )
    return dict(loss_plot=loss_plot, loss_note=loss_note, acc_plot=acc_plot)


def _live() -> dict:
    """Watch it learn: the fixed test images and the first convolution's filters, as it trains."""
    with gr.Row(elem_id="train-live"):
        with gr.Column(scale=3):
            gr.Markdown(
                "**Watch it learn**: fixed test images with the model's current top guess "
                "(green right, red wrong), at every epoch end and every few seconds."
            )
            live_panel = gr.HTML("", elem_id="live-panel")
        with gr.Column(scale=2):
            gr.Markdown("**First convolution's filters**, updating the same way.")
            filters = gr.Image(
                show_label=False, interactive=False, elem_id="live-filters", elem_classes=["pixelated"], height=220
            )
    return dict(live_panel=live_panel, filters=filters)


def _buttons() -> dict:
    """What a finished run offers: its model in the Draw or Photo tab, its checkpoint and ONNX."""
    with gr.Row():
        to_draw = gr.Button("Use this model in the Draw tab", visible=False, elem_id="to-draw")
        to_photo = gr.Button("Use this model in the Photo tab", visible=False, elem_id="to-photo")
        get_checkpoint = gr.DownloadButton(
            "Download checkpoint (.safetensors)", visible=False, elem_id="train-get-checkpoint"
        )
        get_onnx = gr.DownloadButton("Download ONNX (.onnx)", visible=False, elem_id="train-get-onnx")
    return dict(to_draw=to_draw, to_photo=to_photo, get_checkpoint=get_checkpoint, get_onnx=get_onnx)


def _mistakes() -> dict:
    """The confusion matrix with a clicked cell's images, beside the misclassified test images."""
    with gr.Row(visible=False, elem_id="train-panels") as panels:
        with gr.Column():
            gr.Markdown(
                "**Confusion matrix** on the test images: rows are the true class, columns "
                "the predicted one; the diagonal is right. Click a cell to see its images."
            )
            confusion = gr.Image(show_label=False, interactive=False, elem_id="confusion")
            cells = confusion_view.CellPanel.build("train")
        with gr.Column():
            gr.Markdown(
                "**Misclassified test images**, the most confidently wrong first: "
                "true class, taken for the predicted one."
            )
            wrong_gallery = gr.Gallery(
                show_label=False,
                columns=4,
                height=360,
                fit_columns=False,
                object_fit="contain",
                elem_id="wrong-gallery",
            )  # one wrong image stays a thumbnail
    return dict(
        panels=panels,
        confusion=confusion,
        cell_note=cells.note,
        cell_cam=cells.cam,
        cell_gallery=cells.gallery,
        cell=cells.cell,
        wrong_gallery=wrong_gallery,
    )


@dataclass(frozen=True)
class Shown:
    """What a page shows of its run, part by part (the PARTS of `view_update`): the run, and for each
    part the key of what the page shows of it (the text itself, or a count of points) and when it
    was sent. A gr.State of the page holds it; an answer sends a part only when its key changed, and
    the new Shown with it. A (re)loaded page starts from None and gets the whole run."""

    run: str = ""
    keys: dict = field(default_factory=dict)  # part -> the key the page shows
    sent_at: dict = field(default_factory=dict)  # part -> when it was sent (time.time())


# ---------------------------------------------------------------- what a page is sent


def _plots(run: Run, loss=None, acc=None) -> dict:
    """The two plots with the run's axes, holding the given data."""
    return dict(
        loss_plot=gr.LinePlot(value=loss, x_lim=run_view.loss_x_range(run)),
        acc_plot=gr.ScatterPlot(value=acc, x_lim=run_view.accuracy_x_range(run)),
    )


def onnx_file(path: str | None) -> str | None:
    """The run's ONNX export for its download button; None (the button hidden) without a checkpoint,
    or when it cannot be exported (onnx not installed: the log says why)."""
    if not path:
        return None
    try:
        return onnx_download(path)
    except Exception:
        log.warning("no ONNX export for %s", path, exc_info=True)
        return None


def _result(run: Run) -> dict:
    path, channels = run_view.trained_model(run)
    image = run_view.confusion(run)
    diagram, caption = run_view.reliability(run)
    onnx = onnx_file(path)
    return dict(
        get_checkpoint=gr.DownloadButton(value=servable(path) if path else None, visible=bool(path)),
        get_onnx=gr.DownloadButton(value=onnx, visible=onnx is not None),
        result=run_view.result_markdown(run),
        last_run=path,
        panels=gr.Row(visible=image is not None),
        confusion=image,
        wrong_gallery=run_view.misclassified_items(run),
        reliability=gr.Image(value=diagram, label=caption, visible=diagram is not None),
        to_draw=gr.Button(visible=bool(path) and channels == 1),
        to_photo=gr.Button(visible=bool(path) and channels == 3),
    )


def _clean(run: Run) -> dict:
    """The outputs of a page that shows a run for the first time: a clean tab on the run's axes."""
    return dict(
        result="",
        last_run=None,
        live_panel="",
        filters=None,
        cell_note=confusion_view.HINT,
        cell_gallery=[],
        cell=None,
        panels=gr.Row(visible=False),
        confusion=None,
        wrong_gallery=[],
        reliability=gr.Image(value=None, visible=False),
        get_checkpoint=gr.DownloadButton(value=None, visible=False),
        get_onnx=gr.DownloadButton(value=None, visible=False),
        to_draw=gr.Button(visible=False),
        to_photo=gr.Button(visible=False),
        **_plots(run),
    )


CLEAN_KEYS = {"loss": 0, "acc": 0, "panel": 0, "result": False}  # what _clean shows of those parts
THROTTLED = {"loss": LOSS_EVERY_S}  # a part sent at most this often while the run goes (once it has points)


def parts(run: Run, waiting: tuple[int, float] | None = None) -> dict[str, tuple[object, Callable[[], dict]]]:
    """The tab's parts that follow a run: name -> (its key now, the outputs that show it)."""
    status, progress = run_view.status_markdown(run, waiting), run_view.progress_html(run)
    note, acc = run_view.loss_caption(run), run_view.accuracy_frame(run)
    return {
        "status": (status, lambda: {"status": status}),
        "progress": (progress, lambda: {"progress": progress}),
        "loss_note": (note, lambda: {"loss_note": note}),
        "loss": (len(run.steps), lambda: {"loss_plot": _plots(run, loss=run_view.loss_frame(run))["loss_plot"]}),
        # an empty frame would leave a coloured plot blank for good (Gradio 6.31): none until a point
        "acc": (0 if acc is None else len(acc), lambda: {"acc_plot": _plots(run, acc=acc)["acc_plot"]}),
        "panel": (
            run.snapshots if run.snapshot is not None else 0,
            lambda: dict(live_panel=run_view.live_panel_html(run), filters=run_view.filters_image(run)),
        ),
        "result": (run.done, lambda: _result(run) if run.done else {}),
    }


def view_update(run: Run, seen: Shown | None, now: float | None = None, waiting=None) -> tuple:
    """`changes` as the Train tab's outputs, in their order."""
    return values(**changes(run, seen, now, waiting))


def changes(run: Run, seen: Shown | None, now: float | None = None, waiting=None) -> dict:
    """The Train tab's outputs that change what a page showing `seen` shows of `run`, by name (the
    others are left out), with the new `shown` (left out too when nothing changed); waiting: (place,
    estimated wait) of a run that waits for its turn."""
    now = time.time() if now is None else now
    out: dict = {}
    if seen is None or seen.run != run.id:  # another run than the page shows: start from a clean tab
        out.update(_clean(run))
        seen = Shown(run.id, dict(CLEAN_KEYS), {})
    keys, sent_at = dict(seen.keys), dict(seen.sent_at)
    for name, (key, send) in parts(run, waiting).items():
        if keys.get(name) == key:
            continue
        every = THROTTLED.get(name)
        if every and not run.done and keys.get(name) and now - sent_at.get(name, 0.0) < every:
            continue
        out.update(send())
        keys[name], sent_at[name] = key, now
    if out or keys != seen.keys:
        out["shown"] = Shown(run.id, keys, sent_at)
    return out
