"""The Draw tab: a sketchpad, the digit model's ten probabilities and the 28x28 it saw."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from cnn.cpu_share import serving
from cnn.serving.decode import is_empty_editor
from cnn.serving.digits import prepare_digit
from cnn.serving.render import enlarge

from . import attack_view, words
from .common import CLEAR_ANSWER, PREDICT, AppContext, friendly, headlined
from .uploads import checked_editor

EMPTY = words.DIGIT_EMPTY  # what the label says while the canvas is empty (a digit model)
UNSURE = words.DIGIT_UNSURE  # the headline when no digit stands out
# The canvas is larger than the room the editor gives it (about 500 px at height=560), so that it
# is shown scaled down to fit both on load and after Clear. Gradio zooms the canvas "to fit" when the
# editor appears, even above 100% (a 420 px canvas showed at 119%), but Clear resets the zoom to
# min(fit, 100%), so a canvas smaller than its room shrank to 100% after the first Clear.
CANVAS = 600
BRUSH = 26  # px of the canvas: about 21 px on screen, as 18 px was on the old 420 px canvas at 119%


@dataclass
class DrawTab:
    model: gr.State  # the checkpoint path this tab uses
    about: gr.Markdown
    sketch: gr.Sketchpad


def digit_prediction(ctx: AppContext, image, model_path: str | None):
    """(label -> probability, or a message when there is no digit; the 28x28 the model saw or None;
    what the preparation did to the strokes, in words, or "")."""
    with serving():  # a training run in this process waits (cnn.cpu_share)
        pred = ctx.predictor(model_path, "digit")
        r = prepare_digit(image)
        if r.image is None:
            return r.message, None, ""
        return pred.predict(pred.fit(r.image)), r.preview, r.strokes


ANSWER = ("label", "seen", "strokes")  # what `draw` answers, in its outputs' order


def answer(label, seen=None, strokes: str = "") -> tuple:
    """`draw`'s outputs by name: the prediction (or a message), the enlarged 28x28 the model saw,
    and the line under it on what the preparation did to the strokes."""
    return label, seen, strokes


@friendly
def draw(ctx: AppContext, sketch, model_path: str | None) -> tuple:
    """The sketchpad changed: `answer(label=, seen=, strokes=)`."""
    if is_empty_editor(sketch):
        return answer(label=words.empty(_classes(ctx, model_path)))
    probs, seen, strokes = digit_prediction(ctx, sketch, model_path)
    if isinstance(probs, str) and not words.is_digits(classes := _classes(ctx, model_path)):
        return answer(label=words.empty(classes))  # a blank canvas, in a taught model's words
    return answer(label=probs, seen=enlarge(seen) if seen is not None else None, strokes=strokes)


def _classes(ctx: AppContext, model_path: str | None) -> list[str]:
    try:
        return ctx.predictor(model_path, "digit").classes
    except Exception:  # no usable model: the line about it says why; the words stay a digit's
        return []


@friendly
def model_words(ctx: AppContext, model_path: str | None) -> gr.Sketchpad:
    """The tab's model changed: the canvas's label in its own words."""
    return gr.Sketchpad(label=words.prompt(_classes(ctx, model_path)))


@friendly
def use_shipped(ctx: AppContext) -> tuple[str, str]:
    """Back to the shipped digit model: (its path, the line about it)."""
    path = ctx.shipped("draw")
    return path, ctx.about(path, "digit")


def build(ctx: AppContext, model: gr.State) -> DrawTab:
    """The tab's layout and events (call inside gr.Tabs)."""
    with gr.Tab("Draw", id="draw"):
        about = gr.Markdown(ctx.about(ctx.shipped("draw"), "digit"), elem_id="draw-about")
        with gr.Row():
            sketch = checked_editor(
                gr.Sketchpad(
                    label=words.DIGIT_PROMPT,
                    type="pil",
                    image_mode="RGBA",
                    canvas_size=(CANVAS, CANVAS),
                    elem_id="sketch",
                    height=560,
                    brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                )
            )
            with gr.Column():
                label = headlined(
                    gr.Label(num_top_classes=10, label="Prediction", value=EMPTY, elem_id="digit-label"),
                    words.unsure,
                    "digit",
                )
                seen = gr.Image(
                    label="What the model saw (28x28)",
                    interactive=False,
                    height=180,
                    elem_classes="pixelated",
                    elem_id="digit-seen",
                )
                strokes = gr.Markdown("", elem_id="digit-strokes")  # thinned or thickened, and why
                shipped = gr.Button("Use the shipped model", size="sm")
        attack_view.build(ctx, "digit", sketch, model)
    shipped.click(functools.partial(use_shipped, ctx), None, [model, about], api_visibility="private")
    # a new model: the old answer goes at once; the canvas asks for its classes, and the drawing is read again by it
    model.change(None, None, [label, seen], js=CLEAR_ANSWER, queue=False, api_visibility="private")
    model.change(functools.partial(model_words, ctx), model, sketch, api_visibility="private").then(
        functools.partial(draw, ctx),
        [sketch, model],
        [label, seen, strokes],
        show_progress="hidden",
        api_visibility="private",
    )
    sketch.change(
        functools.partial(draw, ctx),
        [sketch, model],
        [label, seen, strokes],
        trigger_mode="always_last",
        show_progress="hidden",
        api_visibility="private",
        **PREDICT,
    )
    return DrawTab(model, about, sketch)
