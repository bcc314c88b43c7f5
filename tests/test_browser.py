"""End to end in a real browser: Playwright driving Debian's chromium, headless.

Draws a digit with the mouse and reads the label, uploads a photo, looks inside the network,
starts a short training run, watches the loss curve grow, stops it, finishes a second one and
loads it into the Draw tab. Saves a screenshot of each tab to docs/screenshots/ for the README.
Fails (does not skip) in CI when chromium or Playwright is missing.
"""
from __future__ import annotations

import re
import shutil
import time

import pytest

from app_helpers import ROOT, launch, missing

SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SLOW = 60_000  # ms: the machine running the tests may be busy


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed (pip install playwright)")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        missing("Debian's chromium is not installed: apt-get install -y chromium")
    demo, url = launch(tmp_path_factory.mktemp("runs"))
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe, headless=True,
                args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1000})
            try:
                pg = ctx.new_page()
                pg.set_default_timeout(SLOW)
                pg.goto(url)
                pg.get_by_text("Draw a digit (0-9)").first.wait_for()
                pg.demo = demo
                yield pg
            finally:
                ctx.close()
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.5)  # let plots and images finish painting
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def draw_stroke(page, points) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for k in range(1, 16):
            page.mouse.move(x0 + (x1 - x0) * k / 15, y0 + (y1 - y0) * k / 15)
    page.mouse.up()


def top_label(page, elem: str) -> str:
    return page.locator(f"#{elem} .output-class").inner_text().strip()


