"""The Runs tab: every kept run as a table (ui/runs_table.py); overlay the curves of several and see
how their settings differ (ui/runs_compare.py); put one into the Draw or Photo tab; continue it
(ui/train_continue.py); download, delete or upload a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import gradio as gr

from cnn.errors import CnnError
from cnn.run_index import delete_run, import_checkpoint, list_runs

from . import confusion_view, map_view, outputs, train_continue
from .common import AppContext, bind, friendly, onnx_download, opens_tab, servable
from .gradio_internals import current_request
from .runs_compare import compare_plots
from .runs_table import COLUMNS, WIDTHS, runs_frame

PRIVATE = dict(api_visibility="private")


@dataclass
class RunsTab:
    table: gr.Dataframe
    notes: gr.Markdown
    compare: gr.Dropdown  # the runs whose curves are overlaid (several)
    chosen: gr.Dropdown  # the run the buttons act on (one)

    def refreshed(self) -> list:
        return [getattr(self, name) for name in REFRESHED]


REFRESHED = tuple(f.name for f in fields(RunsTab))  # what `refresh` answers
DELETED = (*REFRESHED, "confirm")  # `delete`: the refreshed tab and its confirm box, cleared
UPLOADED = (*REFRESHED, "uploaded")  # `upload`: the refreshed tab and its upload box, cleared
USED = ("draw_model", "draw_about", "photo_model", "photo_about", "tab")  # `use_run`; tab: the one to open


def shipped(ctx: AppContext) -> tuple[str, str]:
    return ctx.draw_checkpoint, ctx.photo_checkpoint


def _protected(ctx: AppContext) -> tuple:
    return (*shipped(ctx), *ctx.runs.executor.protected)


# ---------------------------------------------------------------- handlers


@friendly
def refresh(
    ctx: AppContext, compared: list | None = None, chosen: str | None = None, request: gr.Request = None
) -> tuple:
    """REFRESHED: the table, its notes, the compare choices and the chosen run's choices, keeping
    selections still there: the requesting user's runs (all runs without logins) and the shipped
    checkpoints."""
    return outputs.values(REFRESHED, "refresh", **_refreshed(ctx, compared, chosen, request))


def _refreshed(ctx: AppContext, compared: list | None, chosen: str | None, request: gr.Request | None) -> dict:
    folder = ctx.runs_dir_for(request)
    shared = ctx.shared_runs_dir()
    entries = list_runs(folder, shipped(ctx), shared)
    keys = [e.key for e in entries]
    damaged = sum(bool(e.problems) for e in entries)
    whose = "your " if ctx.logins or shared else ""
    also = ", the shipped ones and the app's shared runs (`shared/`: read-only)" if shared else " and the shipped ones"
    notes = f"{len(entries)} run(s): {whose}runs under `{folder}`{also}." + (
        f" ⚠️ {damaged} with something missing or damaged: see *Problems*." if damaged else ""
    )
    kept = [k for k in (compared or []) if k in keys]
    return dict(
        table=runs_frame(entries),
        notes=notes,
        compare=gr.Dropdown(choices=keys, value=kept, multiselect=True),
        chosen=gr.Dropdown(choices=keys, value=chosen if chosen in keys else None),
    )


@friendly
def use_run(ctx: AppContext, key: str | None, request: gr.Request = None) -> tuple:
    """Put a run's model into the Draw tab (1-channel models) or the Photo tab (3-channel models):
    USED (that tab's model and its words, and the tab's id, which the page then opens)."""
    e = ctx.usable_run(key, request=request)
    if e.channels not in (1, 3):
        raise CnnError(f"{e.key} takes {e.channels}-channel images; the Draw tab needs 1 and the Photo tab 3.")
    where, what = ("draw", "digit") if e.channels == 1 else ("photo", "photo")
    path = str(e.checkpoint)
    ctx.predictor(path, what)  # loads it now: a damaged file is refused here, with its message
    gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.")
    model = {f"{where}_model": path, f"{where}_about": ctx.about(path, what)}
    return outputs.values(USED, "use_run", **model, tab=where)


@friendly
def download(ctx: AppContext, key: str | None, request: gr.Request = None) -> gr.DownloadButton:
    """The download button, holding the chosen run's checkpoint (or empty when none is chosen)."""
    if not key:
        return gr.DownloadButton(value=None, interactive=False)
    e = ctx.kept_run(key, request)
    if e.checkpoint is None:
        gr.Warning(f"{key} has no checkpoint to download.")
        return gr.DownloadButton(value=None, interactive=False)
    return gr.DownloadButton(value=servable(e.checkpoint), interactive=True)


