"""The "Inside the network" tab: the model's layers, the feature maps of each convolution, and
Grad-CAM and saliency for the predicted class, for the drawing or the photo of the other tabs."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import gradio as gr
import pandas as pd
import torch

from cnn.cpu_share import serving
from cnn.serving.decode import is_empty_editor
from cnn.serving.digits import prepare_digit
from cnn.serving.explain import explainer_for
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor
from cnn.serving.render import enlarge, feature_grid, overlay, to_pil

from . import channels_view
from .common import PREDICT, AppContext, best_guesses, bind, friendly, log, md

SUMMARY_COLUMNS = ["Layer", "Type", "Output shape", "Param #"]
MAPS_SHOWN = 16  # feature maps shown per layer
HINTS = {
    "Drawing": "Draw a digit in the Draw tab to see its feature maps.",
    "Photo": "Upload a photo in the Photo tab to see its feature maps.",
}


def model_input(
    ctx: AppContext, which: str, sketch, image, draw_path: str | None, photo_path: str | None
) -> tuple[Predictor, torch.Tensor | None]:
    """The model to look inside and its input (None when there is no drawing or photo yet)."""
    if which == "Drawing":
        pred = ctx.predictor(draw_path, "digit")
        r = None if is_empty_editor(sketch) else prepare_digit(sketch)
        return pred, None if r is None or r.image is None else pred.fit(r.image)
    pred = ctx.predictor(photo_path, "photo")
    c, h, _ = pred.input_shape
    return pred, None if image is None else prepare_photo(image, size=h, channels=c)[0]


def feature_maps(explainer, x: torch.Tensor) -> list[tuple]:
    """Gallery items: a grid of each convolution layer's maps (the first MAPS_SHOWN), with its name
    and sizes."""
    return [
        (
            feature_grid(m, MAPS_SHOWN),
            f"{name}: {m.shape[0]} maps of {m.shape[1]}x{m.shape[2]}"
            + (f", {MAPS_SHOWN} shown" if m.shape[0] > MAPS_SHOWN else ""),
        )
        for name, m in explainer.feature_maps(x)
    ]


def prediction_line(probs: dict[str, float], kind: str = "photo") -> str:
    """The prediction, or the two best guesses when no class stands out (as the Draw and Photo tabs:
    kind 'digit' or 'photo' picks the threshold)."""
    guesses = best_guesses(probs, kind)
    if guesses is None:
        top = max(probs, key=probs.get)
        return f"Prediction: **{md(top)}** ({probs[top]:.1%})."
    a, b = guesses
    return f"Prediction: **not sure**, maybe {md(a)} ({probs[a]:.1%}) or {md(b)} ({probs[b]:.1%})."


# The event's js hook stamps each ask with the page's clock (its first input, a hidden number) and
# asks for what the radio shows then: Gradio runs the hook later than it reads the inputs (opening the
# tab reads them, then waits for the tab to show), and a pick meanwhile would be answered first and
# then undone by the tab's older reading (ui/gradio_internals.py WORKAROUNDS).
ASKED = (
    "(asked, which, ...rest) => "
    "[Date.now(), document.querySelector('#inside-which input:checked')?.value ?? which, ...rest]"
)
OUTPUTS = 6  # text, summary, maps, model input, Grad-CAM, saliency


class NewestAsked:
    """Per page (Gradio's session), the page's time of the newest view it asked for. Opening the tab asks
    for the view of the radio's choice and a pick at once for the other's, as two events that run side
    by side; the drawing's first view is the slower, and came last: the page showed the digit model
    beside "Photo". An answer to an older ask is now dropped. At most `keep` pages are remembered."""

    def __init__(self, keep: int = 4096):
        self.keep, self._newest, self._lock = keep, OrderedDict(), threading.Lock()

    def ask(self, page: str, at: float) -> None:
        with self._lock:
            if at >= self._newest.get(page, -math.inf):
                self._newest[page] = at
                self._newest.move_to_end(page)
            while len(self._newest) > self.keep:
                self._newest.popitem(last=False)

    def outdated(self, page: str, at: float) -> bool:
        with self._lock:
            return at < self._newest.get(page, -math.inf)


_asks = NewestAsked()


def inside_view(ctx: AppContext, asked, which: str, sketch, image, draw_path, photo_path, request: gr.Request = None):
    """The tab's event: inside(), unless the page has asked for a newer view meanwhile (NewestAsked):
    then its outputs stay as the newer answer leaves them."""
    page = getattr(request, "session_hash", None)
    try:
        at = float(asked)
    except (TypeError, ValueError):
        at = math.nan
    if page is None or not math.isfinite(at):  # (no stamp: an API call; answered as asked)
        return inside(ctx, which, sketch, image, draw_path, photo_path)
    _asks.ask(page, at)
    if _asks.outdated(page, at):  # a newer ask came first: no model run for this one
        return (gr.skip(),) * OUTPUTS
    answer = inside(ctx, which, sketch, image, draw_path, photo_path)
    return (gr.skip(),) * OUTPUTS if _asks.outdated(page, at) else answer


@friendly
def inside(ctx: AppContext, which: str, sketch, image, draw_path: str | None, photo_path: str | None):
    """(text, summary table, feature maps, model input, Grad-CAM, saliency) for the drawing or photo."""
    with serving():  # a person is waiting: a training run in this process waits (cnn.cpu_share)
        return _inside(ctx, which, sketch, image, draw_path, photo_path)


def _inside(ctx: AppContext, which: str, sketch, image, draw_path: str | None, photo_path: str | None):
    pred, x = model_input(ctx, which, sketch, image, draw_path, photo_path)
    ex = explainer_for(pred)
    rows = pd.DataFrame(ex.summary_rows(), columns=SUMMARY_COLUMNS)
    total = sum(p.numel() for p in pred.model.parameters())
    head = f"**{md(pred.describe())}**: {total:,} parameters, input {pred.input_shape}."
    if x is None:
        return head + "\n\n" + HINTS[which if which in HINTS else "Photo"], rows, [], None, None, None
    probs = pred.predict(x)
    top = max(probs, key=probs.get)
    target = pred.classes.index(top)
    line = prediction_line(probs, "digit" if which == "Drawing" else "photo")
    text = head + f"\n\n{line} Grad-CAM and saliency are for **{md(top)}**."
    return (
        text,
        rows,
        feature_maps(ex, x),
        enlarge(to_pil(x)),
        overlay(x, ex.grad_cam(x, target)),
        overlay(x, ex.saliency(x, target)),
    )


def warm(ctx: AppContext) -> None:
    """Ready the shipped models' explainers, summaries and convolution kernels (a background thread
    at launch): the first Inside view then costs what the next ones do (bench/inside_tab.py)."""
    for where, what in (("draw", "digit"), ("photo", "photo")):
        try:
            pred = ctx.predictor(ctx.shipped(where), what)
            ex = explainer_for(pred)
            ex.summary_rows()
            x = torch.zeros((1, *pred.input_shape))
            ex.feature_maps(x)
            ex.grad_cam(x, 0)
        except Exception:  # a missing or damaged model: its tab says so when asked
            log.debug("no warm-up for the %s model", where, exc_info=True)


def build(ctx: AppContext, sketch: gr.Sketchpad, photo: gr.Image, draw_model: gr.State, photo_model: gr.State) -> None:
    """The tab's layout and events (call inside gr.Tabs): it looks at the Draw tab's sketch and the
    Photo tab's image, through the models those tabs use."""
    with gr.Tab("Inside", id="inside") as tab:  # a short name: every tab fits a phone's tab bar
        gr.Markdown("**Inside the network**: what each layer makes of the drawing or the photo.")
        with gr.Row():
            which = gr.Radio(
                ["Drawing", "Photo"], value="Drawing", label="Look inside the model for", elem_id="inside-which"
            )
            show = gr.Button("Show", variant="primary")
        text = gr.Markdown(elem_id="inside-text")
        with gr.Row():
            seen = gr.Image(label="Model input", interactive=False, height=224, elem_classes="pixelated")
            cam = gr.Image(label="Grad-CAM (last feature map)", interactive=False, height=224, elem_classes="pixelated")
            sal = gr.Image(
                label="Saliency (|d score / d pixel|)", interactive=False, height=224, elem_classes="pixelated"
            )
        # as tall as its grids (no inner scrolling); CSS in ui/app.py puts each caption under its grid
        maps = gr.Gallery(
            label=f"Feature maps of each convolution layer (up to {MAPS_SHOWN} per layer)",
            columns=4,
            height="auto",
            object_fit="contain",
            elem_id="inside-maps",
        )
        summary = gr.Dataframe(label="Model summary", interactive=False, wrap=True)
        channels_view.build(ctx, which, draw_model, photo_model, tab)
        asked = gr.Number(visible="hidden", elem_id="inside-asked")  # the page's time of each ask (ASKED)
    event = dict(
        fn=bind(inside_view, ctx),
        inputs=[asked, which, sketch, photo, draw_model, photo_model],
        outputs=[text, summary, maps, seen, cam, sal],
        js=ASKED,
        api_visibility="private",
        **PREDICT,
    )
    # each ask is for what the radio shows when it is sent (ASKED), and the newest ask's answer is the
    # one shown (inside_view); Show and the tab take no second ask while theirs is on its way
    show.click(**event)
    which.change(**event)
    tab.select(**event)
