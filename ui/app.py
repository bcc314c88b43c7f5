"""The whole app: the tabs put together, the named API endpoints (ui/api.py), and the page's CSS and JS."""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr

from cnn.runs import RunManager

from . import api, downloads, draw_tab, inside_tab, photo_tab, runs_tab, teach_tab, teacher_tab, train_tab
from .common import AppContext
from .gradio_internals import attach
from .identity import Identity
from .refusals import refuse_gently

TITLE = "# CNN Playground\nDraw a digit, classify a photo, train a CNN, and look inside it."

# The Draw tab opens with the brush picked, so a person can draw at once.
PICK_BRUSH = """() => { const t0 = Date.now(); const pick = () => {
  const b = document.querySelector('#sketch button[aria-label="Brush"]');
  if (b) { b.click(); } else if (Date.now() - t0 < 15000) { setTimeout(pick, 200); } }; pick(); }"""
CSS = """
.pixelated img, #photo-in img { image-rendering: pixelated; }
#photo-in img { width: 100%; height: 100%; object-fit: contain; }
.fill-pic img { width: 100%; height: 100%; object-fit: contain; }
#train-progress progress { width: 100%; height: 14px; }
#live-panel .live-grid { display: grid; grid-template-columns: repeat(8, 1fr); gap: 6px; }
#live-panel .live-cell { margin: 0; border: 3px solid; border-radius: 6px; text-align: center; font-size: 12px; }
#live-panel .live-cell.right { border-color: #16a34a; }
#live-panel .live-cell.wrong { border-color: #dc2626; background: #fee2e2; }
#live-panel .live-cell img { width: 100%; image-rendering: pixelated; display: block; }
#live-panel .live-head { font-weight: 600; margin-bottom: 4px; }
/* the Teach tab while a project opens (ui/static/teach.js: opening) */
.cnn-teach-opening #teach-work { pointer-events: none; opacity: 0.5; }
/* a design that does not build: the picture and code it can no longer show, greyed (ui/design_outputs.py) */
.design-stale #design-picture, .design-stale #design-code { opacity: 0.35; filter: grayscale(1); }
#design-stale { border-left: 4px solid #d97706; padding-left: 8px; }
#inside-maps .grid-wrap { max-height: none; overflow-y: auto; padding-top: var(--size-8); }
#inside-maps .thumbnail-item { aspect-ratio: auto; height: auto; display: flex; flex-direction: column; }
#inside-maps .thumbnail-item > img { aspect-ratio: 1; height: auto; flex: none; }
#inside-maps .caption-label { position: static; max-width: none; white-space: normal; overflow: visible;
  border: none; border-top: 1px solid var(--border-color-primary); border-radius: 0; text-align: center; }
/* the galleries of test images: a caption ("#369: true 4, taken for 9") whole, under its image */
:is(#wrong-gallery, #teach-wrong, [id$=-cell-gallery]) .thumbnail-item { aspect-ratio: auto; height: auto;
  display: flex; flex-direction: column; }
:is(#wrong-gallery, #teach-wrong, [id$=-cell-gallery]) .thumbnail-item > img { aspect-ratio: 1; height: auto;
  flex: none; }
:is(#wrong-gallery, #teach-wrong, [id$=-cell-gallery]) .caption-label { position: static; max-width: none;
  white-space: normal; overflow: visible; text-overflow: clip; border: none; border-radius: 0; text-align: center;
  font-size: 12px; line-height: 1.25; }
"""
# A phone (tests/test_page_phone.py): the editor is shorter and the words above it smaller, so that
# the prediction shows on the first screen with the drawing (the tabs wrap onto a second row:
# gr.Tabs(overflow_behavior="wrap")).
CSS += """
@media (max-width: 640px) {
  #title h1 { font-size: 1.5em !important; margin-bottom: 0 !important; }
  #title p, #draw-about p { font-size: 12px !important; line-height: 1.35 !important; }
  #sketch { height: 400px !important; }
}
"""
# Gradio keeps 32 px a side around the whole page (.main.app); launch(css=) puts the app's CSS under
# .contain, inside it, so this rule goes into the page's head (launch(head=)). On a phone the page
# keeps 4 px a side and the drawing editor spans the screen (Gradio's editor fits the drawing 30 px
# inside its own box, so the drawing takes about 83% of the width).
HEAD = """<style>
@media (max-width: 640px) {
  .gradio-container .main.app { padding-left: 4px !important; padding-right: 4px !important; }
}
</style>"""
# The Teach tab's canvas script (ui/teach_tab.py) and the page's tab switching (ui/static/page.js),
# loaded once with the page.
HEAD += f"<script>{(Path(__file__).parent / 'static' / 'teach.js').read_text()}</script>"
HEAD += f"<script>{(Path(__file__).parent / 'static' / 'page.js').read_text()}</script>"


def build_app(
    mnist_checkpoint: str | Path,
    cifar_checkpoint: str | Path,
    runs: RunManager,
    upload_ttl: int = 120,
    logins: bool = False,
    identity: Identity | None = None,
    admins=(),
) -> gr.Blocks:
    """The whole app. Uploaded files are deleted from Gradio's cache upload_ttl seconds after
    they arrive (not at once: identical uploads share one cached file); the files the app offers for
    download are not in that cache (ui/downloads.py). logins: the app asks for a login, and each
    user's runs and projects are their own (AppContext); identity: per-browser mode (ui.identity);
    admins: the logins that see and stop every run (ui.teacher_tab)."""
    ctx = AppContext(runs, str(mnist_checkpoint), str(cifar_checkpoint), logins, identity, frozenset(admins))
    downloads.serve_in_place()  # downloads outlive the upload TTL: the run's life, or an hour for exports
    with gr.Blocks(title="CNN Playground", delete_cache=(max(1, upload_ttl // 2), upload_ttl)) as demo:
        draw_model = gr.State(ctx.shipped("draw"))
        photo_model = gr.State(ctx.shipped("photo"))
        gr.Markdown(TITLE, elem_id="title")
        owner = train_tab.owner_state()  # this browser's token: whose runs the page shows
        timer = train_tab.page_timer()  # the Train tab's pull, outside the tabs (it ticks on any tab)
        with gr.Tabs(overflow_behavior="wrap"):  # every tab one tap away on a phone, no "..." menu
            draw = draw_tab.build(ctx, draw_model)
            photo = photo_tab.build(ctx, photo_model)
            train, train_settings, editor = train_tab.build(ctx, draw, photo, owner, timer)
            teach_tab.build(ctx, draw, photo, owner)
            inside_tab.build(ctx, draw.sketch, photo.image, draw_model, photo_model)
            runs_tab.build(ctx, draw, photo, train_settings, editor)
            teacher_tab.build(ctx, demo)
        api.build(ctx)
        train_tab.on_load(demo, ctx, train, owner, timer)  # a (re)loaded page shows its run
        demo.load(None, None, None, js=PICK_BRUSH)
        draw.sketch.clear(None, None, None, js=PICK_BRUSH, api_visibility="private")
    refuse_gently(demo)  # a refusal is a warning that leaves the page as it was (ui/refusals.py)
    threading.Thread(target=inside_tab.warm, args=(ctx,), name="inside-warm-up", daemon=True).start()
    attach(demo, ctx)  # demo.ctx and demo.runs (ui/gradio_internals.py)
    return demo