@friendly
def download_onnx(ctx: AppContext, key: str | None, request: gr.Request = None) -> gr.DownloadButton:
    """The ONNX download button, holding the chosen run's export (made once per checkpoint, cached by
    its hash; the Predictor serves from the same file), or empty when none is chosen or usable."""
    e = ctx.kept_run(key, request) if key else None
    if e is None or e.checkpoint is None or not e.usable:
        return gr.DownloadButton(value=None, interactive=False)
    return gr.DownloadButton(value=onnx_download(e.checkpoint), interactive=True)


@friendly
def delete(
    ctx: AppContext, key: str | None, confirmed: bool, compared: list | None = None, request: gr.Request = None
) -> tuple:
    """Delete the chosen run (checkpoint and log) once confirmed: DELETED."""
    if not key:
        raise CnnError("Choose a run to delete first.")
    if not confirmed:
        raise CnnError(f"Tick 'Yes, delete it' first: deleting {key} cannot be undone.")
    removed = delete_run(ctx.runs_dir_for(request), key, _protected(ctx))
    gr.Info(f"Deleted {', '.join(p.name for p in removed)}.")
    return outputs.values(DELETED, "delete", **_refreshed(ctx, compared, None, request), confirm=False)


@friendly
def upload(ctx: AppContext, path: str | None, compared: list | None = None, request: gr.Request = None) -> tuple:
    """Import an uploaded .safetensors checkpoint into the requesting user's runs: UPLOADED."""
    if not path:
        return outputs.values(UPLOADED, "upload", **_refreshed(ctx, compared, None, request), uploaded=None)
    folder = ctx.runs_dir_for(request)
    folder.mkdir(parents=True, exist_ok=True)
    dest = import_checkpoint(path, folder, Path(path).name, protected=_protected(ctx))
    gr.Info(f"Imported as {dest.name}. Choose it and press 'Use this model'.")
    return outputs.values(UPLOADED, "upload", **_refreshed(ctx, compared, dest.stem, request), uploaded=None)


# ---------------------------------------------------------------- layout: one builder a panel


def _table() -> tuple[gr.Markdown, gr.Button, gr.Dataframe]:
    notes = gr.Markdown("", elem_id="runs-notes")
    refresh_btn = gr.Button("Refresh", size="sm", elem_id="runs-refresh")
    table = gr.Dataframe(
        headers=COLUMNS, interactive=False, wrap=True, max_height=420, column_widths=WIDTHS, elem_id="runs-table"
    )
    return notes, refresh_btn, table


def _comparison(ctx: AppContext) -> gr.Dropdown:
    """The runs to compare, and their curves and differences, drawn anew for each choice."""
    compared = gr.Dropdown([], multiselect=True, label="Compare runs (their curves overlaid)", elem_id="runs-compare")

    @gr.render(inputs=compared)
    def overlay(keys):  # made anew for each choice of runs (compare_plots says why)
        loss_plot, acc_plot, text = compare_plots(ctx, keys, current_request())  # (a render gets no request)
        with gr.Row():
            loss_plot.render()
            acc_plot.render()
        gr.Markdown(text, elem_id="runs-diff")

    return compared


