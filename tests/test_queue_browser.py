"""The queue of runs in a real browser (Playwright driving Debian's chromium, headless), the app with
--max-runs 1 (the CPU default): a second person's Start shows "waiting: 1 ahead of you", their Stop
takes only their own waiting run out of the queue (the first run goes on), and their run trains by
itself when the first one ends. Fails (does not skip) in CI when chromium or Playwright is missing."""

from __future__ import annotations

import time

import pytest
from app_helpers import ROOT
from test_browser import _box, _quick_run, _shown, _toast, app_page, open_tab

from cnn.training import RunStatus

SLOW = 120_000  # ms: training on a busy CPU
SCRATCH = ROOT / ".scratch"  # (git-ignored) the waiting page's status line, to look at


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from app_page(tmp_path_factory, SLOW)


def _start(page, train: str, epochs: str) -> None:
    open_tab(page, "Train")
    _quick_run(page, train, "300")
    _box(page, "epochs").fill(epochs)
    page.locator("#start-btn").click()


def test_a_second_page_waits_its_turn_and_cannot_touch_the_first_run(page):
    demo = page.demo
    assert demo.runs.max_runs == 1
    _start(page, "4000", "30")  # the first person: a run long enough to outlast the waiting
    page.get_by_text("images/s").first.wait_for()
    first = demo.runs.current
    other_browser = page.other_browser()  # a second person, in a browser of their own
    try:
        other = other_browser.new_page()
        other.set_default_timeout(SLOW)
        other.goto(page.app_url)
        _start(other, "2000", "1")
        other.wait_for_function(
            "() => document.querySelector('#train-status').innerText.includes('waiting: 1 ahead of you (about ')"
        )
        SCRATCH.mkdir(exist_ok=True)
        other.locator("#train-status").screenshot(path=str(SCRATCH / "queue-waiting.png"))
        second = demo.runs.current
        assert second is not first and second.status == RunStatus.QUEUED
        # their Stop takes their own waiting run out of the queue; the first run goes on
        other.locator("#stop-btn").click()
        assert "left the queue" in _toast(other, "Cancelled")
        assert second.status == RunStatus.CANCELLED and not first.stop_event.is_set() and not first.done
        # the page shows it left (the status follows on the next tick, so "waiting" must go first:
        # otherwise the old line would pass for the new run's)
        other.wait_for_function("() => !document.querySelector('#train-status').innerText.includes('waiting:')")
        # asked again, it waits again; the first person's page still shows their own run, training
        other.locator("#start-btn").click()
        other.wait_for_function("() => document.querySelector('#train-status').innerText.includes('waiting: 1 ahead')")
        third = demo.runs.current
        assert third is not second
        assert third.status == RunStatus.QUEUED and "training on" in _shown(page, "train-status")
        # the first run ends (its person stops it): the waiting one starts by itself and trains to the end
        page.locator("#stop-btn").click()
        page.get_by_text("Run stopped").first.wait_for()
        other.get_by_text("images/s").first.wait_for()
        other.get_by_text("Test accuracy:").first.wait_for(timeout=SLOW)
        assert third.status == RunStatus.FINISHED and first.status == RunStatus.STOPPED
        assert third.checkpoint.stem in _shown(other, "train-result")
        assert first.checkpoint.stem in _shown(page, "train-result")  # each page shows its own run
        t0 = time.time()
        while time.time() - t0 < 2:  # and the first page stays on it
            assert third.checkpoint.stem not in _shown(page, "train-result")
            time.sleep(0.5)
    finally:
        other_browser.close()
