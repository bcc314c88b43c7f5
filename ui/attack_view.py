"""Make it say N, under the Draw and Photo tabs: pick a class and the largest change allowed (epsilon),
press, and see the image the model saw, the changed image (as the model must see it: the image
component's download is that PNG at the model's input size), the change amplified with its size, and
the probabilities before and after; or "it held". The attack is cnn/serving/attack.py; /attack_digit
and /attack_photo (ui/probe_api.py) call `attack_image` too."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr
import torch

from cnn.cpu_share import serving
from cnn.errors import CnnError
from cnn.serving.attack import AttackResult, make_it_say, target_index
from cnn.serving.decode import is_empty_editor
from cnn.serving.digits import prepare_digit
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor
from cnn.serving.render import amplified_change, to_pil

from .common import PREDICT, AppContext, friendly, md

# The slider's start (0.3 for digits; 8/255 for photos, shown rounded: 0.0314 is still 8 levels of
# 255), its end (the API takes up to 1) and its step.
EPSILON = {"digit": 0.3, "photo": 0.0314}
EPSILON_MAX = {"digit": 0.5, "photo": 0.125}
EPSILON_STEP = {"digit": 0.01, "photo": 0.001}
EPSILON_WORDS = {
    "digit": "ε: the largest change of a pixel (0-1)",
    "photo": "ε: the largest change of a pixel (0-1; 8/255 = 0.0314)",
}
TOP = 3  # classes shown before and after


def seen_image(ctx: AppContext, kind: str, image, model_path: str | None) -> tuple[Predictor, torch.Tensor]:
    """(the model, the uint8 image it sees) for a drawing ('digit') or a photo, refused in words."""
    pred = ctx.predictor(model_path, kind)
    if kind == "digit":
        r = prepare_digit(image)
        if r.image is None:
            raise CnnError(r.message)
        return pred, pred.fit(r.image)
    c, h, _ = pred.input_shape
    return pred, prepare_photo(image, size=h, channels=c)[0]


def attack_image(ctx: AppContext, kind: str, image, model_path: str | None, target, epsilon) -> tuple:
    """(the model, the AttackResult) of Make it say `target` on a drawing or a photo."""
    with serving():  # a person waits: a training run in this process waits (cnn.cpu_share)
        pred, x = seen_image(ctx, kind, image, model_path)
        return pred, make_it_say(pred, x, target_index(pred.classes, target), epsilon)


def probabilities(pred: Predictor, p: torch.Tensor) -> dict[str, float]:
    return {name: float(v) for name, v in zip(pred.classes, p.tolist())}


def verdict(pred: Predictor, r: AttackResult, epsilon: float) -> str:
    """One line: it says N now (and how big the change is), or it held."""
    n, was = md(pred.classes[r.target]), md(pred.classes[int(r.before.argmax())])
    if r.success and r.linf == 0:
        return f"It already says **{n}**: nothing to change."
    if r.success:
        return (
            f"**It says {n} now** (it said {was}). The largest change of any pixel is **{r.linf:.3f}** "
            f"(of 1; ε = {epsilon:.3f}), found in {r.steps} steps, {r.seconds:.2f} s. The changed image's "
            "download is the PNG the model reads as it is."
        )
    return (
        f"**It held**: no change of at most ε = {epsilon:.3f} per pixel that we found makes it say {n} "
        f"({r.steps} steps, {r.seconds:.2f} s). It still says {md(pred.classes[int(r.after.argmax())])}. "
        "Try a larger ε."
    )


@dataclass
class AttackPanel:
    target: gr.Dropdown
    epsilon: gr.Slider
    button: gr.Button
    note: gr.Markdown
    seen: gr.Image
    changed: gr.Image
    change: gr.Image
    before: gr.Label
    after: gr.Label

    def shown(self, **by_name) -> dict:
        """{component: value} for the outputs named (Gradio leaves the others as they are)."""
        return {getattr(self, name): value for name, value in by_name.items()}

    @property
    def outputs(self) -> list:
        """Every output of an attack (the note and the pictures and probabilities)."""
        return [self.note, self.seen, self.changed, self.change, self.before, self.after]


def result_view(pred: Predictor, r: AttackResult, epsilon: float) -> dict:
    """The panel's outputs by name."""
    return dict(
        note=verdict(pred, r, float(epsilon)),
        seen=to_pil(r.seen),
        changed=to_pil(r.changed),
        change=gr.Image(amplified_change(r.seen, r.changed), label=f"The change, amplified (largest {r.linf:.3f})"),
        before=probabilities(pred, r.before),
        after=probabilities(pred, r.after),
    )


