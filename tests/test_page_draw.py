"""The Draw tab answers for the drawing now on the canvas, never an earlier one, on a page slowed
down by Chromium's CPU throttling (4x): five digits drawn in a row, each read when the answer has
settled, each answer and 28x28 its own (the 28x28 nearer the same digit drawn again than any other)."""

from __future__ import annotations

import base64
import io
import math
import time

import numpy as np
import pytest
from page_helpers import app_page, draw_shape, error_badges, wait_brush
from PIL import Image

ONE = [[(0.5, 0.15), (0.5, 0.85)]]
SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]]
ZERO = [[(0.5 + 0.22 * math.sin(a * math.pi / 6), 0.5 - 0.33 * math.cos(a * math.pi / 6)) for a in range(13)]]
DIGITS = [("1", ONE), ("7", SEVEN), ("0", ZERO), ("7", SEVEN), ("1", ONE)]
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
