"""The Runs tab's comparison of several runs: their loss and accuracy curves overlaid, a colour a run,
and a table of the settings that differ (a design's layers are compared in ui/design_views.py)."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from cnn.data.augment_spec import FIELDS as AUGMENT_FIELDS
from cnn.data.augment_spec import format_spec
from cnn.errors import CnnError
from cnn.run_index import NOT_SETTINGS, RunEntry, load_history

from . import design_views
from .common import AppContext, friendly
from .run_words import legend_names, setting_name, value_words
from .runs_table import changed

MAX_POINTS = 400  # per run and curve: enough to see its shape, light enough to send


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
        words = changed(e)
        return f"**{e.key}**: " + (f"changed from the preset: {words}" if words else "the preset's settings")
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
