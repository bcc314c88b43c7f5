"""The Augmentation panel in a real browser (issue 32): the preview changes when a value changes, all
off shows every image unchanged (read off the picture's pixels), and a run trained with a chosen
augmentation has it in its checkpoint and in the Runs tab's compare. Saves augment.png and
augment_phone.png (.scratch/screenshots/)."""

from __future__ import annotations

import time

import pytest
from app_helpers import software_webgl
from test_browser import SHOTS, _box, _pick, _quick_run, app_page, open_tab

from cnn.checkpoint import read_metadata

SLOW = 120_000

# Each pair on the preview: the image (112 px), 2 px, its augmented copy; 14 px between pairs. How
# many of the 16 pairs have their two halves equal, pixel for pixel, as the browser shows them.
SAME_PAIRS = """() => new Promise(done => {
  const src = document.querySelector('#train-augment-preview img').src, img = new Image();
  img.onload = () => {
    const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    let same = 0;
    for (let i = 0; i < 16; i++) {
      const x = (i % 4) * (226 + 14), y = Math.floor(i / 4) * (112 + 14);
      const a = g.getImageData(x, y, 112, 112).data, b = g.getImageData(x + 114, y, 112, 112).data;
      if (a.every((v, k) => v === b[k])) same++;
    }
    done(same);
  };
  img.src = src;
})"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from app_page(tmp_path_factory, SLOW)


def _src(page) -> str:
    return page.locator("#train-augment-preview img").get_attribute("src") or ""


def _caption(page, text: str) -> None:
    page.wait_for_function(f"() => document.querySelector('#train-augment-caption')?.innerText.includes({text!r})")


def _train(page) -> str:
    before = page.demo.runs.current
    page.locator("#start-btn").click()
    t0 = time.time()
    while page.demo.runs.current is before or not page.demo.runs.current.done:
        assert time.time() - t0 < SLOW / 1000, "the run did not end in time"
        time.sleep(0.2)
    run = page.demo.runs.current
    assert run.status == "finished", run.message
    return run.checkpoint


def test_the_preview_follows_the_values_and_the_run_keeps_them(page):
    open_tab(page, "Train")
    _caption(page, "Augmentation crop=1:")  # mnist_fast's own, drawn when the tab opens
    page.locator("#train-augment-preview img").wait_for()
    first = _src(page)
    _box(page, "train-aug-rotate").fill("30")
    _caption(page, "Augmentation crop=1,rotate=30:")
    assert _src(page) != first and page.evaluate(SAME_PAIRS) == 0
    assert _box(page, "train-augment-spec").input_value() == "crop=1,rotate=30"
    page.locator("#train-augment-off").click()
    _caption(page, "16 of 16 unchanged")
    assert page.evaluate(SAME_PAIRS) == 16  # all off: each image exactly as it is
    _box(page, "train-aug-elastic").fill("0.3")
    _caption(page, "Augmentation elastic=0.3:")
    assert page.evaluate(SAME_PAIRS) == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#train-augment").screenshot(path=str(SHOTS / "augment.png"))
    _box(page, "train-aug-rotate").fill("500")  # out of range: said, the picture kept
    _caption(page, "rotate must be a number from 0 to 180 degrees (got 500)")
    _box(page, "train-aug-rotate").fill("0")
    _caption(page, "Augmentation elastic=0.3:")

    _quick_run(page, "600", "200")
    _box(page, "epochs").fill("0.5")
    bent = _train(page)
    assert read_metadata(bent)["augment"] == "elastic=0.3"
    page.locator("#train-augment-off").click()
    _caption(page, "16 of 16 unchanged")
    plain = _train(page)
    assert read_metadata(plain)["augment"] == "none"

    open_tab(page, "Runs")
    page.locator("#runs-refresh").click()
    page.wait_for_function(f"() => document.querySelector('#runs-table').innerText.includes({plain.stem!r})")
    for key in (bent.stem, plain.stem):
        _pick(page, "runs-compare", key)
        page.wait_for_function(f"() => document.querySelector('#runs-diff').innerText.includes({key!r})")
    page.wait_for_function("() => document.querySelector('#runs-diff').innerText.includes('augmentation')")
    row = [r for r in page.locator("#runs-diff").inner_text().splitlines() if r.startswith("augmentation")]
    assert row and "elastic=0.3" in row[0] and "none" in row[0]


def test_the_panel_on_a_phone(page):
    from page_helpers import PHONE

    phone = software_webgl(page.context.browser.new_context(**PHONE)).new_page()
    try:
        phone.set_default_timeout(SLOW)
        phone.goto(page.url)
        open_tab(phone, "Train")
        phone.locator("#train-augment-caption").filter(has_text="Augmentation crop=1").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        phone.locator("#train-augment").screenshot(path=str(SHOTS / "augment_phone.png"))
        width = phone.evaluate("() => document.querySelector('#train-augment').getBoundingClientRect().width")
        assert width <= 390
    finally:
        phone.context.close()
