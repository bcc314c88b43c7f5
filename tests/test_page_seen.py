"""Issue 36 in a real browser (1280 px): under "What the model saw", a line says that the
preparation thickened the strokes of a drawing made large with the Draw tab's brush, and why; the
line is whole on the screen. Saves .scratch/screenshots/seen.png. (On the 390 px phone emulation a
touch stroke drawn here got no answer within 150 s in this session: not yet understood.)"""

from __future__ import annotations

import pytest
from app_helpers import screenshot_dir
from page_helpers import app_page, draw_shape, wait_brush

from cnn.serving.digits import THICKENED


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as pg:
        yield pg


def test_what_the_model_saw_says_the_strokes_were_thickened(page):
    wait_brush(page, "sketch")
    draw_shape(page, "sketch", [[(0.5, 0.12), (0.5, 0.95)]], side=600)  # a 1 nearly as tall as the canvas
    line = page.locator("#digit-strokes")
    page.wait_for_function(
        "() => document.querySelector('#digit-strokes').innerText.includes('thickened')", timeout=150_000
    )
    assert line.inner_text().strip() == THICKENED
    line.scroll_into_view_if_needed()
    b = line.bounding_box()
    assert b["x"] >= 0 and b["x"] + b["width"] <= page.viewport_size["width"]  # whole on the screen
    assert line.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # nothing cut off
    page.screenshot(path=str(screenshot_dir() / "seen.png"))
