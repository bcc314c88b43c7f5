"""The Teach tab's drawing canvas: a plain HTML canvas, drawn by the page (ui/static/teach.js), and
the hidden parts that carry its drawing to the server.

Why not Gradio's Sketchpad: its value is composed asynchronously and its Clear is asynchronous too,
so a drawing begun right after "Add" was lost or merged (issue 36). Here the page copies and empties
the canvas in the click itself (teach.js, in the click's capture phase: Gradio runs an event's js hook
only after awaiting its own work, and on a slowed page the next stroke could land first), the add
event's js hook (TAKE) collects the drawings in click order and sends each PNG as a data URL, and the
server decodes it within cnn.serving.decode's limits. Saving happens behind the person: several adds
may be on their way at once (trigger_mode="multiple"), each with the class picked at its click."""

from __future__ import annotations

import gradio as gr

SIDE = 420  # the drawing's pixels (teach.js SIDE)
CANVAS = f"""<div class="teach-pad">
<div class="teach-tools" role="toolbar" aria-label="Canvas">
<button type="button" data-tool="brush" aria-label="Brush" aria-pressed="true">✏️ Brush</button>
<button type="button" data-tool="undo" aria-label="Undo">↶ Undo</button>
<button type="button" data-tool="clear" aria-label="Clear canvas">Clear</button>
</div>
<canvas width="{SIDE}" height="{SIDE}" aria-label="Draw an example here"></canvas>
<div class="teach-saving" aria-live="polite"></div>
</div>"""
CSS = """
.teach-tools { display: flex; gap: 6px; margin-bottom: 6px; }
.teach-tools button { padding: 4px 10px; border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--button-secondary-background-fill); color: var(--body-text-color); font-size: 0.9em;
  font-weight: normal; line-height: 1.4; }
.teach-tools button[aria-pressed=true] { border-color: var(--color-accent); }
.teach-pad canvas { display: block; width: 100%; max-width: 420px; aspect-ratio: 1; background: #fff;
  border: 1px solid var(--border-color-primary); border-radius: 6px; touch-action: none; cursor: crosshair; }
.teach-saving { min-height: 1.4em; font-size: 0.9em; color: var(--body-text-color-subdued); }
"""
# js hooks of the events (their first input is the hidden drawing box; the page fills it)
TAKE = "(drawing, ...rest) => [window.cnnTeach ? window.cnnTeach.collect() : '', ...rest]"
PEEK = "(drawing, ...rest) => [window.cnnTeach ? window.cnnTeach.peek() : '', ...rest]"
SAVED = "() => { window.cnnTeach && window.cnnTeach.saved(); }"


def build() -> gr.HTML:
    """The canvas, under its heading."""
    gr.Markdown("**Draw an example**")
    return gr.HTML(CANVAS, css_template=CSS, js_on_load=None, elem_id="teach-sketch", padding=False)


def carriers() -> dict:
    """Its hidden carriers, by name: `drawing` (the PNG data URL an event's js hook puts in) and `look`
    (clicked by the page when the hand rests: what the model sees). Outside any container the tab
    shows and hides: a container made visible shows its hidden children too (Gradio 6.31)."""
    return dict(
        drawing=gr.Textbox(visible="hidden", elem_id="teach-drawing"),
        look=gr.Button("Look", visible="hidden", elem_id="teach-look"),
    )
