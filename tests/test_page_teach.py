"""Teach keeps exactly what was drawn, on a page slowed down (Chromium's CPU throttling, 4x): six
drawings per class, each drawn and added at once, each a known shape at its own place; then each
stored example is checked against its own drawing (its ink where that drawing was, and nothing of
the drawing before it), none twice, none lost."""

from __future__ import annotations

import math

import numpy as np
import pytest
from page_helpers import app_page, box, draw_shape, error_badges, open_tab, wait_brush
from PIL import Image

from cnn.projects import Project, list_projects

PER_CLASS = 6
BRUSH = 0.03  # the Teach brush (18 px of 420) as a fraction of the canvas, with room for smoothing


def circle(i: int) -> list:
    """A hexagon, each a little further down and right (few pointer moves: a throttled editor takes
    about a second a move on the 2-core VM)."""
    cx, cy, r = 0.3 + 0.08 * i, 0.3 + 0.08 * i, 0.12
    return [[(cx + r * math.cos(a * math.pi / 3), cy + r * math.sin(a * math.pi / 3)) for a in range(7)]]


def line(i: int) -> list:
    y = 0.15 + 0.14 * i
    return [[(0.25, y), (0.75, y)]]


SHAPES = {"circle": circle, "line": line}  # (two classes: at 4x, six drawings take about 2.5 minutes a class)


def expected_box(strokes: list) -> np.ndarray:
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    return np.array([min(xs), min(ys), max(xs), max(ys)])


def ink_box(path) -> np.ndarray:
    """The stored example's ink (dark opaque pixels: the canvas is stored on white) as (left, top,
    right, bottom) fractions of its size."""
    rgba = np.asarray(Image.open(path).convert("RGBA"))
    a = (rgba[..., 3] > 128) & (rgba[..., :3].mean(-1) < 128)
    ys, xs = np.nonzero(a)
    h, w = a.shape
    return np.array([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h])


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as pg:  # (slowed down for the drawing: see the test)
        yield pg


def summary_has(page, text: str, timeout: float = 300_000) -> None:
    try:
        page.wait_for_function(
            f"() => document.querySelector('#teach-summary').innerText.includes({text!r})", timeout=timeout
        )
    except Exception as e:  # say what the page shows instead
        shown = page.locator("#teach-summary").inner_text()
        toasts = page.evaluate("() => window.cnnMessages || []")
        raise AssertionError(f"{text!r} not in the summary: {shown!r}; messages: {toasts}") from e


# every message the page showed, kept (a toast goes away by itself), for a failure to say
KEEP_MESSAGES = """() => { window.cnnMessages = []; new MutationObserver(() => {
  for (const t of document.querySelectorAll('.toast-body')) {
    if (!t.dataset.kept) { t.dataset.kept = '1'; window.cnnMessages.push(t.innerText); } }
}).observe(document.body, {childList: true, subtree: true}); }"""


def test_quick_hands_on_a_slow_page_store_each_drawing_once_as_drawn(page):
    page.evaluate(KEEP_MESSAGES)
    open_tab(page, "Teach")
    box(page, "teach-new-name").fill("Quick hands")
    page.locator("#teach-create").click()
    summary_has(page, "Quick hands")
    for name, shape in SHAPES.items():
        page.throttle(1)  # (typed names reach the page's state late on a slowed page; that is not tested here)
        box(page, "teach-new-class").fill(name)
        page.locator("#teach-add-class").click()
        summary_has(page, f"{name}: 0")
        page.wait_for_function(f"() => document.querySelector('#teach-add').innerText.includes('Add to {name}')")
        wait_brush(page, "teach-sketch")
        page.throttle(4)
        for i in range(PER_CLASS):  # drawn and added at once, no waiting for the page
            draw_shape(page, "teach-sketch", shape(i), steps=1, side=420)
            page.locator("#teach-add").click()
            # the canvas is veiled from the click until the drawing is taken and the canvas cleared
            # (a stroke drawn meanwhile would be lost in plain sight, not merged)
            page.locator("#teach-sketch .teach-taking").wait_for(state="detached")
            print(name, i, "drawn and added", flush=True)
        summary_has(page, f"{name}: {PER_CLASS}")
    assert error_badges(page) == 0
    (project,) = [p for p in list_projects(page.data_dir) if p.name == "Quick hands"]
    project = Project.open(project.path)
    for name, shape in SHAPES.items():
        files = project.examples(name)  # oldest first
        assert len(files) == PER_CLASS, f"{name}: {len(files)} examples stored"
        for i, f in enumerate(files):
            want, got = expected_box(shape(i)), ink_box(f)
            print(name, i, np.round(want, 3), np.round(got, 3))
            # its own drawing: the ink lies where drawing i was, and reaches no further (a drawing
            # merged with the one before it, or that one again, spans another place)
            assert np.all(np.abs(got - want) < BRUSH + 0.03), f"{name} example {i}: ink at {got}, drawn at {want}"
