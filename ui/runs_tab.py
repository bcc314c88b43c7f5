"""The Runs tab: every kept run as a table; overlay the curves of several and see how their settings
differ; put one into the Draw or Photo tab; download, delete or upload a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from cnn.data.augment_spec import FIELDS as AUGMENT_FIELDS
from cnn.data.augment_spec import format_spec
from cnn.errors import CnnError
from cnn.run_index import NOT_SETTINGS, RunEntry, delete_run, import_checkpoint, list_runs, load_history

from . import confusion_view, design_views, map_view, train_tab
from .common import AppContext, bind, current_request, friendly, onnx_download, servable
from .run_words import legend_names, setting_name, setting_words, value_words

# What a person looks for first comes first, so that it fits a 1280 px screen with the rest wrapped.
COLUMNS = [
    "Run",
    "Model",
    "Data",
    "Test accuracy",
    "Status",
    "Problems",
    "Changed settings",
    "Trained",
    "Date",
]
WIDTHS = ["17%", "10%", "8%", "8%", "11%", "14%", "15%", "10%", "7%"]
MAX_POINTS = 400  # per run and curve: enough to see its shape, light enough to send


@dataclass
class RunsTab:
    table: gr.Dataframe
    notes: gr.Markdown
    compare: gr.Dropdown  # the runs whose curves are overlaid (several)
    chosen: gr.Dropdown  # the run the buttons act on (one)

    def refreshed(self) -> list:
        return [self.table, self.notes, self.compare, self.chosen]


def shipped(ctx: AppContext) -> tuple[str, str]:
    return ctx.draw_checkpoint, ctx.photo_checkpoint


def _protected(ctx: AppContext) -> tuple:
    return (*shipped(ctx), *ctx.runs.executor.protected)


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def _quick_run(e: RunEntry) -> dict:
    """A quick run's image counts (what it trained and tested on), as settings."""
    out = {}
    if e.train_subset is not None:
        out["train images"] = e.n_train if e.n_train is not None else e.train_subset
    if e.test_subset is not None:
        out["test images"] = e.n_test if e.n_test is not None else e.test_subset
    return out


def _changed(e: RunEntry) -> str:
    """The settings changed from the preset, in words, a quick run's image counts included."""
    if e.overrides is None:
        return "(preset unknown)" if e.recipe else ""
    changed = {**e.overrides, **_quick_run(e)}
    return ", ".join(setting_words(k, v) for k, v in changed.items())


def _trained(e: RunEntry) -> str:
    """'2 epochs · 41.2 s · cpu'."""
    parts = [
        "" if e.epochs is None else setting_words("epochs", round(e.epochs, 2)),
        "" if e.train_seconds is None else f"{e.train_seconds:.1f} s",
        e.device,
    ]
    return " · ".join(p for p in parts if p)


def row(e: RunEntry) -> list:
    return [
        e.key,
        e.model,
        f"project {e.project}" if e.project else e.dataset,
        _pct(e.test_accuracy),
        e.status + (f" (continued from {e.parent})" if e.parent else ""),
        "; ".join(e.problems),
        "; ".join(p for p in (f"preset {e.recipe['name']}" if e.recipe.get("name") else "", _changed(e)) if p),
        _trained(e),
        e.date[:16].replace("T", " "),
    ]


def runs_frame(entries: list[RunEntry]) -> pd.DataFrame:
    return pd.DataFrame([row(e) for e in entries], columns=COLUMNS)


# ---------------------------------------------------------------- handlers


@friendly
def refresh(
    ctx: AppContext, compared: list | None = None, chosen: str | None = None, request: gr.Request = None
) -> tuple:
    """(table, notes, the compare choices, the chosen run's choices), keeping selections still there:
    the requesting user's runs (all runs without logins) and the shipped checkpoints."""
    folder = ctx.runs_dir_for(request)
    entries = list_runs(folder, shipped(ctx))
    keys = [e.key for e in entries]
    damaged = sum(bool(e.problems) for e in entries)
    whose = "your " if ctx.logins else ""
    notes = f"{len(entries)} run(s): {whose}runs under `{folder}` and the shipped ones." + (
        f" ⚠️ {damaged} with something missing or damaged: see *Problems*." if damaged else ""
    )
    kept = [k for k in (compared or []) if k in keys]
    return (
        runs_frame(entries),
        notes,
        gr.Dropdown(choices=keys, value=kept, multiselect=True),
        gr.Dropdown(choices=keys, value=chosen if chosen in keys else None),
    )


