"""An idle page costs nothing (issue 34): no event the page runs by itself (its load) outputs a
container that holds a drawing editor, which made Gradio 6.31 read every component again, and the
Draw tab re-render and re-upload its drawing, at every later event (ui/static/page.js says why);
the Gradio DOM and PixiJS ticker page.js relies on are still there, the ticker pauses when no
pointer moves and wakes with one; the loading page's status-tracker timer is ended (frames.js), so
an idle page asks for no animation frame; and after every tab was opened and the Draw tab shown again (the
ticker paused meanwhile), a new drawing still gets its own answer and 28x28. The tests' pages report
one WebGL texture unit (tests/software_webgl.js): a page without that draws the same canvas and
28x28, pixel for pixel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from app_helpers import screenshot_dir
from page_helpers import app_browser, draw_shape, error_badges, open_tab, wait_brush
from PIL import Image
from test_page_draw import ONE, SEVEN, as_28x28, settled

TABS = {"draw": "Draw", "photo": "Photo", "train": "Train", "teach": "Teach", "inside": "Inside", "runs": "Runs"}
MAX_TEXTURE_IMAGE_UNITS = 0x8872  # WebGL's name for it (tests/software_webgl.js reports 1)
CONTAINERS = {"tabs", "tabitem", "row", "column", "group", "accordion", "form", "blocks"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    with app_browser(tmp_path_factory) as opener:
        yield opener


@pytest.fixture(scope="module")
def page(pages):
    with pages.page() as pg:
        yield pg


def holders_of_editors(config: dict) -> dict[int, str]:
    """Every component that is a drawing editor or a container holding one: id -> its type."""
    types = {c["id"]: c["type"] for c in config["components"]}
    found: dict[int, str] = {}

    def walk(node: dict, above: list[int]) -> None:
        if types.get(node["id"]) == "imageeditor":
            found.update({i: types.get(i, "?") for i in above if types.get(i) in CONTAINERS})
        for child in node.get("children", []):
            walk(child, [*above, node["id"]])

    walk(config["layout"], [])
    return found


def test_no_load_event_outputs_a_container_of_a_drawing(page):
    config = page.demo.get_config_file()
    holders = holders_of_editors(config)
    assert "tabs" in holders.values()  # the check sees the page's tabs around the Draw tab's editor
    loads = [d for d in config["dependencies"] if any(t[1] == "load" for t in d["targets"])]
    assert loads, "the page has load events"
    bad = {(d["id"], holders[o]) for d in loads for o in d["outputs"] if o in holders}
    assert not bad, f"load events output a container of the drawing (event id, container): {bad}"


def test_the_gradio_dom_page_js_names_is_there(page):
    for tab_id, name in TABS.items():
        selector = page.evaluate(f"() => window.cnnPage.GRADIO_DOM.tabButton('{tab_id}')")
        assert page.locator(selector).count() == 1, f"no single tab button for {tab_id!r}: {selector}"
        assert page.locator(selector).inner_text().strip() == name
    page.evaluate("() => window.cnnPage.openTab('train')")
    page.wait_for_function(
        "() => document.querySelector(window.cnnPage.GRADIO_DOM.tabButton('train'))"
        ".getAttribute('aria-selected') === 'true'"
    )
    open_tab(page, "Draw")


def test_the_editors_idle_ticker_is_found_paused_and_woken(page):
    """page.js found PixiJS's system ticker through its init hook, pauses it when no pointer moves,
    and a pointer over the page starts it again (fails when PixiJS or Gradio changes either)."""
    assert page.evaluate("() => window.cnnPage.tickers.size") >= 1, "PixiJS's init hook never called"
    page.wait_for_function("() => [...window.cnnPage.tickers].every(t => !t.started)", timeout=10_000)
    b = page.locator("#sketch canvas").first.bounding_box()
    page.mouse.move(b["x"] + 5, b["y"] + 5)
    page.wait_for_function("() => [...window.cnnPage.tickers].every(t => t.started)", timeout=5_000)
    page.wait_for_function("() => [...window.cnnPage.tickers].every(t => !t.started)", timeout=10_000)


def test_the_loaders_timer_loop_is_ended_and_an_idle_page_asks_no_frames(page):
    """frames.js ran before Gradio's scripts (first in the head), found the timer loop of the status
    tracker over the loading page and ended it once the app was there; with the editor's ticker
    paused, the idle page then asks the browser for no animation frame at all (fails when Gradio
    changes its tracker's timer, or the page's HTML no longer takes the script first)."""
    assert page.evaluate("() => document.head.firstElementChild.textContent.includes('window.cnnFrames')")
    count = page.evaluate("() => window.cnnFrames.count")
    assert (count["loaderLoops"], count["loaderEnded"]) == (1, 1), count
    page.wait_for_function("() => [...window.cnnPage.tickers].every(t => !t.started)", timeout=10_000)
    asked = []  # frames asked in each 2 s, until the page's own events (its load) have all ended
    while not asked or (asked[-1] and len(asked) < 20):
        before = page.evaluate("() => window.cnnFrames.count.asked")  # (every frame asked goes through it)
        page.wait_for_timeout(2000)
        asked.append(page.evaluate("() => window.cnnFrames.count.asked") - before)
    assert asked[-1] == 0, f"the idle page kept asking for animation frames: {asked} in each 2 s"


def test_a_drawing_after_every_tab_and_back_gets_its_own_answer(page):
    wait_brush(page, "sketch")
    draw_shape(page, "sketch", ONE, side=600)
    label, picture = settled(page)
    assert label == "1", label
    for name in TABS.values():  # every tab once, as a visitor who looked around
        open_tab(page, name)
        page.wait_for_timeout(1000)
    open_tab(page, "Draw")
    page.locator("#sketch button[aria-label='Clear canvas']").click()
    page.wait_for_function("() => !document.querySelector('#digit-seen img')")
    page.wait_for_timeout(1000)  # the app picks the brush again after a clear
    wait_brush(page, "sketch")
    page.wait_for_function("() => [...window.cnnPage.tickers].every(t => !t.started)", timeout=10_000)
    draw_shape(page, "sketch", SEVEN, side=600)  # drawn on a paused editor: its first move wakes it
    label2, picture2 = settled(page)
    assert label2 == "7", label2
    assert abs(as_28x28(page, picture) - as_28x28(page, picture2)).mean() > 0.05  # its own 28x28
    assert error_badges(page) == 0
    page.screenshot(path=str(screenshot_dir() / "draw-after-every-tab.png"))


def test_one_texture_unit_draws_the_same_pixels(pages):
    drawn = {}
    for as_is in (True, False):
        with pages.page(webgl_as_is=as_is) as pg:
            units = pg.evaluate(
                "(name) => document.createElement('canvas').getContext('webgl2').getParameter(name)",
                MAX_TEXTURE_IMAGE_UNITS,
            )
            wait_brush(pg, "sketch")
            draw_shape(pg, "sketch", SEVEN, side=600)
            label, picture = settled(pg)
            canvas = np.asarray(Image.open(io.BytesIO(pg.locator("#sketch canvas").first.screenshot())).convert("RGB"))
            drawn[as_is] = (units, label, as_28x28(pg, picture), canvas)
    (units, label, seen, canvas), (units_1, label_1, seen_1, canvas_1) = drawn[True], drawn[False]
    assert units >= 2 and units_1 == 1  # SwiftShader's own count, and the tests' one
    assert label == label_1 == "7"
    assert canvas.shape == canvas_1.shape and canvas.std() > 10  # (a drawing, not a blank canvas)
    assert np.array_equal(canvas, canvas_1), f"{(canvas != canvas_1).any(axis=2).sum()} pixels differ"
    assert np.array_equal(seen, seen_1)
