"""The Augmentation panel (Train and Teach tabs): one box per augmentation with the recipe's value,
each changeable or 0 to turn it off, and a preview of 16 training images as they are and as the run
will see them, drawn by the very function training calls (cnn.data.augment_preview). It redraws on
every change and on Redraw (new random draws); Start reads `spec`, checked when the run starts."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import torch

from cnn.data.augment_preview import preview, sample
from cnn.data.augment_spec import KNOBS, OFF
from cnn.errors import CnnError, ConfigError
from cnn.projects import load_project, load_training_data
from cnn.training.recipes import RECIPES, default_recipe, get_recipe

from . import outputs
from .common import DATASETS
from .teach_view import open_project_at

QUIET = dict(api_visibility="private", show_progress="hidden")
PREVIEW = ("picture", "caption")  # what drawing the preview answers
_SAMPLES: dict[tuple, torch.Tensor] = {}  # (data set, data dir) -> its 16 images: named sets only


@dataclass
class AugmentPanel:
    knobs: list  # one gr.Number per KNOBS entry, in its order
    spec: gr.Textbox  # the knobs as a spec: what Start trains with
    picture: gr.Image
    caption: gr.Markdown
    draw: gr.State  # the preview's random draw (Redraw: the next one)
    redraw: gr.Button
    all_off: gr.Button


def spec_of(*values) -> str:
    """The knobs' values as a spec, unchecked (a value out of range is refused in words when the
    preview draws it or the run starts, where the message can show)."""
    parts = []
    for k, v in zip(KNOBS, values):
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            continue
        if float(v) != 0:
            parts.append(f"{k.name}={float(v):g}")
    return ",".join(parts) or OFF


def knob_values(recipe_name: str) -> list:
    """A recipe preset's augmentation, one value per knob (numbers: a flip is 0 or 1)."""
    r = get_recipe(recipe_name)
    return [float(getattr(r, k.field)) for k in KNOBS]


def continued_values(ctx, recipe_name: str, key: str | None, request: gr.Request | None = None) -> list:
    """The knobs for recipe_name while the Train tab continues the kept run `key` (the Runs tab's
    "Continue training"): that run's own augmentation, as its checkpoint or run log recorded it,
    when recipe_name is the recipe it is continued with (as continue_settings picks it); else, or
    for no run, one the requester may not use or one gone, the preset's (Start says why)."""
    key = str(key or "").strip()
    try:
        e = ctx.usable_run(key, request=request) if key else None  # only the requester's own runs
    except CnnError:
        e = None
    if e is not None and e.recipe:
        own = e.recipe.get("name") if e.recipe.get("name") in RECIPES else default_recipe(e.model).name
        if recipe_name == own:
            return [float(e.recipe.get(k.field) or 0) for k in KNOBS]
    return knob_values(recipe_name)


def training_images(dataset: str, data_dir, allow_any_path: bool) -> torch.Tensor:
    """The 16 images the preview shows of a data set, a folder or a project (a folder is checked to
    be within the data directory as a run's is, by load_training_data)."""
    key = (dataset, str(data_dir))
    if key in _SAMPLES:
        return _SAMPLES[key]
    data = load_training_data(dataset, data_dir, allow_any_path=allow_any_path)
    images = sample(data.train.images)
    if dataset in ("mnist", "fashion-mnist", "cifar10"):  # a folder or project may change: read anew
        _SAMPLES[key] = images
    return images


def page_images(ctx, dataset_choice: str, folder: str | None, request: gr.Request | None = None) -> torch.Tensor:
    """The Train tab's data set (or image folder) as the preview shows it."""
    dataset = DATASETS.get(dataset_choice) or str(folder or "").strip()
    if not dataset:
        raise ConfigError("Choose a data set, or give the path of an image folder, to see its images.")
    return training_images(dataset, ctx.runs.data_dir, ctx.runs.allow_any_path)


def draw_preview(images: Callable[[], torch.Tensor], spec: str, draw: int) -> tuple:
    """PREVIEW (the picture and its caption) of the spec's augmentation on images(); a bad spec or
    unreadable data: the picture left as it was and the caption says what to change."""
    try:
        recipe = get_recipe("mnist_best").with_augment(spec)  # only its augmentation fields are read
        shown = preview(images(), recipe, int(draw or 0))
    except CnnError as exc:
        return outputs.values(PREVIEW, "draw_preview", caption=f"**Not drawn**: {exc}")
    return outputs.values(PREVIEW, "draw_preview", picture=shown.picture, caption=shown.caption(recipe.augment))


