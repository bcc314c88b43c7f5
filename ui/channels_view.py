"""The Inside tab's "What each channel looks for" panel: for a convolution layer of the Draw or
Photo tab's model, the image that most excites each chosen channel (cnn.serving.feature_vis),
beside the 9 test images that excite it most."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image

from cnn.cpu_share import serving
from cnn.errors import CnnError
from cnn.serving.feature_vis import MAX_CHANNELS, conv_layers, top_images, visualise
from cnn.serving.predictor import Predictor
from cnn.serving.render import to_pil

from . import outputs
from .common import PREDICT, AppContext, bind, friendly, md
from .probe_data import test_sample

TOP_FROM = 1000  # the top 9 come from this fixed sample of the test split (seed 0)
OUTPUTS = ("note", "gallery")
PROGRESS = gr.Progress()  # (Gradio hands a handler progress through this default)
CELL = 120  # display size of a picture; the 9 test images share one cell of the same size


def values(**by_name) -> tuple:
    """Values for the panel's outputs, in OUTPUTS' order; an output not named is left as it is."""
    return outputs.values(OUTPUTS, "channel panel", **by_name)


def model_for(ctx: AppContext, which: str, draw_path: str | None, photo_path: str | None) -> Predictor:
    return ctx.predictor(draw_path, "digit") if which == "Drawing" else ctx.predictor(photo_path, "photo")


def parse_channels(text: str | None, limit: int) -> list[int]:
    """'0-15', '3, 7, 12' or '2-5, 9' as channel numbers below limit, at most MAX_CHANNELS (checked
    before a range is spelt out); empty text means the first MAX_CHANNELS."""
    text = (text or "").strip()
    if not text:
        return list(range(min(MAX_CHANNELS, limit)))
    out: list[int] = []
    for part in text.replace(";", ",").split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise CnnError(f"{part.strip()!r} is not a channel number: write them as 0-15 or 3, 7, 12.") from None
        if not (0 <= a <= b < limit):
            raise CnnError(f"Channels go from 0 to {limit - 1} in this layer; {part.strip()} is outside.")
        if b - a + 1 + len(out) > MAX_CHANNELS:
            raise CnnError(f"Pick at most {MAX_CHANNELS} channels at once.")
        out += [c for c in range(a, b + 1) if c not in out]
    return out


_TOPS: dict[tuple, torch.Tensor] = {}  # (checkpoint, its mtime, layer) -> the top 9 of each channel


def _top(ctx: AppContext, predictor: Predictor, layer: str) -> torch.Tensor:
    path = predictor.path
    key = (str(path), path.stat().st_mtime_ns if path else 0, layer)
    if key not in _TOPS:
        split, _ = test_sample(ctx, predictor, TOP_FROM)
        if len(_TOPS) >= 16:
            _TOPS.pop(next(iter(_TOPS)))
        _TOPS[key] = top_images(predictor, layer, split.images, k=9)
    return _TOPS[key]


def _side_by_side(pic: torch.Tensor, top: torch.Tensor) -> Image.Image:
    """The channel's picture, and its 9 test images as a 3 x 3 grid, side by side."""
    out = Image.new("RGB", (2 * CELL + 8, CELL), "white")
    out.paste(to_pil(pic).convert("RGB").resize((CELL, CELL), Image.Resampling.NEAREST), (0, 0))
    s = CELL // 3
    for i, img in enumerate(top):
        small = to_pil(img).convert("RGB").resize((s - 1, s - 1), Image.Resampling.NEAREST)
        out.paste(small, (CELL + 8 + (i % 3) * s, (i // 3) * s))
    return out


@friendly
def show(ctx: AppContext, which, layer, text, draw_path, photo_path, progress=PROGRESS) -> tuple:
    """(a note, the gallery): a picture and 9 test images for each chosen channel of the layer."""
    pred = model_for(ctx, which, draw_path, photo_path)
    layers = dict(conv_layers(pred.model))
    if layer not in layers:
        raise CnnError("Pick a layer first (the list shows the model's convolution layers).")
    channels = parse_channels(text, layers[layer])
    with serving():  # a person is waiting: a training run in this process waits (cnn.cpu_share)
        progress(0, desc="Finding the 9 test images that excite each channel most")
        top = _top(ctx, pred, layer)
        split, dataset = test_sample(ctx, pred, TOP_FROM)
        pics = visualise(pred, layer, channels, progress=lambda f: progress(f, desc="Growing each picture from noise"))
    items = [(_side_by_side(pics[i], split.images[top[c]]), f"channel {c}") for i, c in enumerate(channels)]
    note = (
        f"**{md(layer)}** of {md(pred.describe())}: left, the image grown from noise that excites each channel"
        f" most; right, the 9 of {len(split):,} {md(dataset)} test images (a fixed sample) that excite it most."
    )
    return values(note=note, gallery=items)


@friendly
def layer_choices(ctx: AppContext, which, draw_path, photo_path) -> gr.Dropdown:
    """The model's convolution layers, the second one chosen (its patterns are more than edges)."""
    names = [f"{n}" for n, _c in conv_layers(model_for(ctx, which, draw_path, photo_path).model)]
    return gr.Dropdown(choices=names, value=names[min(1, len(names) - 1)] if names else None)


def build(ctx: AppContext, which: gr.Radio, draw_model: gr.State, photo_model: gr.State, tab: gr.Tab) -> None:
    """The panel's layout (call inside the Inside tab) and its events."""
    with gr.Accordion("What each channel looks for", open=True, elem_id="channels"):
        with gr.Row():
            layer = gr.Dropdown([], label="Convolution layer", elem_id="channels-layer")
            text = gr.Textbox(
                "", label=f"Channels (e.g. 0-15 or 3, 7, 12; up to {MAX_CHANNELS})", elem_id="channels-pick"
            )
            go = gr.Button("Show what they look for", variant="primary", elem_id="channels-show")
        note = gr.Markdown(elem_id="channels-note")
        gallery = gr.Gallery(
            label="Each channel", columns=4, height="auto", object_fit="contain", elem_id="channels-gallery"
        )
    outputs = dict(note=note, gallery=gallery)
    private = dict(api_visibility="private")
    go.click(
        bind(show, ctx),
        [which, layer, text, draw_model, photo_model],
        [outputs[k] for k in OUTPUTS],
        **private,
        **PREDICT,
    )
    fill = dict(fn=bind(layer_choices, ctx), inputs=[which, draw_model, photo_model], outputs=layer, **private)
    which.change(**fill)
    tab.select(**fill)