def _thin(points: list, limit: int = MAX_POINTS) -> list:
    if len(points) <= limit:
        return points
    every = -(-len(points) // limit)
    return points[::every] + ([points[-1]] if (len(points) - 1) % every else [])


def curves(entries: list[RunEntry]) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[str]]:
    """The loss per step and accuracy per epoch of each run with a log, and the runs without curves."""
    loss, acc, missing = [], [], []
    named = legend_names([e.key for e in entries])  # legends cut long names: what tells them apart
    for e in entries:
        h = load_history(e)
        if h is None or not (h.steps or h.epochs):
            missing.append(e.key)
            continue
        name = named[e.key]
        loss += [{"run": name, "epoch": round(s.epoch, 4), "loss": s.loss} for s in _thin(h.steps)]
        for ep in h.epochs:
            acc.append({"run": f"{name} train", "epoch": ep.epoch, "accuracy": ep.train_accuracy})
            if ep.test_accuracy is not None:
                acc.append({"run": f"{name} test", "epoch": ep.epoch, "accuracy": ep.test_accuracy})
    # an empty frame would leave a coloured plot blank for good (Gradio 6.31): send None instead
    return (pd.DataFrame(loss) if loss else None, pd.DataFrame(acc) if acc else None, missing)


def _settings(e: RunEntry) -> dict:
    out = {
        "model": e.model,
        "dataset": e.dataset,
        "recipe": e.recipe.get("name", ""),
        "train images": e.n_train,
        "test images": e.n_test,
    }  # (the image counts each run used: a quick run's among them)
    # (a design is compared layer by layer below the table: design_views.design_differences; the
    # augmentation as one spec, rotate=15,zoom=0.1 against crop=2, not field by field)
    out["augmentation"] = format_spec(e.recipe) if e.recipe else None
    out.update({k: v for k, v in e.recipe.items() if k not in NOT_SETTINGS + AUGMENT_FIELDS + ("design",)})
    return out


def _cell(name: str, v) -> str:
    return "" if v is None else value_words(name, v).replace("|", "\\|")


def differences(entries: list[RunEntry]) -> str:
    """A Markdown table of the settings that differ between the runs (for one run: from its preset)."""
    if not entries:
        return ""
    if len(entries) == 1:
        e = entries[0]
        changed = _changed(e)
        return f"**{e.key}**: " + (f"changed from the preset: {changed}" if changed else "the preset's settings")
    settings = [_settings(e) for e in entries]
    names = list(dict.fromkeys(k for s in settings for k in s))
    differ = [k for k in names if len({repr(s[k]) for s in settings if s.get(k) is not None}) > 1]
    if not differ:
        return "The runs have the same settings."
    head = "| setting | " + " | ".join(e.key.replace("|", "\\|") for e in entries) + " |"
    lines = [head, "|---" * (len(entries) + 1) + "|"]
    lines += [f"| {setting_name(k)} | " + " | ".join(_cell(k, s.get(k)) for s in settings) + " |" for k in differ]
    return "**Settings that differ**\n\n" + "\n".join(lines)


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def coloured(frame: pd.DataFrame | None, column: str = "run") -> dict:
    """A colour for each line of a plot, in the order the runs were chosen."""
    names = [] if frame is None else list(dict.fromkeys(frame[column]))
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def compare_plots(
    ctx: AppContext, keys: list | None, request: gr.Request | None = None
) -> tuple[gr.LinePlot, gr.LinePlot, str]:
    """compare() for the page: two new plots (not yet placed; see `build`) with a colour per line.

    New plots for each choice of runs, not new data for the old ones: Gradio 6.31's LinePlot, given
    data with new colour categories, kept drawing only the lines of the runs it was first given."""
    loss, acc, text = compare(ctx, keys, request)
    n = f" ({len(keys)} run{'s' if len(keys) > 1 else ''})" if keys else ""
    loss_plot = gr.LinePlot(
        loss,
        x="epoch",
        y="loss",
        color="run",
        color_map=coloured(loss),
        height=280,
        y_axis_format=".3~g",
        title=f"Training loss{n}",
        elem_id="runs-loss",
        render=False,
    )
    acc_plot = gr.LinePlot(
        acc,
        x="epoch",
        y="accuracy",
        color="run",
        color_map=coloured(acc),
        height=280,
        y_lim=[0, 1.05],  # room above 100%: points at the top stay clear of the edge
        y_axis_format=".0%",
        title=f"Accuracy per epoch{n}",
        elem_id="runs-acc",
        render=False,
    )
    return loss_plot, acc_plot, text


@friendly
def compare(ctx: AppContext, keys: list | None, request: gr.Request = None) -> tuple:
    """(loss curves, accuracy curves, the settings that differ) of the chosen runs."""
    entries, gone = [], []
    for k in keys or []:
        try:
            entries.append(ctx.kept_run(k, request))
        except CnnError:
            gone.append(k)
    loss, acc, missing = curves(entries)
    text = differences(entries) + design_views.design_differences(entries)
    if missing:
        text += f"\n\nNo curves for {', '.join(missing)}: no training log."
    if gone:
        text += f"\n\n{', '.join(gone)}: not there any more (deleted?); press Refresh."
    return loss, acc, text


