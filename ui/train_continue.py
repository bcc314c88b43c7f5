"""The Runs tab's "Continue training": the Train tab's settings filled with a kept run's own (its
data set, model, recipe and numbers), starting from its checkpoint, and a designed run's design in
the layer editor. Only a run's name is taken from the page, never a path."""

from __future__ import annotations

import dataclasses

import gradio as gr

from cnn.errors import ConfigError
from cnn.run_index import load_history
from cnn.runs import RunConfig
from cnn.training.recipes import RECIPES, default_recipe

from . import design_editor, design_outputs, design_views, outputs
from .common import DATASET_CHOICES, AppContext, friendly
from .train_settings import SETTINGS

FILLED = SETTINGS  # what continue_settings answers: every setting (the page then opens the Train tab)


def continued(ctx: AppContext, cfg: RunConfig, key: str | None, request: gr.Request | None = None) -> RunConfig:
    """cfg continuing the requesting user's kept run named key (as the Runs tab lists it): it starts
    from that run's checkpoint."""
    key = str(key or "").strip()
    if not key:
        return cfg
    e = ctx.usable_run(key, " to continue from", " Clear 'Continue from run' to train from scratch.", request)
    return dataclasses.replace(cfg, init_from=str(e.checkpoint), parent=key)


@friendly
def continue_settings(ctx: AppContext, key: str | None, epochs, request: gr.Request = None) -> tuple:
    """The Train tab's settings (FILLED: the TensorBoard box left as it is) filled with the run's
    recipe for `epochs` more epochs, starting from its checkpoint; then the Train tab is shown.
    Change any setting to fine-tune instead."""
    e = ctx.usable_run(key, " to continue from", request=request)
    if epochs is None or not 0 < float(epochs) <= 1000:
        raise ConfigError("Epochs to continue for must be a number above 0 (at most 1000).")
    h = load_history(e)
    header = (h.header if h is not None else None) or {}
    where = str(header.get("dataset") or e.dataset)
    choice = DATASET_CHOICES.get(where.lower(), "Image folder")
    r = e.recipe
    subset = lambda n: "" if header.get(n) is None else str(header[n])
    gr.Info(f"The Train tab now continues {e.key} for {float(epochs):g} epoch(s); press Start.", duration=5)
    return outputs.values(
        FILLED,
        "continue_settings",
        dataset=choice,
        folder=gr.Textbox(value="" if choice != "Image folder" else where, visible=choice == "Image folder"),
        model=e.architecture or e.model,  # (a designed run's model is 'design'; e.model names its layers)
        recipe=r.get("name") if r.get("name") in RECIPES else default_recipe(e.model).name,
        epochs=float(epochs),
        batch=r.get("batch_size"),
        lr=r.get("lr"),
        optimizer=r.get("optimizer"),
        train_n=subset("train_subset"),
        test_n=subset("test_subset"),
        continue_from=e.key,
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
