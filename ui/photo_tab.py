"""The Photo tab: a photo (upload, webcam or paste), the photo model's ten probabilities and the
32x32 it saw."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr
from PIL import Image

from cnn.serving.photos import prepare_photo
from cnn.serving.render import enlarge

from .common import PREDICT, ROOT, AppContext, friendly, raw_upload

EXAMPLES = sorted((ROOT / "examples").glob("*.png"))


@dataclass
class PhotoTab:
    model: gr.State      # the checkpoint path this tab uses
    about: gr.Markdown
    image: gr.Image


def photo_prediction(ctx: AppContext, image, model_path: str | None) -> tuple[dict, Image.Image]:
    """(label -> probability, the photo as the model saw it)."""
    pred = ctx.predictor(model_path, "photo")
    c, h, _ = pred.input_shape
    x, seen = prepare_photo(image, size=h, channels=c)
    return pred.predict(x), seen


@friendly
def photo(ctx: AppContext, image, model_path: str | None) -> tuple[dict | None, Image.Image | None]:
    """A photo arrived (or was removed): (probabilities, the enlarged image the model saw)."""
    if image is None:
        return None, None
    probs, seen = photo_prediction(ctx, image, model_path)
    return probs, enlarge(seen)


@friendly
def use_shipped(ctx: AppContext) -> tuple[str, str]:
    """Back to the shipped photo model: (its path, the line about it)."""
    path = ctx.shipped("photo")
    return path, ctx.about(path, "photo")


def build(ctx: AppContext, model: gr.State) -> PhotoTab:
    """The tab's layout and events (call inside gr.Tabs)."""
    with gr.Tab("Photo", id="photo"):
        about = gr.Markdown(ctx.about(ctx.shipped("photo"), "photo"), elem_id="photo-about")
        with gr.Row():
            with gr.Column():
                image = raw_upload(gr.Image(
                    label="Photo (upload, webcam or paste)", type="filepath", image_mode=None,
                    sources=["upload", "webcam", "clipboard"], elem_id="photo-in", height=300))
                if EXAMPLES:
                    gr.Examples([[str(p)] for p in EXAMPLES], inputs=[image],
                                label="Examples (CIFAR-10 test images)")
            with gr.Column():
                label = gr.Label(num_top_classes=10, label="Prediction", elem_id="photo-label")
                seen = gr.Image(label="What the model saw (32x32)", interactive=False, height=180,
                                elem_classes="pixelated")
                shipped = gr.Button("Use the shipped model", size="sm")
    shipped.click(functools.partial(use_shipped, ctx), None, [model, about], api_visibility="private")
    image.change(functools.partial(photo, ctx), [image, model], [label, seen], show_progress="hidden",
                 api_visibility="private", **PREDICT)
    return PhotoTab(model, about, image)