def test_draw_a_digit_and_read_the_label(page):
    open_tab(page, "Draw")
    # the app picks the brush on load; the canvas takes strokes at once
    page.locator("#sketch button[aria-label='Brush']").wait_for()
    page.wait_for_function("() => !document.querySelector('#sketch').innerText.includes('select the draw tool')")
    box = page.locator("#sketch canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s = min(box["width"], box["height"]) * 0.55
    draw_stroke(page, [(cx - 0.3 * s, cy - 0.45 * s), (cx + 0.3 * s, cy - 0.45 * s), (cx - 0.1 * s, cy + 0.45 * s)])
    page.wait_for_function("() => document.querySelector('#digit-label .output-class')?.innerText.trim() === '7'")
    assert top_label(page, "digit-label") == "7"
    assert page.locator("#digit-label").get_by_text("%").count() >= 10  # all ten probabilities
    assert page.locator("#digit-seen img").count() == 1  # the 28x28 the model saw
    shot(page, "draw")
    # clearing the canvas asks for a digit instead of guessing
    page.locator("#sketch button[aria-label='Clear canvas']").click()
    page.wait_for_function("() => /draw a digit/i.test(document.querySelector('#digit-label').innerText)")


def test_upload_a_photo_and_see_probabilities(page):
    open_tab(page, "Photo")
    page.locator("#photo-in input[type=file]").set_input_files(str(ROOT / "examples" / "truck.png"))
    page.wait_for_function("() => document.querySelectorAll('#photo-label .output-class').length === 1 && "
                           "document.querySelector('#photo-label').innerText.includes('%')")
    classes = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
    assert top_label(page, "photo-label") in classes
    text = page.locator("#photo-label").inner_text()
    assert all(c in text for c in classes)
    shot(page, "photo")


def test_look_inside_the_network(page):
    # draw again so the Inside tab has a drawing to explain (the brush is picked again after a clear)
    open_tab(page, "Draw")
    page.wait_for_function("() => !document.querySelector('#sketch').innerText.includes('select the draw tool')")
    box = page.locator("#sketch canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s = min(box["width"], box["height"]) * 0.55
    draw_stroke(page, [(cx, cy - 0.45 * s), (cx, cy + 0.45 * s)])
    page.wait_for_function("() => document.querySelector('#digit-label .output-class')?.innerText.trim() === '1'")
    open_tab(page, "Inside the network")
    page.get_by_text("Prediction:").first.wait_for()
    page.get_by_text("Feature maps of each convolution layer").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#inside-maps img').length >= 1")
    assert page.get_by_text("Param #").count() >= 1  # the summary table
    shot(page, "inside")


def _progress_step(page) -> int:
    m = re.search(r"step (\d+) / (\d+)", page.locator("#train-progress").inner_text())
    return int(m.group(1)) if m else -1


def test_train_watch_the_loss_and_stop(page):
    open_tab(page, "Train")
    page.get_by_text("Quick run: train on part of the data").click()
    page.locator("#train-subset input").fill("4000")
    page.locator("#test-subset input").fill("500")
    page.locator("#epochs input").fill("30")  # long enough that it cannot finish before Stop
    page.locator("#start-btn").click()
    page.get_by_text("images/s").first.wait_for()
    page.wait_for_function("() => /step ([3-9]|\\d\\d+) \\//.test(document.querySelector('#train-progress').innerText)")
    first = _progress_step(page)
    plot = page.locator("#loss-plot")
    plot.locator("canvas, svg").first.wait_for()
    page.wait_for_function(f"() => {{ const m = /step (\\d+) \\//.exec(document.querySelector('#train-progress').innerText);"
                           f" return m && +m[1] > {first}; }}")
    assert _progress_step(page) > first  # the curve keeps streaming
    page.locator("#stop-btn").click()
    t0 = time.time()
    page.get_by_text("Run stopped").first.wait_for()
    assert time.time() - t0 < 15
    assert "kept the weights" in page.locator("#train-result").inner_text()


def test_train_to_the_end_and_use_the_model(page):
    # choosing a model picks its recipe preset, which fills in the settings
    page.locator("#model input").click()
    page.get_by_role("option", name="seed002_net", exact=True).click()
    page.wait_for_function("() => document.querySelector('#recipe input').value === 'seed002'")
    # wait for the values that differ from mnist_fast's own (batch 64 is both presets')
    page.wait_for_function("() => document.querySelector('#lr input').value === '0.01'")
    page.wait_for_function("() => document.querySelector('#optimizer input').value === 'adam'")
    assert page.locator("#batch input").input_value() == "64"
    page.locator("#train-subset input").fill("3000")
    page.locator("#test-subset input").fill("500")
    page.locator("#epochs input").fill("1")
    page.locator("#start-btn").click()
    page.get_by_text("Test accuracy:").first.wait_for(timeout=180_000)
    page.wait_for_function("() => document.querySelectorAll('#wrong-gallery img').length >= 1")
    page.locator("#acc-plot").locator("canvas, svg").first.wait_for()
    shot(page, "train")
    page.locator("#to-draw").click()
    page.get_by_text("Model:").first.wait_for()
    page.wait_for_function("() => document.querySelector('#draw-about').innerText.includes('seed002_net-mnist-')")
    assert page.locator("#draw-about").is_visible()  # the Draw tab is shown at once


def test_second_session_is_told_and_closing_the_page_stops_its_run(page):
    demo = page.demo
    other = page.context.new_page()
    other.set_default_timeout(SLOW)
    try:
        other.goto(page.url)
        open_tab(other, "Train")
        other.get_by_text("Quick run: train on part of the data").click()
        other.locator("#train-subset input").fill("4000")
        other.locator("#test-subset input").fill("500")
        other.locator("#epochs input").fill("50")
        other.locator("#start-btn").click()
        other.get_by_text("images/s").first.wait_for()
        run = demo.runs.current
        assert run is not None and not run.done
        # the first page tries to start a run too: it is told, and the run goes on
        open_tab(page, "Train")
        page.locator("#start-btn").click()
        page.get_by_text("A training run is already going").first.wait_for()
        assert "another session" in page.get_by_text("A training run is already going").first.inner_text()
        assert not run.done
    finally:
        other.close()  # the browser tab goes away: its run must not be left holding the device
    t0 = time.time()
    while not run.done and time.time() - t0 < 60:
        time.sleep(0.2)
    assert run.status == "stopped", run.status
    print(f"run stopped {time.time() - t0:.1f} s after its page closed")
