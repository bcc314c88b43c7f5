"""Every refusal, in every tab, in a real browser: its message shows, no output turns into a red
"Error" badge, and the component the message is about still works afterwards (ui/refusals.py)."""

from __future__ import annotations

import pytest
from app_helpers import ROOT, claimed_png
from page_helpers import (
    app_page,
    box,
    close_toasts,
    draw_shape,
    error_badges,
    open_tab,
    toast,
    wait_brush,
)

CIRCLE = [
    [
        (0.5 + 0.3 * c, 0.5 + 0.3 * s)
        for c, s in ((1, 0), (0.7, 0.7), (0, 1), (-0.7, 0.7), (-1, 0), (-0.7, -0.7), (0, -1), (0.7, -0.7), (1, 0))
    ]
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as pg:
        yield pg


def refused(page, says: str) -> None:
    """The refusal's message shows, and no output is in the error state."""
    assert says in toast(page, says)
    assert error_badges(page) == 0
    close_toasts(page)


def not_a_picture(tmp_path, name: str):
    f = tmp_path / name
    f.write_bytes(b"this is not an image, only words")
    return str(f)


def test_runs_refusals_keep_the_tab_usable(page, tmp_path):
    open_tab(page, "Runs")
    page.locator("#runs-chosen input").click()
    page.get_by_role("option").first.click()
    page.locator("#runs-delete").click()  # not confirmed
    refused(page, "Tick 'Yes, delete it' first")
    page.locator("#runs-confirm input").check()  # the box the message asks for still works
    assert page.locator("#runs-confirm input").is_checked()
    page.locator("#runs-confirm input").uncheck()
    page.locator("#runs-upload input[type=file]").set_input_files(not_a_picture(tmp_path, "bad.safetensors"))
    refused(page, "bad.safetensors")
    assert page.locator("#runs-table").get_by_text("mnist").count() >= 1  # the table is still there


def test_a_bad_photo_is_refused_and_the_next_one_is_read(page, tmp_path):
    open_tab(page, "Photo")
    page.locator("#photo-in input[type=file]").set_input_files(not_a_picture(tmp_path, "words.png"))
    refused(page, "words.png")
    page.locator("#photo-in button[aria-label='Remove Image']").first.click()
    page.locator("#photo-in input[type=file]").set_input_files(str(ROOT / "examples" / "truck.png"))
    page.wait_for_function("() => document.querySelector('#photo-label').innerText.includes('%')")
    assert error_badges(page) == 0


def test_a_photo_over_the_pixel_limit_is_refused_from_its_header(page, tmp_path):
    open_tab(page, "Photo")
    remove = page.locator("#photo-in button[aria-label='Remove Image']")
    if remove.count():  # a photo from an earlier test
        remove.first.click()
    huge = tmp_path / "huge.png"
    huge.write_bytes(claimed_png(10_000, 5_000))  # 57 bytes that claim 50 megapixels
    page.locator("#photo-in input[type=file]").set_input_files(str(huge))
    refused(page, "images over 16 megapixels are refused before they are decoded")
    remove.first.click()
    page.locator("#photo-in input[type=file]").set_input_files(str(ROOT / "examples" / "cat.png"))
    page.wait_for_function("() => document.querySelector('#photo-label').innerText.includes('%')")
    assert error_badges(page) == 0


def test_teach_refusals_leave_the_canvas_drawing(page, tmp_path):
    open_tab(page, "Teach")
    box(page, "teach-new-name").fill("Refusals")
    page.locator("#teach-create").click()
    box(page, "teach-new-class").fill("circle")
    page.locator("#teach-add-class").click()
    page.wait_for_function("() => document.querySelector('#teach-summary').innerText.includes('circle: 0')")
    wait_brush(page, "teach-sketch")
    page.locator("#teach-add").click()  # nothing drawn
    refused(page, "The canvas is empty")
    wait_brush(page, "teach-sketch")  # the veil the click put up is lifted (a person sees it)
    draw_shape(page, "teach-sketch", CIRCLE)  # the canvas still takes strokes
    page.locator("#teach-seen img").wait_for()
    page.locator("#teach-add").click()
    page.wait_for_function("() => document.querySelector('#teach-summary').innerText.includes('circle: 1')")
    page.locator("#teach-picture input[type=file]").set_input_files(not_a_picture(tmp_path, "note.png"))
    page.locator("#teach-add-picture").click()
    refused(page, "note.png")
    assert error_badges(page) == 0


def test_train_refusals_keep_the_settings_and_the_run(page):
    open_tab(page, "Train")
    box(page, "batch").fill("0")
    page.locator("#start-btn").click()
    refused(page, "Batch size")
    box(page, "batch").fill("64")
    page.locator("#dataset input").click()
    page.get_by_role("option", name="Image folder", exact=True).click()
    box(page, "folder").fill("holiday_photos")
    page.locator("#start-btn").click()
    refused(page, "holiday_photos")
    page.locator("#dataset input").click()
    page.get_by_role("option", name="MNIST", exact=True).click()
    if not box(page, "train-subset").is_visible():
        page.get_by_text("Quick run: train on part of the data").click()
    box(page, "train-subset").fill("4000")
    box(page, "test-subset").fill("500")
    box(page, "epochs").fill("20")
    page.locator("#start-btn").click()
    page.wait_for_function("() => /step \\d+/.test(document.querySelector('#train-progress').innerText)")
    page.locator("#start-btn").click()  # a second run while this one goes
    refused(page, "You already have a run training")
    page.locator("#stop-btn").click()
    page.wait_for_function("() => document.querySelector('#train-result').innerText.includes('Test accuracy')")
    assert error_badges(page) == 0