def _actions() -> dict:
    """The chosen run and what can be done with it: use, download, continue, delete."""
    with gr.Row():
        chosen = gr.Dropdown([], label="Run", elem_id="runs-chosen")
        use_btn = gr.Button("Use this model (Draw tab for 1 channel, Photo tab for 3)", elem_id="runs-use")
        get_btn = gr.DownloadButton("Download checkpoint", interactive=False, elem_id="runs-download")
        get_onnx = gr.DownloadButton("Download ONNX", interactive=False, elem_id="runs-download-onnx")
    with gr.Row():
        more = gr.Number(1, label="Epochs to continue for", minimum=0, elem_id="runs-more-epochs")
        continue_btn = gr.Button("Continue training this run (fills the Train tab)", elem_id="runs-continue")
    with gr.Row():
        confirm = gr.Checkbox(False, label="Yes, delete it", elem_id="runs-confirm")
        delete_btn = gr.Button("Delete run", variant="stop", elem_id="runs-delete")
    return dict(
        chosen=chosen,
        use=use_btn,
        get=get_btn,
        get_onnx=get_onnx,
        more=more,
        go_on=continue_btn,
        confirm=confirm,
        delete=delete_btn,
    )


def _upload() -> gr.File:
    return gr.File(
        label="Upload a .safetensors checkpoint to use it",
        file_types=[".safetensors"],
        type="filepath",
        elem_id="runs-upload",
    )


def build(ctx: AppContext, draw, photo, train_settings=None, editor=None) -> RunsTab:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab;
    train_settings and editor: the Train tab's settings (a TrainSettings) and layer editor
    (train_tab.build), which "Continue training" fills."""
    with gr.Tab("Runs", id="runs") as tab:
        notes, refresh_btn, table = _table()
        compared = _comparison(ctx)
        a = _actions()
        confusion_view.build_for_runs(ctx, a["chosen"])
        map_view.build(ctx, a["chosen"])
        uploaded = _upload()
        opened = gr.Textbox(visible="hidden", elem_id="runs-open-tab")  # the tab "Use" opens (js)
    out, chosen = RunsTab(table, notes, compared, a["chosen"]), a["chosen"]
    show = bind(refresh, ctx)
    tab.select(show, [compared, chosen], out.refreshed(), **PRIVATE)
    refresh_btn.click(show, [compared, chosen], out.refreshed(), **PRIVATE)
    chosen.change(bind(download, ctx), chosen, a["get"], **PRIVATE)
    chosen.change(bind(download_onnx, ctx), chosen, a["get_onnx"], **PRIVATE)
    used = [draw.model, draw.about, photo.model, photo.about, opened]  # USED
    a["use"].click(bind(use_run, ctx), chosen, used, **PRIVATE).success(None, opened, None, js=opens_tab(), **PRIVATE)
    if train_settings is not None:
        _wire_continue(ctx, a, train_settings, editor)
    a["delete"].click(bind(delete, ctx), [chosen, a["confirm"], compared], [*out.refreshed(), a["confirm"]], **PRIVATE)
    uploaded.upload(bind(upload, ctx), [uploaded, compared], [*out.refreshed(), uploaded], **PRIVATE)
    return out


def _wire_continue(ctx: AppContext, a: dict, settings, editor) -> None:
    """ "Continue training": the Train tab's settings (train_continue.FILLED), then a designed run's
    design in the editor (the data set and batch: the filled ones)."""
    cont = bind(train_continue.continue_settings, ctx)
    filled = a["go_on"].click(cont, [a["chosen"], a["more"]], settings.components(), **PRIVATE)
    filled.success(None, None, None, js=opens_tab("train"), **PRIVATE)
    if editor is not None:
        design = bind(train_continue.continue_design, ctx)
        filled.success(design, [a["chosen"], settings.dataset, settings.batch], editor.outputs(), **PRIVATE)
