"""Issue 36: a model switch clears the answer at once, on a page slowed 4x (Chromium's CPU
throttling): "Use this model" from the Runs tab with a Teach model (classes ring and bar) while the
Draw tab shows a digit's answer. No moment may show the old digits under the new model's name; the
next answer is the new model's, in its own classes."""

from __future__ import annotations

from page_helpers import app_page, draw_shape, open_tab, wait_brush
from test_browser import _pick
from test_teach_tab import made

from ui import teach_tab

# Every 30 ms: what the Draw tab says its model is, and what its answer shows.
SAMPLE = """() => { const text = (id) => document.querySelector(id)?.innerText || '';
  window.__states = [];
  window.__sampler = setInterval(() => window.__states.push([text('#draw-about'), text('#digit-label')]), 30); }"""
DIGITS = r"(^|\n)[0-9]\n\d+%"  # a digit class with its probability, as the Label shows it


def test_no_stale_answer_after_a_model_switch(tmp_path_factory):
    import re

    with app_page(tmp_path_factory, throttle=4) as page:
        ctx = page.demo.ctx
        list(teach_tab.teach(ctx, made(ctx, per_class=3), teach_tab.START[0], owner="teacher"))
        key = ctx.runs.current.checkpoint.stem
        wait_brush(page, "sketch")
        draw_shape(page, "sketch", [[(0.5, 0.15), (0.5, 0.85)]])  # a 1
        page.wait_for_function(f"() => /{DIGITS}/.test(document.querySelector('#digit-label').innerText)")
        open_tab(page, "Runs")
        page.locator("#runs-refresh").click()
        page.wait_for_function(f"() => document.querySelector('#runs-table').innerText.includes({key!r})")
        _pick(page, "runs-chosen", key)
        before = page.locator("#draw-about").inner_text()
        page.evaluate(SAMPLE)
        page.locator("#runs-use").click()
        page.wait_for_function("() => /ring|bar/.test(document.querySelector('#digit-label').innerText)")
        states = page.evaluate("() => { clearInterval(window.__sampler); return window.__states; }")
        switched = [(about, label) for about, label in states if about != before]
        assert switched, "the Draw tab never named the new model"
        stale = [label for _, label in switched if re.search(DIGITS, label)]
        assert not stale, (
            f"{len(stale)} of {len(switched)} samples showed the old digits under the new model: {stale[:2]}"
        )
        assert not re.search(DIGITS, page.locator("#digit-label").inner_text())  # the new model's classes only
        page.screenshot(path=str(page.data_dir / "switched.png"))
