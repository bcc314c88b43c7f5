"""The Photo tab: a photo (upload, webcam or paste), the photo model's probabilities and the image
it saw. The tab names the model's classes (a photo of anything else still gets one of them), says
when the model is unsure, and shows the CIFAR-10 examples only to a model that knows their classes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr
from PIL import Image

from cnn.cpu_share import serving
from cnn.errors import CnnError
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor
from cnn.serving.render import enlarge

from . import attack_view, outputs
from .common import CLEAR_ANSWER, PREDICT, ROOT, AppContext, friendly, headlined, raw_upload

EXAMPLES = sorted((ROOT / "examples").glob("*.png"))  # CIFAR-10 test images, named by their class
UNSURE = "Not sure what this is: maybe {} or {}"  # the headline when no class stands out
MAX_NAMED = 20  # a model with more classes has the first ones named and the rest counted

ANSWERED = ("label", "seen")  # what a photo (or its removal) answers
VIEWED = ("note", "examples", "seen")  # what a new model in the tab answers
SHIPPED = ("model", "about")  # what "use the shipped model" answers


@dataclass
class PhotoTab:
    model: gr.State  # the checkpoint path this tab uses
    about: gr.Markdown
    image: gr.Image


def photo_prediction(ctx: AppContext, image, model_path: str | None) -> tuple[dict, Image.Image]:
    """(label -> probability, the photo as the model saw it)."""
    with serving():  # a training run in this process waits (cnn.cpu_share)
        pred = ctx.predictor(model_path, "photo")
        c, h, _ = pred.input_shape
        x, seen = prepare_photo(image, size=h, channels=c)
        return pred.predict(x), seen


@friendly
def photo(ctx: AppContext, image, model_path: str | None) -> tuple:
    """A photo arrived (or was removed): ANSWERED (the probabilities, the enlarged image the model saw)."""
    if image is None:
        return outputs.values(ANSWERED, "photo", label=None, seen=None)
    probs, seen = photo_prediction(ctx, image, model_path)
    return outputs.values(ANSWERED, "photo", label=probs, seen=enlarge(seen))


def class_list(classes: list[str]) -> str:
    """'a, b and c' (the first MAX_NAMED, then how many more)."""
    if len(classes) > MAX_NAMED:
        return ", ".join(classes[:MAX_NAMED]) + f" and {len(classes) - MAX_NAMED} more"
    return classes[0] if len(classes) == 1 else ", ".join(classes[:-1]) + " and " + classes[-1]


def model_note(pred: Predictor, data_dir=None) -> str:
    """What the model knows, for the people who show it photos of other things."""
    c, h, w = pred.input_shape
    note = (
        f'**It knows {len(pred.classes)} classes:** {class_list(pred.classes)}. It has no "none of '
        f'these" answer: a photo of anything else gets one of these labels too. When no class '
        f"stands out, the prediction says it is not sure."
    )
    if c == 1:
        note = (
            f"⚠️ **This model was trained on grey {h}x{w} images "
            f"({pred.source(data_dir)}), not on colour photos.** It sees the photo in "
            f"grey, shrunk to {h}x{w}, and answers with one of its classes whatever the photo "
            f"shows. " + note
        )
    return note


def shows_examples(pred: Predictor) -> bool:
    """The CIFAR-10 examples only for a model that knows all their classes."""
    return bool(EXAMPLES) and {p.stem for p in EXAMPLES} <= set(pred.classes)


def seen_label(pred: Predictor | None) -> str:
    if pred is None:
        return "What the model saw"
    c, h, w = pred.input_shape
    return f"What the model saw ({h}x{w}{', grey' if c == 1 else ''})"


def view_of(ctx: AppContext, model_path: str | None) -> tuple[str, bool, str]:
    """(the note on the model's classes, whether the examples show, the label of the image it saw)."""
    try:
        pred = ctx.predictor(model_path, "photo")
    except CnnError:  # the line about the model already says why there is none
        return "", False, seen_label(None)
    return model_note(pred, ctx.runs.data_dir), shows_examples(pred), seen_label(pred)


@friendly
def model_view(ctx: AppContext, model_path: str | None) -> tuple:
    """The tab's model changed: VIEWED (its note, the examples shown or hidden, the seen image's label)."""
    note, examples, seen = view_of(ctx, model_path)
    return outputs.values(
        VIEWED, "model_view", note=note, examples=gr.Column(visible=examples), seen=gr.Image(label=seen)
    )


@friendly
def use_shipped(ctx: AppContext) -> tuple:
    """Back to the shipped photo model: SHIPPED (its path, the line about it)."""
    path = ctx.shipped("photo")
    return outputs.values(SHIPPED, "use_shipped", model=path, about=ctx.about(path, "photo"))


def build(ctx: AppContext, model: gr.State) -> PhotoTab:
    """The tab's layout and events (call inside gr.Tabs)."""
    note0, examples0, seen0 = view_of(ctx, ctx.shipped("photo"))
    with gr.Tab("Photo", id="photo"):
        about = gr.Markdown(ctx.about(ctx.shipped("photo"), "photo"), elem_id="photo-about")
        note = gr.Markdown(note0, elem_id="photo-classes")
        with gr.Row():
            with gr.Column():
                image = raw_upload(
                    gr.Image(
                        label="Photo (upload, webcam or paste)",
                        type="filepath",
                        image_mode=None,
                        sources=["upload", "webcam", "clipboard"],
                        elem_id="photo-in",
                        height=300,
                    )
                )
                with gr.Column(visible=examples0, elem_id="photo-examples") as examples:
                    if EXAMPLES:
                        gr.Examples(
                            [[str(p)] for p in EXAMPLES], inputs=[image], label="Examples (CIFAR-10 test images)"
                        )
            with gr.Column():
                label = headlined(
                    gr.Label(num_top_classes=10, label="Prediction", elem_id="photo-label"), UNSURE, "photo"
                )
                seen = gr.Image(label=seen0, interactive=False, height=180, elem_classes="pixelated")
                shipped = gr.Button("Use the shipped model", size="sm")
        attack_view.build(ctx, "photo", image, model)
    private = dict(api_visibility="private")
    shipped.click(functools.partial(use_shipped, ctx), None, [model, about], **private)
    # a new model (shipped, or loaded from the Train tab): the old answer goes at once, then its
    # classes, and the photo classified again
    model.change(None, None, [label, seen], js=CLEAR_ANSWER, queue=False, **private)
    model.change(functools.partial(model_view, ctx), model, [note, examples, seen], **private).then(
        functools.partial(photo, ctx), [image, model], [label, seen], show_progress="hidden", **private, **PREDICT
    )
    image.change(
        functools.partial(photo, ctx), [image, model], [label, seen], show_progress="hidden", **private, **PREDICT
    )
    return PhotoTab(model, about, image)
