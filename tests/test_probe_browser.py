"""Issue 33 in a real browser (Playwright driving Debian's chromium, headless). Make it say N in the
Draw tab: draw a 7, pick 8, press, and see it say 8 with the 28x28 it saw, the changed 28x28, the
change amplified and the probabilities before and after (probe_attack.png). The Inside tab shows what
16 channels look for, each beside its 9 test images; the Runs tab draws the map of the shipped digit
model, a hovered point shows its image and a clicked one its prediction and Grad-CAM; the map on a
phone's screen. Saves probe_channels.png and probe_map.png (1280 x 800; .scratch/screenshots/, or
docs/screenshots/ via bench/update_screenshots.sh) and probe_map_phone.png (.scratch/screenshots/ only)."""

from __future__ import annotations

import re
import time

import pytest
from app_helpers import SCRATCH, screenshot_dir
from page_helpers import PHONE, app_page, draw_shape, error_badges, open_tab, wait_brush

SHOTS = screenshot_dir()
N_POINTS = 2000


def crop(page, elem: str, name: str, folder=SHOTS) -> None:
    """A 1280 x 800 screenshot from the top of the element (the page scrolled to it)."""
    page.locator(elem).scroll_into_view_if_needed()
    time.sleep(0.5)  # let images finish painting
    top = page.locator(elem).bounding_box()["y"] + page.evaluate("window.scrollY")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(folder / f"{name}.png"), full_page=True, clip=dict(x=0, y=max(0, top - 8), width=1280, height=800)
    )


def draw_map(page) -> None:
    open_tab(page, "Runs")
    page.locator("#runs-chosen input").click()
    page.get_by_role("option", name="shipped/mnist").click()
    page.locator("#map").get_by_text("A map of what it learned").first.click()
    page.locator("#map-draw").click()
    page.wait_for_function(f"() => document.querySelectorAll('#map-plot circle').length === {N_POINTS}")
    page.wait_for_function("() => /5 nearest neighbours/.test(document.querySelector('#map-note').innerText)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as p:
        yield p


def test_inside_shows_what_each_channel_looks_for(page):
    open_tab(page, "Inside")
    page.wait_for_function("() => document.querySelector('#channels-layer input')?.value === 'features.4'")
    page.locator("#channels-show").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#channels-gallery .thumbnail-item img').length === 16", timeout=180_000
    )
    captions = page.locator("#channels-gallery .caption-label").all_inner_texts()
    assert captions[:3] == ["channel 0", "channel 1", "channel 2"]
    assert "9 of 1,000 mnist test images" in page.locator("#channels-note").inner_text()
    assert error_badges(page) == 0
    crop(page, "#channels", "probe_channels")


def test_runs_map_hover_shows_the_image_and_a_click_its_grad_cam(page):
    draw_map(page)
    ringed = page.locator("#map-plot circle[stroke='#000']")
    assert 0 < ringed.count() < N_POINTS * 0.03  # the shipped model's few mistakes
    page.locator("#map").scroll_into_view_if_needed()  # before the hover: a scroll would end it
    ringed.first.hover()
    tip = page.locator("#map-plot .map-tip")
    tip.wait_for(state="visible")
    assert "taken for" in tip.inner_text()  # a mistake: its class and the model's answer
    assert "data:image/png" in tip.locator(".map-thumb").evaluate("e => e.style.backgroundImage")
    crop(page, "#map", "probe_map")
    ringed.first.click(force=True)
    page.wait_for_function("() => /Test image #\\d+: a/.test(document.querySelector('#map-about').innerText)")
    assert "a mistake" in page.locator("#map-about").inner_text()
    assert error_badges(page) == 0
    crop(page, "#map", "probe_map_clicked", SCRATCH / "screenshots")


def test_the_map_on_a_phone(page):
    phone = page.context.browser.new_context(**PHONE).new_page()  # the same app, a phone's screen
    try:
        phone.set_default_timeout(90_000)
        phone.goto(page.url)
        draw_map(phone)
        # (a touchscreen tap on a dot of the emulated phone did not reach it in the tries made:
        # the test sends the dot its click instead; docs/probe.md says so)
        phone.locator("#map-plot circle").nth(5).dispatch_event("click")
        phone.wait_for_function("() => /Test image #5: a/.test(document.querySelector('#map-about').innerText)")
        width = phone.locator("#map-plot svg").bounding_box()["width"]
        assert 300 <= width <= 390  # the map has the screen's width, not a strip beside the clicked image
        phone.locator("#map-plot").scroll_into_view_if_needed()
        time.sleep(0.5)
        phone.screenshot(path=str(SCRATCH / "screenshots" / "probe_map_phone.png"))
    finally:
        phone.context.close()


SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]]


def text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def test_make_the_drawn_7_say_8(page):
    wait_brush(page, "sketch")
    draw_shape(page, "sketch", SEVEN, side=600)
    page.wait_for_function("() => document.querySelector('#digit-label .output-class')?.innerText.trim() === '7'")
    page.locator("#digit-attack-target input").click()
    page.get_by_role("option", name="8", exact=True).click()
    go = page.locator("#digit-attack-go")
    page.wait_for_function("() => document.querySelector('#digit-attack-go').innerText.trim() === 'Make it say 8'")
    go.click()
    page.wait_for_function("() => /It says 8 now/.test(document.querySelector('#digit-attack-note').innerText)")
    note = text(page, "#digit-attack-note")
    change = float(re.search(r"largest change of any pixel is ([0-9.]+)", note).group(1))
    assert 0 < change <= 0.3 + 1e-9, note
    page.wait_for_function(
        "() => document.querySelector('#digit-attack-after .output-class')?.innerText.trim() === '8'"
    )
    assert text(page, "#digit-attack-before .output-class") == "7"
    for elem in ("seen", "changed", "change"):
        assert page.locator(f"#digit-attack-{elem} img").count() == 1, elem
    assert f"largest {change:.3f}" in text(page, "#digit-attack-change")  # the change's size in its label
    assert error_badges(page) == 0
    top = page.evaluate("() => document.querySelector('#digit-attack-note').getBoundingClientRect().top + scrollY")
    clip = dict(x=0, y=max(0, top - 330), width=1280, height=800)  # the 28x28 it saw, then the whole panel
    page.screenshot(path=str(screenshot_dir() / "probe_attack.png"), full_page=True, clip=clip)


