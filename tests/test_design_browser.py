"""The layer editor end to end in a real browser (Playwright, Debian's chromium, headless): build a
network by editing a preset (remove a layer, change a kernel), train it on a small MNIST subset,
draw a digit for it in the Draw tab, open its share link in a fresh browser and find the same
design, continue it from the Runs tab and find its design in the editor; a broken design says which
layer is wrong, starts nothing and shows no error badge; a bad link is said and the page works; the
editor on a phone's 390-pixel-wide screen.

Screenshots go to .scratch/screenshots/ (docs/screenshots/ with CNN_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import time

import pytest
from app_helpers import screenshot_dir
from test_browser import (
    SLOW,
    _box,
    _pick,
    _quick_run,
    _shown,
    _toast,
    _wait_value,
    app_page,
    draw_stroke,
    open_tab,
    shot,
)

from ui.design_editor import MODEL_LABEL


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    yield from app_page(tmp_path_factory)


def _design(page) -> list:
    """The design the page holds, as its JSON view shows it."""
    open_view(page, "JSON")
    return json.loads(page.locator("#design-json .cm-content").inner_text())


def open_view(page, name: str) -> None:
    page.locator("#design-views").get_by_role("tab", name=name).click()


def _cell(page, row: int, col: int):
    """The table's cell at (row, col), 0-based (Gradio's table draws only the rows in view)."""
    return page.locator(f"#design-table [data-testid=cell-{row}-{col}]")


def _row_text(page, row: int) -> str:
    return page.locator(f"#design-table .virtual-row[data-index='{row}']").inner_text()


def _rows(page) -> int:
    return int(page.locator("#design-table [role=grid]").get_attribute("aria-rowcount")) - 1


def _wait_rows(page, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#design-table [role=grid]')?.getAttribute('aria-rowcount') === '{n + 1}'"
    )


def _row(page, n: int) -> None:
    """Click the table's row n (1-based) to edit that layer."""
    _cell(page, n - 1, 1).click()
    page.wait_for_function(
        f"() => document.querySelector('#design-selected').innerText.includes('Editing layer {n} of')"
    )


def _message(page) -> str:
    return _shown(page, "design-message")


def _wait_message(page, text: str) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#design-message').innerText.includes({text!r})", timeout=SLOW
    )


def _error_badges(page) -> int:
    """Components marked with Gradio's red 'Error' status."""
    return page.locator("[data-testid=status-tracker]").get_by_text("Error", exact=True).count()


def _open_editor(page) -> None:
    open_tab(page, "Train")
    _pick(page, "model", MODEL_LABEL)  # the design as the model: the editor opens, its recipe is chosen
    _wait_value(page, "recipe", "design")
    page.locator("#design-table").wait_for()


def test_build_train_draw_and_share_a_design(page):
    design = _edit_a_preset(page)
    run = _train_it_briefly(page, design)
    _draw_with_it(page)
    _share_link_opens_it(page, design)
    _continue_opens_it(page, run, design)


