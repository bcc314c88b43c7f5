"""The Train tab's settings, defined once: the components a run is configured with (`TrainSettings`,
in the order `train_tab.start` takes them), their layout, how a choice fills the others (a data
set its fast model, a model its recipe, a recipe its numbers) and the RunConfig they ask for."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import gradio as gr

from cnn.data import resolve_data_dir
from cnn.errors import ConfigError
from cnn.models import MODELS
from cnn.runs import RunConfig
from cnn.training.defaults import fast_default
from cnn.training.recipe import OPTIMIZERS
from cnn.training.recipes import RECIPES, default_recipe, get_recipe

from . import design_start, outputs, words
from .common import DATASETS, AppContext, friendly
from .numbers import parse_number

QUIET = dict(api_visibility="private", show_progress="hidden")


@dataclass(frozen=True)
class TrainSettings:
    """The settings' components, in `start`'s order (its owner, design and augmentation aside)."""

    dataset: gr.Dropdown
    folder: gr.Textbox  # an image folder's path, shown for "Image folder"
    model: gr.Dropdown
    recipe: gr.Dropdown
    epochs: gr.Number
    batch: gr.Number
    lr: gr.Number
    optimizer: gr.Dropdown
    train_n: gr.Textbox  # a quick run's training images (empty: all)
    test_n: gr.Textbox  # and its test images
    tensorboard: gr.Checkbox
    continue_from: gr.Textbox  # the kept run a continued run starts from

    def components(self) -> list:
        return [getattr(self, name) for name in SETTINGS]


SETTINGS = tuple(f.name for f in fields(TrainSettings))
FOR_DATASET = ("folder", "model", "recipe")  # what choosing a data set fills
FROM_RECIPE = ("epochs", "batch", "lr", "optimizer")  # what choosing a recipe fills


def values(**by_name) -> tuple:
    """Values for the settings, in their order; a setting not named is left as it is."""
    return outputs.values(SETTINGS, "Train tab setting", **by_name)


def count(text, name: str) -> int | None:
    """A number of images typed in a quick-run box: None when empty (all of them)."""
    try:
        return parse_number(text, whole=True)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of images, or empty for all (got {text!r}).") from None


def run_config(
    dataset_choice, folder, model, recipe, epochs, batch, lr, optimizer, train_n, test_n, tensorboard: bool = False
) -> RunConfig:
    """The run the settings on the page ask for (checked when it starts)."""
    dataset = DATASETS.get(dataset_choice) or (folder or "").strip()
    return RunConfig(
        dataset,
        model,
        recipe,
        epochs,
        batch,
        lr,
        optimizer,
        count(train_n, "Training images"),
        count(test_n, "Test images"),
        tensorboard=bool(tensorboard),
    )


@friendly
def fill_from_recipe(name: str) -> tuple:
    """A recipe preset's numbers: FROM_RECIPE."""
    r = get_recipe(name)
    return outputs.values(
        FROM_RECIPE, "fill_from_recipe", epochs=r.epochs, batch=r.batch_size, lr=r.lr, optimizer=r.optimizer
    )


@friendly
def recipe_for_model(model: str) -> str:
    return default_recipe(model).name


@friendly
def pick_for_dataset(ctx: AppContext, dataset_choice: str) -> tuple:
    """FOR_DATASET: a named data set gets its fast model and recipe for this app's device (the folder
    box hidden); 'Image folder' shows the folder box and keeps the model."""
    key = DATASETS.get(dataset_choice)
    if key is None:
        return outputs.values(FOR_DATASET, "pick_for_dataset", folder=gr.Textbox(visible=True))
    r = fast_default(key, ctx.runs.device_type())
    return outputs.values(
        FOR_DATASET, "pick_for_dataset", folder=gr.Textbox(visible=False), model=r.model, recipe=r.name
    )


# ---------------------------------------------------------------- layout: one builder a panel


def data_and_model(ctx: AppContext) -> dict:
    """The data set, its folder, the model and the recipe (the data set's fast defaults first)."""
    runs, r0 = ctx.runs, fast_default("mnist", ctx.runs.device_type())
    # groups that fold away (a phone shows one screen of settings at a time)
    with gr.Accordion("Data and model", open=True, elem_id="train-settings-data"), gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="MNIST", label="Data set", elem_id="dataset")
        folder = gr.Textbox(
            label="Image folder (one sub-folder per class)",
            visible=False,
            elem_id="folder",
            placeholder=f"a folder under the data directory {resolve_data_dir(runs.data_dir)}"
            if not runs.allow_any_path
            else "the path of an image folder",
        )
        choices = words.model_choices(MODELS) + design_start.model_choices()[-1:]
        model = gr.Dropdown(choices, value=r0.model, label="Model", elem_id="model")
        recipe = gr.Dropdown(list(RECIPES), value=r0.name, label="Recipe preset", elem_id="recipe")
    return dict(dataset=dataset, folder=folder, model=model, recipe=recipe)


def training(ctx: AppContext) -> dict:
    """Epochs, batch size, learning rate and optimizer, and a quick run's image counts."""
    r0 = fast_default("mnist", ctx.runs.device_type())
    with gr.Accordion("Epochs, batch size, learning rate, optimizer", open=True, elem_id="train-settings-training"):
        with gr.Row():
            epochs = gr.Number(r0.epochs, label="Epochs (may be fractional)", elem_id="epochs")
            batch = gr.Number(r0.batch_size, label="Batch size", precision=0, elem_id="batch")
            lr = gr.Number(r0.lr, label="Learning rate", elem_id="lr")
            optimizer = gr.Dropdown(list(OPTIMIZERS), value=r0.optimizer, label="Optimizer", elem_id="optimizer")
    with gr.Accordion("Quick run: train on part of the data", open=False, elem_id="train-settings-more"):
        with gr.Row():
            train_n = gr.Textbox("", label="Training images (empty: all)", placeholder="all", elem_id="train-subset")
            test_n = gr.Textbox("", label="Test images (empty: all)", placeholder="all", elem_id="test-subset")
    return dict(epochs=epochs, batch=batch, lr=lr, optimizer=optimizer, train_n=train_n, test_n=test_n)


def keeping() -> dict:
    """The TensorBoard checkbox and the run to continue from (the Runs tab fills it)."""
    with gr.Row():
        tensorboard = gr.Checkbox(
            False, label="Also write TensorBoard logs (runs folder, tensorboard/)", elem_id="tensorboard"
        )
        continue_from = gr.Textbox(
            "",
            label="Continue from run (empty: train from scratch)",
            placeholder="set by the Runs tab's 'Continue training'",
            elem_id="continue-from",
        )
    return dict(tensorboard=tensorboard, continue_from=continue_from)


def wire(ctx: AppContext, s: TrainSettings) -> None:
    """Only a person's choice fills the settings from a preset (.input, then fill): the Runs tab's
    "Continue training" sets them all at once and must not be overwritten."""
    fill = dict(fn=fill_from_recipe, inputs=s.recipe, outputs=[getattr(s, n) for n in FROM_RECIPE], **QUIET)
    picked = functools.partial(pick_for_dataset, ctx)
    s.dataset.input(picked, s.dataset, [getattr(s, n) for n in FOR_DATASET], **QUIET).then(**fill)
    s.model.input(recipe_for_model, s.model, s.recipe, **QUIET).then(**fill)
    s.recipe.input(**fill)
