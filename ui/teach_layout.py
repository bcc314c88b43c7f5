"""The Teach tab's layout: its components by name, top to bottom as the page shows them, one small
builder a panel (ui/teach_tab.py wires them to its handlers)."""

from __future__ import annotations

import gradio as gr

from cnn.projects import KINDS

from . import augment_panel, teach_canvas
from .common import AppContext, raw_upload
from .teach_view import choices

START = ("Fine-tune the shipped model", "From scratch")
# Opening or creating a project greys out #teach-work until the page shows it (ui/static/teach.js,
# opening): a click there meanwhile would act on the project shown before. OPENING is the js hook of
# the event that opens one (it passes the event's inputs on), OPENED the hook of its .then.
OPENING = "(...inputs) => { window.cnnTeach?.opening(true); return inputs; }"
OPENED = "() => { window.cnnTeach?.opening(false); }"


def layout(ctx: AppContext) -> dict:
    c = {}
    gr.Markdown(
        "Teach a model your own classes: a few examples of each (10 are plenty to start), then "
        "Train. Drawings fine-tune the digit model, photos the CIFAR-10 model, in seconds."
    )
    c.update(_projects(ctx))
    with gr.Column(elem_id="teach-work"):  # greyed out while a project opens (OPENING)
        for panel in (_classes, _new_examples, _examples, _training, _results, _project_file):
            c.update(panel(ctx))
    c.update(teach_canvas.carriers())
    return c


def _projects(ctx: AppContext) -> dict:
    c = {}
    with gr.Row():
        mine = [] if ctx.logins else choices(ctx)  # with logins each page gets its user's list (tab.select)
        c["choose"] = gr.Dropdown(mine, value=None, label="Open a project", elem_id="teach-project")
        c["new_name"] = gr.Textbox(label="New project name", placeholder="e.g. My shapes", elem_id="teach-new-name")
        c["kind"] = gr.Radio(list(KINDS), value="drawings", label="It holds", elem_id="teach-kind")
        c["create"] = gr.Button("Create project", elem_id="teach-create")
    c["summary"] = gr.Markdown("No project open.", elem_id="teach-summary")
    c["overview"] = gr.Image(
        label="Classes (newest example, count)", interactive=False, height=170, buttons=[], elem_id="teach-overview"
    )
    return c


def _classes(ctx: AppContext) -> dict:
    c = {}
    with gr.Row():
        c["class_pick"] = gr.Dropdown([], label="Class", elem_id="teach-class")
        c["new_class"] = gr.Textbox(label="New class", placeholder="any name", elem_id="teach-new-class")
        c["add_class"] = gr.Button("Add class", elem_id="teach-add-class")
    return c


def _new_examples(ctx: AppContext) -> dict:
    """The canvas (drawings projects) beside what the model sees, a picture and many files."""
    c = {}
    with gr.Row():
        with gr.Column():
            with gr.Column() as c["drawing_area"]:  # shown for a drawings project
                c["canvas"] = teach_canvas.build()
                c["add_btn"] = gr.Button("Add to the class", variant="primary", interactive=False, elem_id="teach-add")
        with gr.Column():
            c["seen"] = gr.Image(
                label="What the model sees",
                interactive=False,
                height=180,
                elem_classes="pixelated",
                elem_id="teach-seen",
            )
            c["picture"] = raw_upload(
                gr.Image(
                    label="Or a picture (upload, webcam or paste)",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "webcam", "clipboard"],
                    height=200,
                    elem_id="teach-picture",
                )
            )
            c["add_picture"] = gr.Button("Add the picture", elem_id="teach-add-picture")
            c["upload"] = gr.File(
                label="Add many images to the class, or a .zip of class folders",
                file_count="multiple",
                file_types=["image", ".zip"],
                elem_id="teach-files",
            )
    return c


def _examples(ctx: AppContext) -> dict:
    c = {}
    c["examples"] = gr.Gallery(
        label="The class's examples (click one to remove it)",
        columns=10,
        height=220,
        object_fit="contain",
        allow_preview=False,
        elem_id="teach-examples",
    )
    with gr.Row():
        c["remove"] = gr.Button("Remove the clicked example", size="sm")
        c["rename_to"] = gr.Textbox(label="Rename the class to", scale=2)
        c["rename"] = gr.Button("Rename", size="sm")
        c["sure_class"] = gr.Checkbox(label="Yes, delete")
        c["delete_class"] = gr.Button("Delete the class", size="sm", variant="stop")
    return c


def _training(ctx: AppContext) -> dict:
    c = {"augment": augment_panel.build("teach_drawings", "teach")}  # on the project's own examples
    with gr.Row():
        c["start_from"] = gr.Radio(list(START), value=START[0], label="Start from", elem_id="teach-start-from")
        c["train"] = gr.Button("Train", variant="primary", elem_id="teach-train")
    c["status"] = gr.Markdown("", elem_id="teach-status")
    c["result"] = gr.Markdown("", elem_id="teach-result")
    with gr.Row():
        c["to_draw"] = gr.Button("Use in the Draw tab", visible=False, elem_id="teach-to-draw")
        c["to_photo"] = gr.Button("Use in the Photo tab", visible=False, elem_id="teach-to-photo")
        c["download"] = gr.File(label="The trained checkpoint", interactive=False, elem_id="teach-download")
    return c


def _results(ctx: AppContext) -> dict:
    c = {}
    with gr.Row():  # headings above, as the Train tab's: a label badge would hide the matrix's own
        with gr.Column():
            gr.Markdown("**Held-out examples**: rows are the true class, columns the predicted one.")
            c["confusion"] = gr.Image(show_label=False, interactive=False, elem_id="teach-confusion")
        with gr.Column():
            gr.Markdown("**Held-out examples it got wrong**: true class, taken for the predicted one.")
            c["wrong"] = gr.Gallery(
                show_label=False, columns=4, height=260, fit_columns=False, object_fit="contain", elem_id="teach-wrong"
            )  # one stays a thumbnail
    return c


def _project_file(ctx: AppContext) -> dict:
    c = {}
    with gr.Accordion("Project file: export, delete", open=False):
        with gr.Row():
            c["export"] = gr.Button("Export as .zip")
            c["export_file"] = gr.File(label="Project .zip (kept for an hour)", interactive=False)
            c["sure_project"] = gr.Checkbox(label="Yes, delete this project and all its examples")
            c["delete_project"] = gr.Button("Delete project", variant="stop")
    return c