def _edit_a_preset(page) -> list:
    """A preset opened, a layer removed and another changed; its code, picture and estimate; the design."""
    _open_editor(page)
    _pick(page, "design-preset", "seed002_net")  # a small MNIST net: 4 channels, 2 convolutions
    page.locator("#design-open").click()
    _wait_message(page, "2,174 parameters")
    start = _design(page)
    assert [x["layer"] for x in start][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    # remove layer 2 (the first BatchNorm2d)
    _row(page, 2)
    assert page.locator("#design-kind input").input_value() == "BatchNorm2d"
    page.locator("#design-remove").click()
    _wait_message(page, "2,166 parameters")  # its 8 parameters are gone
    # change layer 1's kernel: 3x3 -> 5x5 (padding 2 keeps the shape)
    _row(page, 1)
    args = _box(page, "design-args")
    assert "kernel_size=3" in args.input_value()
    args.fill("out_channels=4, kernel_size=5, padding=2")
    page.locator("#design-apply").click()
    _wait_message(page, "2,230 parameters")  # 4 x 25 weights instead of 4 x 9
    design = _design(page)
    assert len(design) == len(start) - 1 and design[0]["kernel_size"] == 5 and design[1]["layer"] == "ReLU"
    assert "4×28×28" in _row_text(page, 0) and "kernel_size=5" in _row_text(page, 0)
    open_view(page, "PyTorch code")
    assert "nn.Conv2d(1, 4, kernel_size=5, padding=2)" in page.locator("#design-code").inner_text()
    open_view(page, "Picture")
    assert page.locator("#design-picture svg").count() == 1
    page.locator("#design-estimate-btn").click()
    page.get_by_text("s per epoch").first.wait_for()
    assert _error_badges(page) == 0
    shot(page, "design", "#design-editor")  # (a 1280x800 crop, as every README screenshot)
    return design


def _train_it_briefly(page, design: list):
    """Trained briefly, with the live curve and the results like any model: the run."""
    _quick_run(page, "1500", "300")
    _box(page, "epochs").fill("1")
    before = page.demo.runs.current
    page.locator("#start-btn").click()
    page.get_by_text("Test accuracy:").first.wait_for(timeout=180_000)
    run = page.demo.runs.current
    assert run is not before and run.status == "finished" and run.config.layers == design
    page.locator("#loss-plot").locator("canvas, svg").first.wait_for()
    return run


def _draw_with_it(page) -> None:
    """Used in the Draw tab: its checkpoint rebuilds the design, and a stroke gets an answer."""
    page.locator("#to-draw").click()
    page.get_by_text("The Draw tab now uses").first.wait_for()
    open_tab(page, "Draw")
    page.wait_for_function("() => !document.querySelector('#sketch').innerText.includes('select the draw tool')")
    box = page.locator("#sketch canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s = min(box["width"], box["height"]) * 0.55
    # (the sketchpad drops the first stroke after "Use this model" switched tabs, in the app as it is,
    # whatever the model: draw the stroke twice)
    for _ in range(2):
        draw_stroke(page, [(cx, cy - 0.45 * s), (cx, cy + 0.45 * s)])
        time.sleep(1)
    # an answer: a digit, or the two it is unsure between (a model trained on 1,350 images for an epoch)
    page.wait_for_function("() => /[0-9]/.test(document.querySelector('#digit-label .output-class')?.innerText || '')")
    assert page.locator("#digit-label").get_by_text("%").count() >= 10
    assert "Conv4-MaxPool-Conv4-MaxPool-Linear10 trained on mnist" in page.locator("#draw-about").inner_text()


def _share_link_opens_it(page, design: list) -> None:
    """The share link opens the same design, data set and recipe in a fresh browser."""
    open_tab(page, "Train")
    page.locator("#design-share-btn").click()
    page.wait_for_function(
        "() => document.querySelector('#design-link textarea, #design-link input').value.includes('?design=')"
    )
    link = _box(page, "design-link").input_value()
    assert link.startswith(page.app_url) and "dataset=mnist" in link and "recipe=design" in link
    other = page.other_browser()
    try:
        fresh = other.new_page()
        fresh.set_default_timeout(SLOW)
        fresh.goto(link)
        open_tab(fresh, "Train")
        fresh.locator("#design-table").wait_for()
        _wait_value(fresh, "model", MODEL_LABEL)
        _wait_message(fresh, "2,230 parameters")
        assert _design(fresh) == design
        assert fresh.locator("#recipe input").input_value() == "design"
        assert _box(fresh, "epochs").input_value() == "1"
    finally:
        other.close()


def _continue_opens_it(page, run, design: list) -> None:
    """Runs' "Continue training" opens the run's own design in the editor, whatever was open there."""
    _pick(page, "design-preset", "LeNet-5")
    page.locator("#design-open").click()
    _wait_message(page, "61,706 parameters")
    open_tab(page, "Runs")
    page.locator("#runs-refresh").click()
    key = run.checkpoint.stem
    page.wait_for_function(f"() => document.querySelector('#runs-table').innerText.includes({key!r})")
    _pick(page, "runs-chosen", key)
    page.locator("#runs-continue").click()
    _wait_value(page, "model", MODEL_LABEL)
    _wait_message(page, "2,230 parameters")
    assert _design(page) == design and _error_badges(page) == 0


def test_a_broken_design_is_named_and_nothing_starts(page):
    page.goto(page.app_url)  # a page of its own (the test before drew on this one's Draw tab)
    _open_editor(page)
    open_view(page, "JSON")
    broken = [
        {"layer": "Conv2d", "out_channels": 8, "kernel_size": 3},
        {"layer": "MaxPool2d", "kernel_size": 2},
        {"layer": "Conv2d", "out_channels": 8, "kernel_size": 15},
        {"layer": "Flatten"},
        {"layer": "Linear"},
    ]
    page.locator("#design-json .cm-content").fill(json.dumps(broken))
    page.locator("#design-json-apply").click()
    _wait_message(page, "layer 3, Conv2d")
    assert "does not fit the 13x13 input" in _message(page) and "add padding" in _message(page)
    _wait_rows(page, 5)  # the list follows the JSON
    before = page.demo.runs.current
    page.locator("#start-btn").click()
    assert "layer 3, Conv2d" in _toast(page, "layer 3, Conv2d")
    time.sleep(1.5)
    assert page.demo.runs.current is before  # no run started
    # malformed JSON: a message, and the design stays as it was
    page.locator("#design-json .cm-content").fill('[{"layer": "Conv2d"')
    page.locator("#design-json-apply").click()
    _wait_message(page, "The JSON could not be read")
    assert _rows(page) == 5
    # an edit that cannot be read: a message, the layer stays
    _row(page, 3)
    _box(page, "design-args").fill("kernel_size=")
    page.locator("#design-apply").click()
    _wait_message(page, "Could not read")
    assert "kernel_size=15" in _row_text(page, 2)
    # too big: its size and the limit (4096 x 25 x 25 features into the classifier: 25.6 M parameters)
    _box(page, "design-args").fill("out_channels=4096, kernel_size=3, padding=7")
    page.locator("#design-apply").click()
    _wait_message(page, "too big")
    assert "the limit is" in _message(page)
    assert _error_badges(page) == 0


def test_a_bad_link_is_said_and_the_page_works(page):
    page.goto(page.app_url + "?design=not-base64!!&dataset=imagenet&epochs=-3")
    toast = _toast(page, "Part of this link could not be used")
    assert "design is damaged" in toast and "unknown data set 'imagenet'" in toast and "epochs='-3'" in toast
    open_tab(page, "Train")
    assert page.locator("#dataset input").input_value() == "MNIST"
    _open_editor(page)
    _pick(page, "design-preset", "LeNet-5")
    page.locator("#design-open").click()
    _wait_message(page, "61,706 parameters")
    assert _error_badges(page) == 0


def test_the_editor_on_a_phone(page):
    phone = page.context.new_page()
    try:
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.set_default_timeout(SLOW)
        phone.goto(page.app_url)
        _open_editor(phone)
        _row(phone, 4)
        phone.locator("#design-remove").click()
        _wait_rows(phone, 11)
        for elem in ("design-apply", "design-add", "design-remove", "design-up", "design-down", "design-args"):
            b = phone.locator(f"#{elem}").bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 390, elem  # every control on the screen
        time.sleep(0.5)
        phone.locator("#design-editor").screenshot(path=str(screenshot_dir() / "design-phone.png"))
    finally:
        phone.close()


def test_quick_edits_on_a_busy_server_all_apply_in_order(page, monkeypatch):
    """Three quick "Add after" and a "Remove" while the server takes 0.7 s an answer (a busy server,
    made certain): every click applies, each to the design the one before left. (Side by side, or
    dropped while one was on its way, three clicks added one layer: ui/design_editor.py, EDIT.)"""
    import ui.design_editor as editor

    answer, answered = editor.answer, []

    def slow_answer(*args, **kwargs):
        time.sleep(0.7)
        answered.append(len(args[0]))  # the layers each answer was made for
        return answer(*args, **kwargs)

    _open_editor(page)
    _pick(page, "design-preset", "seed002_net")
    page.locator("#design-open").click()
    _wait_message(page, "2,174 parameters")
    start = _design(page)
    monkeypatch.setattr(editor, "answer", slow_answer)
    _row(page, 1)
    answered.clear()
    for button in ("add", "add", "add", "remove"):
        page.locator(f"#design-{button}").click()
    n = len(start)
    for _ in range(600):  # each click answered, one after another, each on the design before it
        if len(answered) >= 4:
            break
        time.sleep(0.1)
    assert answered == [n + 1, n + 2, n + 3, n + 2], answered
    _wait_rows(page, n + 2)
    got = _design(page)
    assert len(got) == n + 2, [d["layer"] for d in got]
    # each Add put a copy of the selected layer after it and selected the copy; Remove took the last copy
    assert [d["layer"] for d in got] == [start[0]["layer"]] * 3 + [d["layer"] for d in start[1:]]
    assert _error_badges(page) == 0
