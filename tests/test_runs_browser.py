"""Watching a run learn, and the Runs tab, in a real browser (Playwright driving Debian's chromium,
headless): two short runs (the live panel fills in as they train), a click on the confusion matrix
shows that cell's test images, then the Runs tab overlays the two runs' curves and loads one into
the Draw tab. Saves live.png and runs.png (.scratch/screenshots/, or docs/screenshots/ via
bench/update_screenshots.sh). Fails (does not skip) in CI when chromium or Playwright is missing."""

from __future__ import annotations

import time

import pytest
from test_browser import SHOTS, _box, _pick, _quick_run, app_page, open_tab, shot

SLOW = 120_000  # ms: training on a busy CPU


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from app_page(tmp_path_factory, SLOW)


def _train(page, lr: str, epochs: str, live_shot: bool = False) -> str:
    """One short MNIST run from the Train tab; its checkpoint's stem (the run's name in the Runs tab)."""
    _box(page, "lr").fill(lr)
    _box(page, "epochs").fill(epochs)
    before = page.demo.runs.current
    page.locator("#start-btn").click()
    if live_shot:  # the panel while the run goes: 16 images, each right or wrong
        page.wait_for_function(
            "() => document.querySelectorAll('#live-panel figure').length === 16 && "
            "/After step [1-9]/.test(document.querySelector('#live-panel').innerText) && "
            "/training on/.test(document.querySelector('#train-status').innerText)"
        )
        page.locator("#live-filters img").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.5)
        page.locator("#train-live").screenshot(path=str(SHOTS / "live.png"))
    t0 = time.time()
    while page.demo.runs.current is before or not page.demo.runs.current.done:
        assert time.time() - t0 < SLOW / 1000, "the run did not end in time"
        time.sleep(0.2)
    run = page.demo.runs.current
    assert run.status == "finished", run.message
    page.wait_for_function(f"() => document.querySelector('#train-result').innerText.includes({run.checkpoint.stem!r})")
    return run.checkpoint.stem


def _click_worst_cell(page) -> tuple[int, int]:
    """Click the off-diagonal cell of the Train tab's confusion matrix with the most images."""
    conf = page.demo.runs.current.end.evaluation.confusion.clone()
    conf.fill_diagonal_(-1)
    true, pred = divmod(int(conf.argmax()), conf.shape[1])
    img = page.locator("#confusion img")
    page.wait_for_function("() => document.querySelector('#confusion img')?.naturalWidth > 0")
    box, natural = img.bounding_box(), img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    scale = min(box["width"] / natural[0], box["height"] / natural[1], 1)
    x0 = box["x"] + (box["width"] - natural[0] * scale) / 2
    y0 = box["y"] + (box["height"] - natural[1] * scale) / 2
    img.click(
        position={
            "x": x0 - box["x"] + (80 + 36 * pred + 18) * scale,
            "y": y0 - box["y"] + (80 + 36 * true + 18) * scale,
        }
    )
    return true, pred


def test_two_runs_watched_compared_and_one_used(page):
    open_tab(page, "Train")
    _quick_run(page, "8000", "500")  # long enough to be seen mid-run (the panel's 3 s)
    first = _train(page, "0.05", "2", live_shot=True)
    live = page.locator("#live-panel").inner_text()
    assert "of 16 right" in live and "epoch 2.00" in live
    true, pred = _click_worst_cell(page)
    names = [str(i) for i in range(10)]
    page.wait_for_function("() => document.querySelectorAll('#train-cell-gallery img').length >= 1")
    assert f"True {names[true]}, taken for {names[pred]}" in page.locator("#train-cell-note").inner_text()
    _quick_run(page, "3000", "500")
    second = _train(page, "0.01", "1")
    open_tab(page, "Runs")
    page.locator("#runs-refresh").click()
    page.wait_for_function(f"() => document.querySelector('#runs-table').innerText.includes({second!r})")
    for n, key in enumerate((first, second), 1):  # one, then both (each drawn before the next is picked)
        _pick(page, "runs-compare", key)
        for plot in ("runs-loss", "runs-acc"):
            page.wait_for_function(f"() => document.querySelector('#{plot}').textContent.includes('({n} run')")
    page.wait_for_function("() => document.querySelector('#runs-diff').innerText.includes('Settings that differ')")
    # both runs' lines drawn (Gradio 6.31 kept the first run's only, until the plots were made anew)
    page.wait_for_function("() => document.querySelectorAll('#runs-loss g.mark-line path').length >= 2")
    diff = page.locator("#runs-diff").inner_text()
    assert "0.05" in diff and "0.01" in diff and "epochs" in diff
    page.locator("#runs-diff").click()  # close the compare list
    page.wait_for_function("() => !document.querySelector('#runs-compare [role=option]')")
    _pick(page, "runs-chosen", first)
    shot(page, "runs", "#runs-table")
    page.locator("#runs-use").click()
    page.wait_for_function(f"() => document.querySelector('#draw-about').innerText.includes({first!r})")
    assert page.locator("#draw-about").is_visible()  # the Draw tab is shown