@friendly
def use_run(ctx: AppContext, key: str | None, request: gr.Request = None) -> tuple:
    """Put a run's model into the Draw tab (1-channel models) or the Photo tab (3-channel models):
    (draw model, draw about, photo model, photo about, the tab to show)."""
    e = ctx.usable_run(key, request=request)
    if e.channels not in (1, 3):
        raise CnnError(f"{e.key} takes {e.channels}-channel images; the Draw tab needs 1 and the Photo tab 3.")
    where, what = ("draw", "digit") if e.channels == 1 else ("photo", "photo")
    path = str(e.checkpoint)
    ctx.predictor(path, what)  # loads it now: a damaged file is refused here, with its message
    about, skip = ctx.about(path, what), gr.skip()
    gr.Info(f"The {where.capitalize()} tab now uses {Path(path).name}.")
    if where == "draw":
        return path, about, skip, skip, gr.Tabs(selected="draw")
    return skip, skip, path, about, gr.Tabs(selected="photo")


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
    """Delete the chosen run (checkpoint and log) once confirmed: (refreshed outputs..., confirm box)."""
    if not key:
        raise CnnError("Choose a run to delete first.")
    if not confirmed:
        raise CnnError(f"Tick 'Yes, delete it' first: deleting {key} cannot be undone.")
    removed = delete_run(ctx.runs_dir_for(request), key, _protected(ctx))
    gr.Info(f"Deleted {', '.join(p.name for p in removed)}.")
    return (*refresh(ctx, compared, None, request), False)


@friendly
def upload(ctx: AppContext, path: str | None, compared: list | None = None, request: gr.Request = None) -> tuple:
    """Import an uploaded .safetensors checkpoint into the requesting user's runs: (refreshed
    outputs..., upload box)."""
    if not path:
        return (*refresh(ctx, compared, None, request), None)
    folder = ctx.runs_dir_for(request)
    folder.mkdir(parents=True, exist_ok=True)
    dest = import_checkpoint(path, folder, Path(path).name, protected=_protected(ctx))
    gr.Info(f"Imported as {dest.name}. Choose it and press 'Use this model'.")
    return (*refresh(ctx, compared, dest.stem, request), None)


# ---------------------------------------------------------------- layout


def build(ctx: AppContext, tabs: gr.Tabs, draw, photo, train_settings: list | None = None, editor=None) -> RunsTab:
    """The tab's layout and events (call inside `tabs`); draw and photo are the DrawTab and PhotoTab;
    train_settings and editor: the Train tab's settings and layer editor (train_tab.build), which
    "Continue training" fills."""
    with gr.Tab("Runs", id="runs") as tab:
        notes = gr.Markdown("", elem_id="runs-notes")
        refresh_btn = gr.Button("Refresh", size="sm", elem_id="runs-refresh")
        table = gr.Dataframe(
            headers=COLUMNS, interactive=False, wrap=True, max_height=420, column_widths=WIDTHS, elem_id="runs-table"
        )
        compared = gr.Dropdown(
            [], multiselect=True, label="Compare runs (their curves overlaid)", elem_id="runs-compare"
        )

        @gr.render(inputs=compared)
        def overlay(keys):  # made anew for each choice of runs (compare_plots says why)
            loss_plot, acc_plot, text = compare_plots(ctx, keys, current_request())  # (a render gets no request)
            with gr.Row():
                loss_plot.render()
                acc_plot.render()
            gr.Markdown(text, elem_id="runs-diff")

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
        confusion_view.build_for_runs(ctx, chosen)
        map_view.build(ctx, chosen)
        uploaded = gr.File(
            label="Upload a .safetensors checkpoint to use it",
            file_types=[".safetensors"],
            type="filepath",
            elem_id="runs-upload",
        )
    out = RunsTab(table, notes, compared, chosen)
    private = dict(api_visibility="private")
    show = bind(refresh, ctx)
    tab.select(show, [compared, chosen], out.refreshed(), **private)
    refresh_btn.click(show, [compared, chosen], out.refreshed(), **private)
    chosen.change(bind(download, ctx), chosen, get_btn, **private)
    chosen.change(bind(download_onnx, ctx), chosen, get_onnx, **private)
    use_btn.click(bind(use_run, ctx), chosen, [draw.model, draw.about, photo.model, photo.about, tabs], **private)
    if train_settings is not None:
        filled = continue_btn.click(
            bind(train_tab.continue_settings, ctx), [chosen, more], [*train_settings, tabs], **private
        )
        if editor is not None:  # a designed run: its design in the editor (dataset and batch: the filled ones)
            target = [train_settings[0], train_settings[5]]
            filled.success(bind(train_tab.continue_design, ctx), [chosen, *target], editor.outputs(), **private)
    delete_btn.click(bind(delete, ctx), [chosen, confirm, compared], [*out.refreshed(), confirm], **private)
    uploaded.upload(bind(upload, ctx), [uploaded, compared], [*out.refreshed(), uploaded], **private)
    return out
