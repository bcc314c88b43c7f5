"""The Teach tab in a real browser (Playwright driving Debian's chromium, headless): create a
project, add two classes from uploaded files and one drawing from the canvas, train, and put the
model into the Draw tab. Fails (does not skip) in CI when chromium or Playwright is missing."""
from __future__ import annotations


import pytest

from app_helpers import launch, playwright_and_chromium
from test_projects import png, stroke

SLOW = 120_000  # ms: training on a busy CPU


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_playwright, exe = playwright_and_chromium()
    data = tmp_path_factory.mktemp("data")
    demo, url = launch(tmp_path_factory.mktemp("runs"), "--data-dir", str(data))
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe, headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"], viewport={"width": 1280, "height": 1000})
            try:
                pg = ctx.new_page()
                pg.set_default_timeout(SLOW)
                pg.goto(url)
                pg.get_by_role("tab", name="Teach").click()
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
    box = page.locator("#teach-sketch canvas").first.bounding_box()  # the tab picked the brush
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy - 100)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(cx + i, cy - 100 + i * 10)
    page.mouse.up()
    page.locator("#teach-seen img").wait_for()  # what the model sees, beside the canvas
    page.locator("#teach-add").click()
    summary_has(page, "bar: 5")
    page.locator("#teach-train").click()
    page.wait_for_function("() => document.querySelector('#teach-result').innerText.includes('Held-out accuracy')")
    assert "fine-tuned from mnist.safetensors" in page.locator("#teach-result").inner_text()
    page.locator("#teach-to-draw").click()
    page.wait_for_function("() => document.querySelector('#draw-about').innerText.includes('teach-browser-shapes-')")