@friendly
def attack(ctx: AppContext, kind: str, panel: AttackPanel, image, model_path, target, epsilon) -> dict:
    if image is None or (kind == "digit" and is_empty_editor(image)):
        raise CnnError("Draw a digit first." if kind == "digit" else "Give it a photo first.")
    pred, r = attack_image(ctx, kind, image, model_path, target, epsilon)
    return panel.shown(**result_view(pred, r, float(epsilon)))


def classes_of(ctx: AppContext, kind: str, model_path: str | None) -> list[str]:
    try:
        return ctx.predictor(model_path, kind).classes
    except CnnError:
        return []


@friendly
def new_model(ctx: AppContext, kind: str, panel: AttackPanel, model_path: str | None) -> dict:
    """The tab's model changed: its classes to pick from; the last result goes (another model's)."""
    classes = classes_of(ctx, kind, model_path)
    first = classes[min(3, len(classes) - 1)] if classes else None
    cleared = {name: None for name in ("seen", "changed", "change", "before", "after")}
    return panel.shown(target=gr.Dropdown(choices=classes, value=first), note="", **cleared)


def build(ctx: AppContext, kind: str, source, model: gr.State) -> AttackPanel:
    """The panel under a tab's prediction (call inside the tab); source is its sketchpad or photo."""
    classes = classes_of(ctx, kind, ctx.shipped("draw" if kind == "digit" else "photo"))
    first = classes[min(3, len(classes) - 1)] if classes else None
    pid = f"{kind}-attack"
    with gr.Accordion("Make it say N: the smallest change that fools the model", open=kind == "digit"):
        with gr.Row(equal_height=True):
            target = gr.Dropdown(classes, value=first, label="Make it say", elem_id=f"{pid}-target", scale=1)
            epsilon = gr.Slider(
                0, EPSILON_MAX[kind], EPSILON[kind], step=EPSILON_STEP[kind], label=EPSILON_WORDS[kind],
                elem_id=f"{pid}-eps", scale=2,
            )  # fmt: skip
            button = gr.Button(f"Make it say {first}", variant="primary", elem_id=f"{pid}-go", scale=1)
        note = gr.Markdown("", elem_id=f"{pid}-note")
        with gr.Row():
            pics = dict(interactive=False, height=180, elem_classes=["pixelated", "fill-pic"], format="png")
            seen = gr.Image(label="What it saw", elem_id=f"{pid}-seen", **pics)
            changed = gr.Image(label="Changed", elem_id=f"{pid}-changed", **pics)
            change = gr.Image(label="The change, amplified", elem_id=f"{pid}-change", **pics)
        with gr.Row():
            before = gr.Label(num_top_classes=TOP, label="Before", elem_id=f"{pid}-before")
            after = gr.Label(num_top_classes=TOP, label="After", elem_id=f"{pid}-after")
    panel = AttackPanel(target, epsilon, button, note, seen, changed, change, before, after)
    private = dict(api_visibility="private")
    button.click(
        functools.partial(attack, ctx, kind, panel), [source, model, target, epsilon], panel.outputs,
        **private, **PREDICT,
    )  # fmt: skip
    target.change(lambda t: gr.Button(f"Make it say {t}"), target, button, **private)
    model.change(functools.partial(new_model, ctx, kind, panel), model, [target, *panel.outputs], **private)
    return panel
