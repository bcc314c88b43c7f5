"""The app on a phone (Playwright's mobile emulation: 390x844, touch): the drawing fills the width,
the top prediction is on the first screen with it, every tab is one tap away (no overflow menu), and
the Train tab's settings fold into groups. Saves .scratch/screenshots/phone-draw.png (and
docs/screenshots/phone.png when CNN_UPDATE_SCREENSHOTS=1: the suite leaves tracked files alone)."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from app_helpers import ROOT
from page_helpers import PHONE, app_page, draw_shape, image_box, open_tab, wait_brush

SCRATCH = ROOT / ".scratch" / "screenshots"
TABS = ["Draw", "Photo", "Train", "Teach", "Inside", "Runs"]
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)]]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory, screen=PHONE) as pg:
        yield pg


def test_draw_on_a_phone(page):
    wait_brush(page, "sketch")
    width = page.viewport_size["width"]
    box = image_box(page, "sketch", 600)
    # a line across the drawing, edge to edge (a finger dragged on past the editor scrolls the page)
    draw_shape(page, "sketch", [[(0.02, 0.85), (0.98, 0.85)]], side=600)  # (below the tool bar)
    page.wait_for_function("() => document.querySelector('#digit-label').innerText.includes('%')")
    ink = ink_span(page, box)
    # the page keeps 4 px a side on a phone (ui/app.py HEAD) and the editor spans the screen; Gradio's
    # editor fits the drawing 30 px inside its own box, so the drawing takes about 83% of the width
    assert page.locator("#sketch").bounding_box()["width"] >= 0.95 * width
    assert ink >= 0.78 * width, f"the drawing is {ink} px wide on a {width} px screen"
    page.locator("#sketch button[aria-label='Clear canvas']").click()
    wait_brush(page, "sketch")
    draw_shape(page, "sketch", SEVEN, side=600)
    page.wait_for_function("() => document.querySelector('#digit-label .output-class')?.innerText.trim() === '7'")
    head = page.locator("#digit-label .output-class").bounding_box()
    assert head["y"] + head["height"] <= page.viewport_size["height"], "the prediction is below the first screen"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    time.sleep(0.5)
    page.screenshot(path=str(SCRATCH / "phone-draw.png"))
    if os.environ.get("CNN_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(SCRATCH / "phone-draw.png", ROOT / "docs" / "screenshots" / "phone.png")


def ink_span(page, box) -> int:
    """How wide the ink is on screen (px) along the line drawn at 0.85 of the drawing's height."""
    import io

    import numpy as np
    from PIL import Image

    y = box["y"] + 0.85 * box["height"] - 10  # the band of the line (clear of the editor's tool bar)
    shot = page.screenshot(clip={"x": 0, "y": y, "width": page.viewport_size["width"], "height": 20})
    a = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
    scale = a.shape[1] / page.viewport_size["width"]  # device pixels per CSS pixel
    cols = np.flatnonzero((a < 60).any(0))
    assert cols.size, "no ink"
    return int((cols[-1] - cols[0] + 1) / scale)


def test_every_tab_is_one_tap_away(page):
    for name in TABS:
        tab = page.get_by_role("tab", name=name, exact=True)
        assert tab.is_visible(), f"the {name} tab is hidden (an overflow menu?)"
    for name in reversed(TABS):
        open_tab(page, name)
        assert page.get_by_role("tab", name=name, exact=True).get_attribute("aria-selected") == "true"
    open_tab(page, "Draw")


def test_train_settings_fold_into_groups(page):
    open_tab(page, "Train")
    groups = page.locator("#train-settings-data, #train-settings-training, #train-settings-more")
    assert groups.count() == 3
    before = page.evaluate("() => document.body.scrollHeight")
    for label in ("Data and model", "Epochs, batch size, learning rate"):
        page.locator(".label-wrap").filter(has_text=label).first.click()  # folded away
    time.sleep(0.5)
    assert page.evaluate("() => document.body.scrollHeight") < before
    open_tab(page, "Draw")
