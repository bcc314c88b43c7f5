"""The API of "Ask the model why": /attack_digit and /attack_photo (Make it say N, cnn/serving/attack.py).

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    result, seen, changed = client.predict(handle_file("seven.png"), target="3", epsilon=0.3, run="",
                                           api_name="/attack_digit")

`result` is {target, success, linf, epsilon, before, after, steps, seconds, message}; `seen` and
`changed` are PNG files at the model's input size (28x28 for the digit model): `changed`, fed straight
to the model (normalised, no preparation), gives `target` when `success` is true. `run` names the
person's own kept run, as in /predict_digit (ui/api.py checkpoint_of: only their own)."""

from __future__ import annotations

import gradio as gr

from cnn.errors import CnnError
from cnn.serving.attack import AttackResult, checked_epsilon
from cnn.serving.predictor import Predictor
from cnn.serving.render import to_pil

from . import outputs
from .attack_view import EPSILON, attack_image, probabilities, verdict
from .common import PREDICT, AppContext, bind, friendly, raw_upload

ATTACKED = ("result", "seen", "changed")  # what /attack_digit and /attack_photo answer


def answer(pred: Predictor, r: AttackResult, epsilon: float) -> tuple:
    """ATTACKED (the result dict, the image the model saw, the changed image) of one attack."""
    result = {
        "target": pred.classes[r.target],
        "target_index": r.target,
        "success": bool(r.success),
        "linf": r.linf,
        "epsilon": epsilon,
        "before": probabilities(pred, r.before),
        "after": probabilities(pred, r.after),
        "steps": r.steps,
        "seconds": round(r.seconds, 3),
        "message": verdict(pred, r, epsilon).replace("**", ""),
    }
    return outputs.values(ATTACKED, "attack", result=result, seen=to_pil(r.seen), changed=to_pil(r.changed))


def _attack(ctx: AppContext, checkpoint_of, kind: str, image, target, epsilon, run: str, request) -> tuple:
    if image is None:
        raise CnnError(f"No image was given. Send an image of a {'digit' if kind == 'digit' else 'photo'}.")
    if target is None or not str(target).strip():
        raise CnnError("Name a target: one of the model's classes, or its index.")
    eps = EPSILON[kind] if epsilon is None or epsilon == "" else checked_epsilon(epsilon)
    where = "draw" if kind == "digit" else "photo"
    path = checkpoint_of(ctx, run, request, kind) if run and str(run).strip() else ctx.shipped(where)
    if kind == "digit" and ctx.predictor(path, kind).input_shape[0] != 1:
        raise CnnError(f"The run {run} takes colour photos: attack it through /attack_photo.")
    pred, r = attack_image(ctx, kind, image, path, target, eps)
    return answer(pred, r, eps)


@friendly
def attack_digit(
    ctx: AppContext, checkpoint_of, image, target, epsilon=None, run: str = "", request: gr.Request = None
) -> tuple:
    """/attack_digit: Make it say `target` on a drawing, as the Draw tab prepares it."""
    return _attack(ctx, checkpoint_of, "digit", image, target, epsilon, run, request)


@friendly
def attack_photo(
    ctx: AppContext, checkpoint_of, image, target, epsilon=None, run: str = "", request: gr.Request = None
) -> tuple:
    """/attack_photo: Make it say `target` on a photo, as the Photo tab prepares it."""
    return _attack(ctx, checkpoint_of, "photo", image, target, epsilon, run, request)


def build(ctx: AppContext, checkpoint_of) -> None:
    """The endpoints, on hidden components (call inside the Blocks); checkpoint_of(ctx, run, request,
    what) is the predict endpoints' own check of whose run it is (ui/api.py)."""
    with gr.Row(visible=False):
        inputs = {
            kind: [
                raw_upload(gr.Image(type="filepath", image_mode=None, label="image")),
                gr.Textbox("", label="target"),
                gr.Number(None, label="epsilon"),
                gr.Textbox("", label="run"),
            ]
            for kind in ("digit", "photo")
        }
        answered = [  # ATTACKED
            gr.JSON(label="result"),
            gr.Image(type="pil", format="png", label="seen"),
            gr.Image(type="pil", format="png", label="changed"),
        ]
        buttons = {kind: gr.Button(f"attack_{kind}") for kind in inputs}

    for kind, fn in (("digit", attack_digit), ("photo", attack_photo)):
        buttons[kind].click(bind(fn, ctx, checkpoint_of), inputs[kind], answered, api_name=fn.__name__, **PREDICT)
