"""A page opened from a share link (ui/design_share.py): the Train tab, with the design open in the
layer editor and every setting Start uses filled in (data set, model, recipe, epochs, batch size,
learning rate, optimizer, the quick run's sizes). Anything wrong in the link is said, and the rest
of the page works."""

from __future__ import annotations

import json

import gradio as gr

from cnn.training.recipes import get_recipe

from .design_outputs import OUTPUTS, answer
from .design_share import LINK_KEYS, read_link
from .design_start import MODEL

# What a link fills besides the editor: Start's settings (train_settings' names) and the editor's box.
FILLED = ("dataset", "folder", "model", "recipe", "epochs", "batch", "lr", "optimizer", "train_n", "test_n")


def from_link(query: dict) -> dict:
    """What a page opened with this query fills in, by name: the editor's outputs (design_outputs),
    FILLED and `box` (the editor, opened); {} without a link. (The page opens the Train tab itself:
    OPEN_TRAIN_TAB.)"""
    if not LINK_KEYS & set(query):
        return {}
    link = read_link(query)
    if link.problems:
        gr.Warning("Part of this link could not be used: " + "; ".join(link.problems) + ".", duration=10)
    r = get_recipe(link.recipe) if link.recipe else None
    out = {}
    if link.dataset_choice:
        out.update(dataset=link.dataset_choice, folder=gr.Textbox(visible=False))
    if link.recipe:
        out.update(recipe=link.recipe, epochs=r.epochs, batch=r.batch_size, lr=r.lr, optimizer=r.optimizer)
    for name in ("epochs", "batch", "lr", "optimizer"):
        if getattr(link, name) is not None:
            out[name] = getattr(link, name)
    for name in ("train_n", "test_n"):
        if getattr(link, name) is not None:
            out[name] = str(getattr(link, name))
    if link.design is not None:
        out.update(model=MODEL, box=gr.Accordion(open=True))
        out.update(
            answer(link.design, 0 if link.design else None, link.dataset_choice or "MNIST", out.get("batch", 64))
        )
    return out


# A page opened from a link shows the Train tab: clicked by the page (ui/static/page.js), not sent as
# gr.Tabs(selected=) by the load event, which would make every later event of the page re-read (and
# the Draw tab re-upload) every component (page.js says why).
OPEN_TRAIN_TAB = f"() => window.cnnPage?.openTabForQuery({json.dumps(sorted(LINK_KEYS))}, 'train')"


def wire(page: gr.Blocks, editor, settings, box: gr.Accordion) -> None:
    """Fill a share link in when the page opens, and open the Train tab (call while the page is built;
    settings: the Train tab's, a train_settings.TrainSettings)."""
    by_name = {name: getattr(settings, name) for name in FILLED} | {"box": box}
    by_name |= {name: c for name, c in zip(OUTPUTS, editor.outputs(), strict=True)}

    def on_load(request: gr.Request):
        query = dict(getattr(request, "query_params", {}) or {}) if request is not None else {}
        filled = from_link(query)
        return {c: filled.get(k, gr.skip()) for k, c in by_name.items()}  # (Gradio wants every output)

    page.load(on_load, None, list(by_name.values()), api_visibility="private", show_progress="hidden").then(
        None, None, None, js=OPEN_TRAIN_TAB, queue=False, api_visibility="private"
    )
