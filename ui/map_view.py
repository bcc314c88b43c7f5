"""The Runs tab's "A map of what it learned" panel: the chosen run's penultimate features of 2,000
test images on a 2-D map (cnn.serving.embedding), coloured by class, mistakes ringed. Hovering a
point shows its image; clicking it opens the image's prediction and Grad-CAM.

The map is an SVG in a gr.HTML: Gradio 6's ScatterPlot shows only data fields on hover and its
select event is an x-range brush, not a point. The images travel once, as one sprite sheet."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from cnn.cpu_share import serving
from cnn.errors import CnnError
from cnn.run_index import SHIPPED
from cnn.serving.embedding import DEFAULT_POINTS, MAX_POINTS, METHODS, FeatureMap, feature_map, knn_agreement
from cnn.serving.explain import explainer_for
from cnn.serving.predictor import Predictor, cached_predictor
from cnn.serving.render import enlarge, overlay, to_pil

from . import outputs
from .common import PREDICT, AppContext, bind, friendly, md
from .probe_data import test_sample

METHOD_NAMES = {"PCA (fast)": "pca", "t-SNE (keeps neighbours together)": "tsne"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
SIDE = 520  # the map's drawing units (it scales to its box)
THUMB = 84  # a hovered image's size on the page
OUTPUTS = ("map", "note", "point", "cam", "about")  # what drawing the map updates
CLICKED = ("point", "cam", "about")  # what clicking a point updates


def values(names: tuple = OUTPUTS, **by_name) -> tuple:
    """Values for the outputs `names`, in their order; an output not named is left as it is."""
    return outputs.values(names, "map", **by_name)


def map_of(ctx: AppContext, key: str, n, method: str, request) -> tuple[FeatureMap, object, Predictor, str]:
    """(the map, its test images, the predictor, the run's key) for the asking person's run `key`
    ('' for the shipped digit model), n test images (a fixed sample), by 'pca' or 'tsne'."""
    key = str(key or "").strip() or f"{SHIPPED}{Path(ctx.draw_checkpoint).stem}"
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise CnnError(f"n must be a whole number of images, from 10 to {MAX_POINTS:,}.") from None
    if not 10 <= n <= MAX_POINTS:
        raise CnnError(f"n must be from 10 to {MAX_POINTS:,} images, not {n:,}.")
    if method not in METHODS:
        raise CnnError(f"method must be one of {', '.join(METHODS)}, not {str(method)[:40]!r}.")
    e = ctx.usable_run(key, " to map", request=request)
    pred = cached_predictor(str(e.checkpoint))
    split, dataset = test_sample(ctx, pred, n)
    with serving():
        return feature_map(str(e.checkpoint), pred, split, dataset, method), split, pred, e.key


def _sprite(images) -> tuple[str, int]:
    """All the images as one sheet (a data: URL) and its number of columns."""
    n, c, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    sheet = Image.new("L" if c == 1 else "RGB", (cols * w, math.ceil(n / cols) * h))
    for i in range(n):
        sheet.paste(to_pil(images[i]), ((i % cols) * w, (i // cols) * h))
    buf = io.BytesIO()
    sheet.save(buf, "PNG" if c == 1 else "JPEG", quality=88)
    kind = "png" if c == 1 else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(buf.getvalue()).decode()}", cols


def map_html(m: FeatureMap, images) -> str:
    """The map as an SVG, a legend and the hover box (filled by MAP_JS)."""
    lo, hi = m.coords.min(0), m.coords.max(0)
    xy = (m.coords - lo) / np.where(hi > lo, hi - lo, 1) * (SIDE - 20) + 10
    dots, mistakes = [], m.mistakes
    for i in np.argsort(mistakes, kind="stable"):  # the mistakes painted last (SVG's order): on top
        (x, y), wrong = xy[i], bool(mistakes[i])
        ring = ' stroke="#000" stroke-width="1.6"' if wrong else ""
        dots.append(
            f'<circle cx="{x:.1f}" cy="{SIDE - y:.1f}" r="{4.2 if wrong else 2.6}" '
            f'fill="{PALETTE[int(m.labels[i]) % 10]}"{ring} data-i="{i}"/>'
        )
    url, cols = _sprite(images)
    legend = " ".join(
        f'<span><b style="color:{PALETTE[k % 10]}">●</b> {html.escape(c)}</span>' for k, c in enumerate(m.classes)
    )
    meta = html.escape(
        json.dumps({"classes": m.classes, "cols": cols, "t": m.labels.tolist(), "p": m.predictions.tolist()})
    )
    return (
        f'<div class="map-legend">{legend} <span>◯ ringed: a mistake</span></div>'
        f'<div class="map-wrap" data-meta="{meta}" data-sprite="{url}">'
        f'<svg viewBox="0 0 {SIDE} {SIDE}" class="map-svg" role="img" aria-label="map">{"".join(dots)}</svg>'
        f'<div class="map-tip" hidden><div class="map-thumb"></div><div class="map-tip-text"></div></div></div>'
    )


MAP_CSS = f"""
.map-legend span {{ margin-right: 10px; white-space: nowrap; }}
.map-wrap {{ position: relative; max-width: 640px; }}
.map-svg {{ width: 100%; height: auto; background: #fff; border: 1px solid #ddd; }}
.map-svg circle {{ cursor: pointer; }}
@media (pointer: coarse) {{ .map-svg circle {{ r: 5px; }} }}  /* a finger needs a bigger dot */
.map-tip {{ position: absolute; pointer-events: none; background: #fff; border: 1px solid #888;
  padding: 4px; font-size: 12px; z-index: 10; }}
.map-thumb {{ width: {THUMB}px; height: {THUMB}px; image-rendering: pixelated; }}
"""

# Hover: the point's image from the sprite sheet and its classes; click: the point's index to Python.
MAP_JS = f"""
element.addEventListener('mouseover', (e) => {{
  const i = e.target.dataset ? e.target.dataset.i : undefined;
  const wrap = element.querySelector('.map-wrap'); const tip = element.querySelector('.map-tip');
  if (i === undefined || !wrap) {{ if (tip) tip.hidden = true; return; }}
  const m = JSON.parse(wrap.dataset.meta); const k = +i; const s = {THUMB};
  const th = tip.querySelector('.map-thumb');
  th.style.backgroundImage = 'url(' + wrap.dataset.sprite + ')';
  th.style.backgroundSize = (m.cols * s) + 'px auto';
  th.style.backgroundPosition = (-(k % m.cols) * s) + 'px ' + (-Math.floor(k / m.cols) * s) + 'px';
  tip.querySelector('.map-tip-text').textContent =
    '#' + k + ': ' + m.classes[m.t[k]] + (m.t[k] === m.p[k] ? '' : ', taken for ' + m.classes[m.p[k]]);
  const r = wrap.getBoundingClientRect();
  tip.style.left = Math.min(e.clientX - r.left + 12, r.width - s - 12) + 'px';
  tip.style.top = (e.clientY - r.top + 12) + 'px'; tip.hidden = false;
}});
element.addEventListener('mouseout', () => {{
  const tip = element.querySelector('.map-tip'); if (tip) tip.hidden = true;
}});
element.addEventListener('click', (e) => {{
  const i = e.target.dataset ? e.target.dataset.i : undefined;
  if (i !== undefined) trigger('click', {{index: +i}});
}});
"""


@friendly
def draw_map(ctx: AppContext, key, method_name, n, request: gr.Request = None) -> dict:
    """The chosen run's map and a note: what it shows and how well it keeps the classes apart."""
    if not key:
        raise CnnError("Choose a run above first.")
    m, split, _pred, key = map_of(ctx, key, n, METHOD_NAMES.get(method_name, "pca"), request)
    wrong = int(m.mistakes.sum())
    note = (
        f"**{md(key)}**: {len(m.labels):,} test images (a fixed sample) by {method_name.split(' (')[0]}, "
        f"{wrong} mistakes ringed; {knn_agreement(m.coords, m.labels):.0%} of them have mostly their own class "
        "among their 5 nearest neighbours on the map. Hover a point to see its image; click it for its prediction "
        "and Grad-CAM."
    )
    return values(map=map_html(m, split.images), note=note, point=None, cam=None, about="")


@friendly
def open_point(ctx: AppContext, key, method_name, n, evt: gr.EventData, request: gr.Request = None) -> dict:
    """A clicked point: its image, Grad-CAM for the predicted class, and the model's answer."""
    index = getattr(evt, "index", None)  # what MAP_JS sent: the point's number, checked below
    m, split, pred, _key = map_of(ctx, key, n, METHOD_NAMES.get(method_name, "pca"), request)
    if not isinstance(index, int) or not 0 <= index < len(m.labels):
        raise CnnError("Click a point of the map.")
    x = split.images[index]
    with serving():
        probs = pred.predict(x)
        top = max(probs, key=probs.get)
        cam = overlay(x, explainer_for(pred).grad_cam(x, pred.classes.index(top)))
    true = m.classes[int(m.labels[index])]
    about = (
        f"Test image #{index}: a **{md(true)}**; the model says **{md(top)}** ({probs[top]:.1%})"
        + ("." if top == true else f", a mistake (it gives {md(true)} {probs[true]:.1%}).")
        + f" Grad-CAM for {md(top)}."
    )
    return values(CLICKED, point=enlarge(to_pil(x)), cam=cam, about=about)


def build(ctx: AppContext, chosen: gr.Dropdown) -> None:
    """The panel (call inside the Runs tab): it maps the run chosen in `chosen`."""
    with gr.Accordion("A map of what it learned", open=False, elem_id="map"):
        with gr.Row():
            method = gr.Radio(list(METHOD_NAMES), value="PCA (fast)", label="Map by", elem_id="map-method")
            n = gr.Number(DEFAULT_POINTS, label="Test images", minimum=10, maximum=MAX_POINTS, precision=0)
            go = gr.Button("Draw the map of the chosen run", variant="primary", elem_id="map-draw")
        note = gr.Markdown(elem_id="map-note")
        with gr.Row():
            with gr.Column(scale=3, min_width=330):  # a phone's row wraps: the clicked image goes below
                shown = gr.HTML("", js_on_load=MAP_JS, css_template=MAP_CSS, elem_id="map-plot")
            with gr.Column(scale=1, min_width=240):
                point = gr.Image(label="Clicked image", interactive=False, height=224, elem_classes="pixelated")
                cam = gr.Image(label="Grad-CAM", interactive=False, height=224, elem_classes="pixelated")
                about = gr.Markdown(elem_id="map-about")
    outputs = dict(map=shown, note=note, point=point, cam=cam, about=about)
    private = dict(api_visibility="private", **PREDICT)
    go.click(bind(draw_map, ctx), [chosen, method, n], [outputs[k] for k in OUTPUTS], **private)
    shown.click(bind(open_point, ctx), [chosen, method, n], [outputs[k] for k in CLICKED], **private)
