"""The Teach tab in a real browser (Playwright driving Debian's chromium, headless): create a project,
add two classes from uploaded files and one drawing from the canvas, train, and put the model into
the Draw tab; then a ready-made project opened, trained and photographed for the README (teach.png,
in .scratch/screenshots/ or, retaken on purpose, docs/screenshots/). Fails (does not skip) in CI
when chromium or Playwright is missing."""

from __future__ import annotations

import math
import time

import pytest
from app_helpers import ROOT, launch, playwright_and_chromium, screenshot_dir, software_webgl
from PIL import Image, ImageDraw
from test_browser import draw_stroke, shot
from test_projects import png, stroke

from cnn.projects import Project
from cnn.projects.loading import held_out

SLOW = 120_000  # ms: training on a busy CPU
SHOTS = screenshot_dir()  # as tests/test_browser.py
SCRATCH_SHOTS = ROOT / ".scratch" / "screenshots"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_playwright, exe = playwright_and_chromium()
    data = tmp_path_factory.mktemp("data")
    demo, url = launch(tmp_path_factory.mktemp("runs"), "--data-dir", str(data))
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=exe,
                headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"],
                viewport={"width": 1280, "height": 1000},
            )
            software_webgl(ctx)
            try:
                pg = ctx.new_page()
                pg.set_default_timeout(SLOW)
                pg.goto(url)
                pg.get_by_role("tab", name="Teach").click()
                pg.data_dir = data
                yield pg
            finally:
                ctx.close()
    finally:
        demo.close()


def summary_has(page, text: str) -> None:
    page.wait_for_function(f"() => document.querySelector('#teach-summary').innerText.includes({text!r})")


def test_teach_two_classes_in_the_browser(page, tmp_path):
    page.locator("#teach-new-name textarea, #teach-new-name input").first.fill("Browser shapes")
    page.locator("#teach-create").click()
    summary_has(page, "Browser shapes")
    for name in ("ring", "bar"):
        page.locator("#teach-new-class textarea, #teach-new-class input").first.fill(name)
        page.locator("#teach-add-class").click()
        summary_has(page, f"{name}: 0")
        files = []
        for k in range(4):
            f = tmp_path / f"{name}{k}.png"
            f.write_bytes(png(stroke(name, k)))
            files.append(str(f))
        page.locator("#teach-files input[type=file]").set_input_files(files)
        summary_has(page, f"{name}: 4")  # each upload adds its own files only
    canvas = page.locator("#teach-sketch canvas").first
    canvas.scroll_into_view_if_needed()  # (a stroke off the screen draws nothing)
    box = canvas.bounding_box()  # the tab picked the brush
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    draw_stroke(page, [(cx, cy - 100), (cx + 19, cy + 90)])
    page.locator("#teach-seen img").wait_for()  # what the model sees, beside the canvas
    page.locator("#teach-add").click()
    summary_has(page, "bar: 5")
    page.locator("#teach-train").click()
    page.wait_for_function("() => document.querySelector('#teach-result').innerText.includes('Held-out accuracy')")
    assert "fine-tuned from mnist.safetensors" in page.locator("#teach-result").inner_text()
    page.locator("#teach-to-draw").click()
    page.wait_for_function("() => document.querySelector('#draw-about').innerText.includes('teach-browser-shapes-')")


def cross(k: int) -> Image.Image:
    """A Sketchpad-like 'x', varied by k."""
    im = Image.new("RGBA", (420, 420), (0, 0, 0, 0))
    d, o = ImageDraw.Draw(im), 15 * (k % 4)
    d.line([(90 + o, 90), (330 - o, 330)], fill=(0, 0, 0, 255), width=18 + 2 * (k % 3))
    d.line([(330 - o, 100 + o), (100, 320)], fill=(0, 0, 0, 255), width=18 + 2 * (k % 3))
    return im


def shapes_project(data_dir) -> Project:
    """Rings, bars and crosses, six each. The held-out bar is really a ring (a mislabelled example,
    as happens): named so that the held-out share, picked by a hash of the file names, takes it."""
    project = Project.create("Shapes", "drawings", data_dir=data_dir)
    for name, draw in (("ring", lambda k: stroke("ring", k)), ("bar", lambda k: stroke("bar", k)), ("cross", cross)):
        project.add_class(name)
        names = [f"{name}-{k}.png" for k in range(6)]
        wrong = held_out(names)[0] if name == "bar" else None
        for k, file in enumerate(names):
            added = project.add_example(name, stroke("ring", k + 1) if file == wrong else draw(k))
            added.rename(added.with_name(file))
    return project


def test_the_teach_tab_screenshot(page):
    """teach.png (the README's): classes with counts and thumbnails, the 28x28 the model sees, and a
    result with its confusion matrix and the held-out example it got wrong."""
    shapes_project(page.data_dir)
    page.reload()
    page.get_by_role("tab", name="Teach").click()
    page.locator("#teach-project input").click()
    page.get_by_role("option", name="Shapes (drawings)", exact=True).click()
    summary_has(page, "cross: 6")
    canvas = page.locator("#teach-sketch canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    ring = [(cx + 80 * math.cos(i / 12 * 6.4), cy + 80 * math.sin(i / 12 * 6.4)) for i in range(13)]
    draw_stroke(page, ring)  # a ring, for the preview beside the canvas
    page.locator("#teach-seen img").wait_for()
    page.locator("#teach-train").click()
    page.wait_for_function("() => document.querySelector('#teach-result').innerText.includes('Held-out accuracy')")
    assert "Held-out accuracy: 2 of 3 (67%)" in page.locator("#teach-result").inner_text()
    page.get_by_text("bar, taken for ring").wait_for()  # the mislabelled bar, in the gallery
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.5)  # let the images finish painting
    shot(page, "teach", "#teach-summary")
    page.locator("#teach-status").screenshot(path=str(SCRATCH_SHOTS / "teach-status.png"))
    page.locator("#teach-confusion").screenshot(path=str(SCRATCH_SHOTS / "teach-confusion.png"))
    page.locator("#teach-wrong").screenshot(path=str(SCRATCH_SHOTS / "teach-wrong.png"))
