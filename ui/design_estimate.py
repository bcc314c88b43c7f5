"""The layer editor's estimate: seconds per epoch on this app's device, from timing a few real
training steps of the design (cnn.training.design_speed)."""

from __future__ import annotations

import math

from cnn.cpu_share import SERVING
from cnn.data.sources import train_images_about
from cnn.errors import CnnError
from cnn.hardware import pick_device
from cnn.training import design_speed
from cnn.training.recipe import OPTIMIZERS
from cnn.training.recipes import RECIPES, get_recipe

from .common import AppContext, friendly, md
from .design_edits import as_layers
from .design_start import DESIGN_RECIPE, MODEL
from .design_views import Target, analysed
from .numbers import parse_number


@friendly
def estimate(ctx: AppContext, design, dataset_choice, batch, recipe, optimizer, lr, train_n) -> str:
    """Seconds per epoch on this app's device, from timing a few real steps of the design."""
    design = as_layers(design)
    target = Target.of(dataset_choice, batch)
    try:
        analysed(design, target)
        r = get_recipe(recipe if recipe in RECIPES else DESIGN_RECIPE)
        r = r.replace(
            model=MODEL,
            design=design,
            batch_size=target.batch_size,
            optimizer=optimizer if optimizer in OPTIMIZERS else r.optimizer,
        )
        r = r.replace(lr=float(lr)) if lr not in (None, "") else r
    except (CnnError, ValueError) as exc:
        return f"⚠️ No estimate: {md(str(exc))}"
    n = train_images_about(target.dataset or "")
    try:
        n = min(n, parse_number(train_n, whole=True) or n)
    except ValueError:
        pass  # (Start says what is wrong with the box; the estimate is for all the images)
    device = pick_device(getattr(ctx.runs, "device", None) or "cpu")
    with SERVING.serving():  # a training run in this process gives way for the second it takes
        per_step = design_speed.seconds_per_step(r, target.input_shape, target.num_classes, device=device)
    steps = math.ceil(n / target.batch_size)
    busy = " (a run is training now, so this is slower than on a quiet machine)" if _training(ctx) else ""
    return (
        f"About **{per_step * steps:,.1f} s per epoch** on {md(ctx.runs.device_name())}{busy}: "
        f"{per_step * 1000:,.0f} ms per step of {target.batch_size} images × {steps:,} steps "
        f"({n:,} images; data loading not included)."
    )


def _training(ctx: AppContext) -> bool:
    run = ctx.runs.current
    return run is not None and not run.done
