"""The Draw tab on a desktop page (1280 px), one app and page for three checks, in this order (the
last changes the page's model):
- it answers for the drawing now on the canvas, never an earlier one, on a page slowed down by
  tests/slow_page.py (4x): four digits drawn in a row (1, 7, 1, 7), each read when the answer has settled,
  each answer and 28x28 its own (the 28x28 nearer the same digit drawn again than any other);
- issue 36: under "What the model saw", a line says that the preparation thickened the strokes of a
  drawing made large with the brush, and why; the line is whole on the screen (.scratch/screenshots/
  seen.png; on the 390 px phone emulation a touch stroke drawn here got no answer within 150 s in an
  earlier session: not yet understood);
- issue 36: a model switch clears the answer at once, on a page slowed 4x: "Use this model" from the
  Runs tab with a Teach model (classes ring and bar) while the Draw tab shows a digit's answer. No
  moment may show the old digits under the new model's name; the next answer is the new model's, in
  its own classes."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from app_helpers import screenshot_dir
from page_helpers import app_page, draw_shape, error_badges, open_tab, wait_brush
from PIL import Image
from test_browser import _pick
from test_teach_tab import made

from cnn.serving.digits import THICKENED
from ui import teach_tab

ONE = [[(0.5, 0.15), (0.5, 0.85)]]
SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]]
# each drawing differs from the one before it, and each digit is drawn twice; (a 0 drawn here in 12
# pointer moves cost about a CPU-second a move on the slowed page: the 1 takes one move, the 7 two)
DIGITS = [("1", ONE), ("7", SEVEN), ("1", ONE), ("7", SEVEN)]
SETTLE_S = 3.0  # an answer that stays this long has settled


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as pg:
        yield pg


def settled(page, timeout: float = 120) -> tuple[str, str]:
    """(the headline, the 28x28's address) once a 28x28 shows (the canvas was cleared before: none
    showed) and neither has changed for SETTLE_S seconds."""
    read = (
        "() => [document.querySelector('#digit-label .output-class')?.innerText.trim() || '', "
        "document.querySelector('#digit-seen img')?.src || '']"
    )
    last, since, t0 = None, time.time(), time.time()
    while time.time() - t0 < timeout:
        now = tuple(page.evaluate(read))
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= SETTLE_S and now[1]:
            return now
        time.sleep(0.25)
    raise AssertionError(f"the answer did not settle: {last}")


def test_each_answer_belongs_to_its_drawing_on_a_slow_page(page):
    wait_brush(page, "sketch")
    page.throttle(4)
    seen = []  # each answer's 28x28, as the page showed it
    for digit, strokes in DIGITS:
        draw_shape(page, "sketch", strokes, steps=1, side=600)  # (a throttled editor takes ~1 s a move)
        label, picture = settled(page)
        assert label == digit, f"{digit} drawn, the page says {label!r}"
        seen.append(as_28x28(page, picture))
        page.locator("#sketch button[aria-label='Clear canvas']").click()
        page.wait_for_function(
            "() => /draw a digit/i.test(document.querySelector('#digit-label').innerText) && "
            "!document.querySelector('#digit-seen img')"
        )  # the last answer and its 28x28 gone
        time.sleep(1.0)  # the app picks the brush again after a clear (PICK_BRUSH)
        wait_brush(page, "sketch")
    assert error_badges(page) == 0
    # each answer's 28x28 is its own drawing's: nearer the same digit drawn again (the 7s, the 1s)
    # than any other digit's picture
    for i, (digit, _) in enumerate(DIGITS):
        others = [abs(seen[i] - seen[j]).mean() for j, (d, _) in enumerate(DIGITS) if d != digit]
        twins = [abs(seen[i] - seen[j]).mean() for j, (d, _) in enumerate(DIGITS) if d == digit and j != i]
        assert all(t < min(others) for t in twins), (digit, twins, others)
        assert min(others) > 0.05  # a different digit's picture differs visibly (pixels in [0, 1])


def as_28x28(page, src: str) -> np.ndarray:
    """The picture at `src` (as the page loaded it), grey, 28x28, in [0, 1]."""
    body = page.request.get(src).body() if not src.startswith("data:") else base64.b64decode(src.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(body)).convert("L").resize((28, 28)), dtype=np.float32) / 255


def test_what_the_model_saw_says_the_strokes_were_thickened(page):
    page.throttle(1)  # (the test before slowed the page)
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


# Every 30 ms: what the Draw tab says its model is, and what its answer shows.
SAMPLE = """() => { const text = (id) => document.querySelector(id)?.innerText || '';
  window.__states = [];
  window.__sampler = setInterval(() => window.__states.push([text('#draw-about'), text('#digit-label')]), 30); }"""
DIGIT_SHOWN = r"(^|\n)[0-9]\n\d+%"  # a digit class with its probability, as the Label shows it


def test_no_stale_answer_after_a_model_switch(page):
    import re

    page.throttle(1)  # slowed for the switch only: what comes before it is set-up
    ctx = page.demo.ctx
    list(teach_tab.teach(ctx, made(ctx, per_class=3), teach_tab.START[0], owner="teacher"))
    key = ctx.runs.current.checkpoint.stem
    wait_brush(page, "sketch")
    draw_shape(page, "sketch", [[(0.5, 0.15), (0.5, 0.85)]])  # a 1
    page.wait_for_function(f"() => /{DIGIT_SHOWN}/.test(document.querySelector('#digit-label').innerText)")
    open_tab(page, "Runs")
    page.locator("#runs-refresh").click()
    page.wait_for_function(f"() => document.querySelector('#runs-table').innerText.includes({key!r})")
    _pick(page, "runs-chosen", key)
    before = page.locator("#draw-about").inner_text()
    page.throttle(4)
    page.evaluate(SAMPLE)
    page.locator("#runs-use").click()
    page.wait_for_function("() => /ring|bar/.test(document.querySelector('#digit-label').innerText)")
    states = page.evaluate("() => { clearInterval(window.__sampler); return window.__states; }")
    switched = [(about, label) for about, label in states if about != before]
    assert switched, "the Draw tab never named the new model"
    stale = [label for _, label in switched if re.search(DIGIT_SHOWN, label)]
    assert not stale, f"{len(stale)} of {len(switched)} samples showed the old digits under the new model: {stale[:2]}"
    assert not re.search(DIGIT_SHOWN, page.locator("#digit-label").inner_text())  # the new model's classes only
    page.screenshot(path=str(page.data_dir / "switched.png"))