def test_make_it_say_on_a_phone(tmp_path_factory):
    """On a 390 px phone the panel's parts stack and the verdict is readable (screenshot, looked at)."""
    with app_page(tmp_path_factory, screen=PHONE) as phone:
        wait_brush(phone, "sketch")
        draw_shape(phone, "sketch", SEVEN, side=600)
        phone.wait_for_function("() => document.querySelector('#digit-label .output-class')?.innerText.trim() === '7'")
        go = phone.locator("#digit-attack-go")
        go.scroll_into_view_if_needed()
        go.tap()
        phone.wait_for_function("() => /It says 3 now/.test(document.querySelector('#digit-attack-note').innerText)")
        assert error_badges(phone) == 0
        phone.locator("#digit-attack-note").scroll_into_view_if_needed()
        phone.screenshot(path=str(screenshot_dir() / "probe_attack_phone.png"))


def click_cell(page, elem: str, true: int, pred: int) -> None:
    """Click the middle of the cell (true, pred) of the confusion picture shown in #elem."""
    img = page.locator(f"#{elem} img")
    page.wait_for_function(f"() => document.querySelector('#{elem} img')?.naturalWidth > 0")
    box, natural = img.bounding_box(), img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    scale = min(box["width"] / natural[0], box["height"] / natural[1], 1)
    x0 = (box["width"] - natural[0] * scale) / 2
    y0 = (box["height"] - natural[1] * scale) / 2
    img.click(position={"x": x0 + (80 + 36 * pred + 18) * scale, "y": y0 + (80 + 36 * true + 18) * scale})


def test_why_the_photo_model_failed(page):
    """Runs tab, the shipped photo model: its worst cell's mistakes each beside their Grad-CAM, with
    the top two answers (screenshot probe_mistakes.png)."""
    from conftest import DATA_DIR

    from ui import confusion_view as cv

    (page.data_dir / "cifar10").symlink_to(DATA_DIR / "cifar10", target_is_directory=True)
    preds, _, _ = cv.runs_source(page.demo.ctx, "shipped/cifar10")  # (scored once: the page's click reuses it)
    conf = preds.confusion.clone()
    conf.fill_diagonal_(-1)
    true, pred = divmod(int(conf.argmax()), 10)
    page.get_by_role("tab", name="Runs").click()
    page.locator("#runs-refresh").click()
    page.locator("#runs-chosen input").click()
    page.get_by_role("option", name="shipped/cifar10", exact=True).click()
    page.get_by_text("Confusion matrix of the chosen run (click a cell)").click()
    page.locator("#runs-confusion-btn").click()
    click_cell(page, "runs-confusion", true, pred)
    names = preds.classes
    page.wait_for_function(
        f"() => document.querySelector('#runs-cell-note').innerText.includes('Beside each, Grad-CAM for {names[pred]}')"
    )
    page.wait_for_function(
        "() => { const im = [...document.querySelectorAll('#runs-cell-gallery img')]; "
        "return im.length >= 2 && im.every(i => i.complete && i.naturalWidth > 0); }"
    )  # every picture loaded (for the screenshot)
    gallery = page.locator("#runs-cell-gallery").inner_text()
    assert f"true {names[true]}, predicted {names[pred]} · {names[pred]} " in gallery, gallery
    assert error_badges(page) == 0
    top = page.evaluate("() => document.querySelector('#runs-confusion').getBoundingClientRect().top + scrollY")
    clip = dict(x=0, y=max(0, top - 60), width=1280, height=800)
    page.screenshot(path=str(screenshot_dir() / "probe_mistakes.png"), full_page=True, clip=clip)


def test_make_a_photo_say_automobile(page):
    """The Photo tab's panel (closed at first): a truck made to say automobile within 8/255
    (screenshot in .scratch/, looked at). (truck to frog took 29 steps, 2.4 s, on this shared CPU,
    and held once when the machine was busier: the attack stops after 4 s.)"""
    from app_helpers import ROOT

    page.get_by_role("tab", name="Photo").click()
    page.locator("#photo-in input[type=file]").set_input_files(str(ROOT / "examples" / "truck.png"))
    page.wait_for_function("() => document.querySelector('#photo-label .output-class')?.innerText.trim() === 'truck'")
    page.get_by_text("Make it say N: the smallest change that fools the model").last.click()
    page.locator("#photo-attack-target input").click()
    page.get_by_role("option", name="automobile", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#photo-attack-go').innerText.trim() === 'Make it say automobile'"
    )
    page.locator("#photo-attack-go").click()
    page.wait_for_function(
        "() => /It says automobile now/.test(document.querySelector('#photo-attack-note').innerText)"
    )
    assert "it said truck" in text(page, "#photo-attack-note")
    assert error_badges(page) == 0
    top = page.evaluate("() => document.querySelector('#photo-attack-note').getBoundingClientRect().top + scrollY")
    clip = dict(x=0, y=max(0, top - 150), width=1280, height=800)
    page.screenshot(path=str(screenshot_dir() / "probe_attack_photo.png"), full_page=True, clip=clip)
