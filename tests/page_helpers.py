"""The page under real hands (tests/test_page_*.py): the app on a data directory of its own (MNIST
linked in, Teach projects kept apart), a headless chromium page on it, slowed down when asked
(tests/slow_page.py), on a desktop or a phone screen; and what those tests read off the page."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from app_helpers import launch, playwright_and_chromium, software_webgl
from conftest import DATA_DIR
from slow_page import slow_down
from test_browser import CHROMIUM_ARGS, draw_stroke

SLOW = 90_000  # ms: this machine is shared and slow
# A phone's screen: 390x844 CSS px, touch, at a phone's 3 device px per CSS px (PHONE_3X), or at 1
# (PHONE): the same layout, and a ninth of the pixels for headless chromium to render in software (a
# stroke on the Draw tab: 28 CPU-s at 3, 5 at 1, on the 2-core VM, 2026-12-07). The phone tests of
# single panels use PHONE; test_page_phone's page (drawing and Teach on a phone) and the README's
# screenshots stay at 3.
PHONE_3X = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=3)
PHONE = PHONE_3X if os.environ.get("CNN_UPDATE_SCREENSHOTS") == "1" else dict(PHONE_3X, device_scale_factor=1)
DESKTOP = dict(viewport={"width": 1280, "height": 900})

# Gradio's status tracker shows a red "Error" badge on every output of an event that raised.
COUNT_ERROR_BADGES = """() => [...document.querySelectorAll('[data-testid=status-tracker] .error, .wrap .error')]
  .filter(e => e.offsetParent !== null && e.innerText.trim() === 'Error').length"""


def data_dir_with_mnist(tmp: Path) -> Path:
    """A data directory of its own, holding (a link to) the shared MNIST."""
    (tmp / "MNIST").symlink_to(DATA_DIR / "MNIST", target_is_directory=True)
    return tmp


@contextmanager
def app_page(tmp_path_factory, *, throttle: float = 1.0, screen: dict = DESKTOP, flags: tuple = ()):
    """The app and a page on it, Draw tab loaded; throttle > 1 slows the page that many times
    (tests/slow_page.py), as page.throttle(rate) does later; flags are more
    command-line flags for the app. page.demo is the app, page.app_url its address, page.data_dir its
    data directory."""
    with app_browser(tmp_path_factory, flags=flags) as pages, pages.page(throttle=throttle, screen=screen) as page:
        yield page


@contextmanager
def app_browser(tmp_path_factory, *, flags: tuple = ()):
    """The app and one chromium on it, for tests that want a fresh page each without an app and a
    browser each (a module fixture): `with pages.page(screen=PHONE) as page:` opens one (as app_page's)
    in a context of its own, closed afterwards. Stops the app's runs and closes both at the end."""
    sync_playwright, exe = playwright_and_chromium()
    data = data_dir_with_mnist(tmp_path_factory.mktemp("data"))
    demo, url = launch(tmp_path_factory.mktemp("runs"), "--data-dir", str(data), *flags)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            try:
                page = lambda **kw: _page_on(browser, url, demo, data, **kw)
                yield SimpleNamespace(demo=demo, url=url, data_dir=data, page=page)
            finally:
                browser.close()
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()


@contextmanager
def _page_on(
    browser, url: str, demo, data: Path, *, throttle: float = 1.0, screen: dict = DESKTOP, webgl_as_is: bool = False
):
    """A page of a new browser context on the app at url, Draw tab loaded (see app_page); with
    webgl_as_is, without tests/software_webgl.js (test_page_idle compares the two)."""
    ctx = browser.new_context(**screen)
    if not webgl_as_is:
        software_webgl(ctx)
    page = None
    try:
        page = ctx.new_page()
        page.set_default_timeout(SLOW)
        page.goto(url)
        page.locator("#sketch button[aria-label='Brush']").wait_for()
        cdp = page.context.new_cdp_session(page)
        page.throttle = slow_down(page)
        page.cdp, page.touch = cdp, bool(screen.get("has_touch"))
        page.throttle(throttle)
        page.data_dir, page.demo, page.app_url = data, demo, url
        yield page
    finally:
        if page is not None and hasattr(page, "throttle"):
            page.throttle(1)  # (a stopped renderer would hold the context's closing up)
        ctx.close()


def error_badges(page) -> int:
    return page.evaluate(COUNT_ERROR_BADGES)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).first.click()


def toast(page, text: str) -> str:
    t = page.locator(".toast-body").filter(has_text=text).first
    t.wait_for()
    return t.inner_text()


def close_toasts(page) -> None:
    for b in page.locator(".toast-close").all():
        try:
            b.click(timeout=2000)
        except Exception:  # gone by itself meanwhile
            pass


def box(page, elem: str):
    """The text box of the Gradio Textbox or Number with this elem_id."""
    return page.locator(f"#{elem} input, #{elem} textarea").first


def canvas_box(page, elem: str) -> dict:
    return page.locator(f"#{elem} canvas").first.bounding_box()


def wait_brush(page, elem: str) -> None:
    """The canvas takes strokes: its Brush is shown and picked (the Draw tab's editor asks to "select
    the draw tool" until the app has picked it)."""
    page.locator(f"#{elem} button[aria-label='Brush']").wait_for()
    page.wait_for_function(f"() => !document.querySelector('#{elem}').innerText.includes('select the draw tool')")


def image_box(page, elem: str, side: int) -> dict:
    """Where the editor shows its side x side drawing on screen: centred in the editor's canvas
    element, at the zoom the editor shows ('44%')."""
    import re

    b = canvas_box(page, elem)
    zoom = int(re.search(r"(\d+)%", page.locator(f"#{elem}").inner_text()).group(1)) / 100
    s = side * zoom
    return {"x": b["x"] + (b["width"] - s) / 2, "y": b["y"] + (b["height"] - s) / 2, "width": s, "height": s}


def draw_shape(page, elem: str, strokes: list[list[tuple[float, float]]], steps: int = 1, side: int = 0) -> None:
    """Draw strokes given in fractions (0..1 across and down) of the canvas element, or of the
    drawing itself when its side (px) is given; `steps` pointer moves a segment (the editor joins
    them with straight lines; a finger's on a phone's page, a mouse's elsewhere: test_browser.draw_stroke)."""
    page.locator(f"#{elem} canvas").first.scroll_into_view_if_needed()  # (strokes off the screen draw nothing)
    b = image_box(page, elem, side) if side else canvas_box(page, elem)
    for s in strokes:
        pts = [(b["x"] + fx * b["width"], b["y"] + fy * b["height"]) for fx, fy in s]
        if getattr(page, "touch", False):  # (a finger's stroke in fewer than 4 moves a segment can be
            touch_stroke(page, pts, max(steps, 4))  # taken for a swipe: test_teach_on_a_phone lost one)
            continue
        draw_stroke(page, pts, steps)


def settle(seconds: float = 0.3) -> None:
    time.sleep(seconds)


def touch_stroke(page, pts: list[tuple[float, float]], steps: int) -> None:
    """A finger's stroke through pts (a phone: Chromium's touch events, through CDP)."""

    def touch(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        page.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", *pts[0])
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        for k in range(1, steps + 1):
            touch("touchMove", x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
    touch("touchEnd", *pts[-1])