def build(recipe_name: str, prefix: str) -> AugmentPanel:
    """The panel's components, filled with recipe_name's augmentation (call inside a Blocks); wire it
    with `wire`. prefix makes the element ids unique per tab ('train', 'teach')."""
    values = knob_values(recipe_name)
    with gr.Accordion("Augmentation", open=True, elem_id=f"{prefix}-augment"):
        gr.Markdown(
            "What training does to each image, drawn anew every step. 0 turns one off. "
            "Left: an image as it is; right: as the run sees it."
        )
        with gr.Row(equal_height=True):
            knobs = [
                gr.Number(
                    v,
                    label=f"{k.name} ({k.unit})",
                    info=k.words,
                    # (no minimum/maximum: Gradio's own refusal would hide which range and why)
                    step=1 if k.kind is not float else None,
                    elem_id=f"{prefix}-aug-{k.name}",
                    min_width=120,
                )
                for k, v in zip(KNOBS, values)
            ]
        with gr.Row():
            spec = gr.Textbox(
                spec_of(*values), label="As a spec (--augment)", interactive=False, elem_id=f"{prefix}-augment-spec"
            )
            redraw = gr.Button("Redraw", elem_id=f"{prefix}-augment-redraw", scale=0)
            all_off = gr.Button("All off", elem_id=f"{prefix}-augment-off", scale=0)
        # no label: its badge covered the first image on a phone; the caption below says what it is
        picture = gr.Image(show_label=False, interactive=False, format="png", elem_id=f"{prefix}-augment-preview")
        caption = gr.Markdown(elem_id=f"{prefix}-augment-caption")
    return AugmentPanel(knobs, spec, picture, caption, gr.State(0), redraw, all_off)


def wire(
    panel: AugmentPanel,
    images: Callable,
    image_inputs: list,
    recipe: gr.Dropdown | None = None,
    continued: tuple | None = None,
) -> dict:
    """The panel's events: every knob change (a person's), Redraw, All off and, given `recipe`, a new
    preset (its augmentation fills the knobs) redraw the preview. images(*image_inputs) gives the
    images to show. continued, (ctx, the "Continue from run" box): while it names a run, the run's
    own augmentation fills the knobs instead, for its own recipe (`continued_values`). Returns the
    redraw event's arguments, for other events to chain with .then."""

    def redraw(*args, request: gr.Request = None):  # the images' reader checks who asks
        *inputs, spec, draw = args
        return draw_preview(functools.partial(images, *inputs, request=request), spec, draw)

    show = dict(
        fn=redraw, inputs=[*image_inputs, panel.spec, panel.draw], outputs=[panel.picture, panel.caption]
    )  # PREVIEW
    show.update(QUIET)
    for knob in panel.knobs:
        knob.input(spec_of, panel.knobs, panel.spec, queue=False, **QUIET).then(**show)
    panel.redraw.click(lambda d: int(d or 0) + 1, panel.draw, panel.draw, queue=False, **QUIET).then(**show)
    panel.all_off.click(lambda: [0.0] * len(KNOBS) + [OFF], None, [*panel.knobs, panel.spec], **QUIET).then(**show)
    if recipe is not None and continued is None:
        recipe.change(
            lambda n: [*(v := knob_values(n)), spec_of(*v)], recipe, [*panel.knobs, panel.spec], **QUIET
        ).then(**show)
    elif recipe is not None:
        wire_continued(panel, recipe, *continued, show)
    return show


def wire_continued(panel: AugmentPanel, recipe: gr.Dropdown, ctx, key_box: gr.Textbox, show: dict) -> None:
    """A new preset, or a run to continue in key_box, fills the knobs by `continued_values`. "Continue
    training" may set both the recipe and the box at once: both events then fill the same values,
    whichever ends last (filling from the recipe alone would undo the run's own augmentation)."""

    def fill(name, key, request: gr.Request = None):
        return [*(v := continued_values(ctx, name, key, request)), spec_of(*v)]

    def fill_for_run(name, key, request: gr.Request = None):  # a box emptied keeps what a person set
        return fill(name, key, request) if str(key or "").strip() else [gr.skip()] * (len(KNOBS) + 1)

    outputs = [*panel.knobs, panel.spec]
    recipe.change(fill, [recipe, key_box], outputs, **QUIET).then(**show)
    key_box.change(fill_for_run, [recipe, key_box], outputs, trigger_mode="always_last", **QUIET).then(**show)


def wire_train(ctx, panel: AugmentPanel, data: list, recipe: gr.Dropdown, continue_from: gr.Textbox) -> dict:
    """The Train tab's panel: as `wire`, on the chosen data set's images (data: its data set and folder
    boxes), filled from the recipe or from the run "Continue from run" names."""
    return wire(panel, functools.partial(page_images, ctx), data, recipe, continued=(ctx, continue_from))


def project_images(ctx, path, request: gr.Request | None = None) -> torch.Tensor:
    """The open project's training examples, as the preview shows them (its owner's only)."""
    if not path:
        raise ConfigError("Open or create a project to see its examples augmented.")
    return sample(load_project(open_project_at(ctx, path, request).path).train.images)


def wire_project(ctx, panel: AugmentPanel, project: gr.State) -> None:
    """The Teach tab's panel: as `wire`, on the open project's examples; a project opened (or made)
    fills the knobs from its kind's teach preset."""
    show = wire(panel, functools.partial(project_images, ctx), [project])

    def fill(path, request: gr.Request = None):
        kind = open_project_at(ctx, path, request).kind if path else "drawings"
        values = knob_values(f"teach_{kind}")
        return [*values, spec_of(*values)]

    project.change(fill, project, [*panel.knobs, panel.spec], **QUIET).then(**show)
