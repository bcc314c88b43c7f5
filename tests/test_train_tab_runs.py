"""Issue 36: the Train tab shows the person's Train run only (it showed their last Teach run,
"epoch 200.00"), and its plots' epoch axes read as people write numbers (ticks "1e+2 1.2e+2")."""

from __future__ import annotations

import re
import time

import gradio as gr
import pytest
from app_helpers import checkpoint
from page_helpers import app_page, data_dir_with_mnist, open_tab
from test_browser import _box, _quick_run
from test_teach_tab import made

from cnn.runs import RunManager
from ui import outputs, teach_tab, train_tab
from ui.common import AppContext


def _done(run, limit: float = 240) -> None:
    t0 = time.time()
    while not run.done:
        assert time.time() - t0 < limit, "the run did not end in time"
        run.wait(run.version, 1)


def test_the_train_tab_keeps_showing_the_train_run_after_a_teach_run(tmp_path):
    data = data_dir_with_mnist(tmp_path)
    ctx = AppContext(RunManager(tmp_path / "runs", data, device="cpu"), str(checkpoint("mnist")), "")
    settings = ("MNIST", "", "mnist_fast", "mnist_fast", 1, 64, 0.05, "sgd", "500", "100")
    train_tab.start(ctx, *settings, owner="me")
    trained = ctx.runs.run_for("me")
    _done(trained)
    list(teach_tab.teach(ctx, made(ctx, per_class=3), teach_tab.START[0], owner="me"))
    taught = ctx.runs.run_for("me")
    assert taught is not trained and taught.config.project is not None  # the scheduler's latest: Teach's
    shown = outputs.named(train_tab.TICKED, train_tab.tick(ctx, None, "me"))
    assert trained.checkpoint.stem in shown["result"] and taught.checkpoint.stem not in shown["result"]
    nobody = outputs.named(train_tab.TICKED, train_tab.tick(ctx, None, "someone-else"))
    assert all(v == gr.skip() for k, v in nobody.items() if k != "timer")  # nobody else's run either
    assert nobody["timer"].active is False


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as p:
        yield p


def test_epoch_ticks_read_as_people_write_numbers(page):
    open_tab(page, "Train")
    _quick_run(page, "200", "100")
    _box(page, "epochs").fill("200")  # an axis from 0 to 200 epochs, as a Teach run's was
    page.locator("#start-btn").click()
    ticks = "() => [...document.querySelectorAll('#loss-plot svg text')].map(t => t.textContent)"
    page.wait_for_function(f"() => ({ticks})().some(t => /^1\\d0$/.test(t))", timeout=180_000)
    labels = page.evaluate(ticks)
    page.locator("#stop-btn").click()
    numbers = [t for t in labels if re.fullmatch(r"[\d.,e+-]+", t)]
    assert "100" in numbers and not [t for t in numbers if "e" in t], labels
    page.locator("#loss-plot").screenshot(path=str(page.data_dir / "ticks.png"))
