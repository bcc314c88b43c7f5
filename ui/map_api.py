"""/embedding: the map of what a run learned (the Runs tab's map) as data: the 2-D coordinates of n
test images' penultimate features, their classes and the model's predictions.

    client.predict(run="shipped/mnist", n=2000, method="pca", api_name="/embedding")

Only the asking person's own runs (and the shipped ones) can be mapped; n is bounded."""

from __future__ import annotations

import gradio as gr

from cnn.serving.embedding import DEFAULT_POINTS, knn_agreement

from .common import PREDICT, AppContext, bind, friendly
from .map_view import map_of


@friendly
def embedding(
    ctx: AppContext, run: str = "", n=DEFAULT_POINTS, method: str = "pca", request: gr.Request = None
) -> dict:
    """{run, method, n, classes, coords: [[x, y], ...], labels, predictions, knn_agreement}: labels and
    predictions are class indices into classes; run '' maps the shipped digit model."""
    m, _split, _pred, key = map_of(ctx, run, n, str(method or "pca").strip().lower(), request)
    return {
        "run": key,
        "method": m.method,
        "n": len(m.labels),
        "classes": m.classes,
        "coords": [[round(float(x), 4), round(float(y), 4)] for x, y in m.coords],
        "labels": m.labels.tolist(),
        "predictions": m.predictions.tolist(),
        "knn_agreement": round(knn_agreement(m.coords, m.labels), 4),
    }


def build(ctx: AppContext) -> None:
    """The endpoint, on hidden components (call inside the Blocks)."""
    with gr.Row(visible=False):
        inputs = [gr.Textbox("", label="run"), gr.Number(DEFAULT_POINTS, label="n"), gr.Textbox("pca", label="method")]
        out = gr.JSON(label="embedding")
        go = gr.Button("embedding")
    go.click(bind(embedding, ctx), inputs, out, api_name="embedding", **PREDICT)
