"""Make it say N in the Draw tab, by hand in a browser: draw a 7, pick 8, press, and see it say 8 with
the 28x28 it saw, the changed 28x28, the change amplified and the probabilities before and after.
Its screenshot is docs/screenshots/probe_attack.png when retaken (bench/update_screenshots.sh)."""

from __future__ import annotations

import re

import pytest
from app_helpers import screenshot_dir
from page_helpers import PHONE, app_page, draw_shape, error_badges, wait_brush

SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]]


@pytest.fixture()
def page(tmp_path_factory):  # (one playwright at a time: the phone test opens its own)
    with app_page(tmp_path_factory) as pg:
        yield pg


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
