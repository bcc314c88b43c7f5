"""Teach keeps exactly what was drawn, at a person's quickest pace, on a page slowed down 4x
(tests/slow_page.py): six drawings per class, each a known shape at its own place, each begun the
moment the last stroke of the one before ended and its Add was clicked, while the server holds every
save back until all six are drawn (saving happens behind the pen: ui/teach_canvas.py); then each
stored example is checked against its own drawing (its ink where that drawing was, and nothing of
the drawing before it), none twice, none lost."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from page_helpers import app_page, box, draw_shape, error_badges, open_tab, wait_brush
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cnn.projects import Project, list_projects
from ui import teach_view

PER_CLASS = 6
BRUSH = 0.03  # the Teach brush (18 px of 420) as a fraction of the canvas, with room for smoothing


def circle(i: int) -> list:
    """A hexagon, each a little further down and right."""
    cx, cy, r = 0.3 + 0.08 * i, 0.3 + 0.08 * i, 0.12
    return [[(cx + r * math.cos(a * math.pi / 3), cy + r * math.sin(a * math.pi / 3)) for a in range(7)]]


def line(i: int) -> list:
    y = 0.15 + 0.14 * i
    return [[(0.25, y), (0.75, y)]]


SHAPES = {"circle": circle, "line": line}


def expected_box(strokes: list) -> np.ndarray:
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    return np.array([min(xs), min(ys), max(xs), max(ys)])


def ink_box(path) -> np.ndarray:
    """The stored example's ink (dark opaque pixels: the canvas is stored on white) as (left, top,
    right, bottom) fractions of its size."""
    rgba = np.asarray(Image.open(path).convert("RGBA"))
    a = (rgba[..., 3] > 128) & (rgba[..., :3].mean(-1) < 128)
    ys, xs = np.nonzero(a)
    h, w = a.shape
    return np.array([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h])


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory) as pg:  # (slowed down for the drawing: see the test)
        yield pg


@pytest.fixture(autouse=True)
def full_speed_after(page):
    yield
    page.throttle(1)  # (a test slows the page for itself only)


def summary_has(page, text: str, timeout: float = 300_000) -> None:
    try:
        page.wait_for_function(
            f"() => document.querySelector('#teach-summary').innerText.includes({text!r})", timeout=timeout
        )
    except Exception as e:  # say what the page shows instead, and what is stored
        shown = page.locator("#teach-summary").inner_text()
        toasts = page.evaluate("() => window.cnnMessages || []")
        stored = {p.name: {c.name: c.count for c in p.classes()} for p in list_projects(page.data_dir)}
        raise AssertionError(f"{text!r} not in the summary: {shown!r}; messages: {toasts}; stored: {stored}") from e


def created(page, name: str, with_class: str | None = None) -> None:
    """Project `name` made on the Teach tab and shown, with one class (empty, picked) if given."""
    open_tab(page, "Teach")
    box(page, "teach-new-name").fill(name)
    page.locator("#teach-create").click()
    summary_has(page, name)
    if with_class:
        box(page, "teach-new-class").fill(with_class)
        page.locator("#teach-add-class").click()
        summary_has(page, f"{with_class}: 0")
        page.wait_for_function(f"() => document.querySelector('#teach-add').innerText.includes('Add to {with_class}')")


# every message the page showed, kept (a toast goes away by itself), for a failure to say
KEEP_MESSAGES = """() => { window.cnnMessages = []; new MutationObserver(() => {
  for (const t of document.querySelectorAll('.toast-body')) {
    if (!t.dataset.kept) { t.dataset.kept = '1'; window.cnnMessages.push(t.innerText); } }
}).observe(document.body, {childList: true, subtree: true}); }"""


class HeldSaves:
    """The server's saving held back while the page draws (a busy server, made certain): every drawing
    after the first is drawn while the ones before are still on their way, so the page may wait for
    no answer. Released, the saves go through in order."""

    def __init__(self, monkeypatch):
        self.gate = threading.Event()
        add = Project.add_example

        def held_add(project, name, image):
            assert self.gate.wait(120), "the saves were never released"
            return add(project, name, image)

        monkeypatch.setattr(Project, "add_example", held_add)


def test_quick_hands_on_a_slow_page_store_each_drawing_once_as_drawn(page, monkeypatch):
    page.evaluate(KEEP_MESSAGES)
    saves = HeldSaves(monkeypatch)
    created(page, "Quick hands")
    for name, shape in SHAPES.items():
        page.throttle(1)  # (typed names reach the page's state late on a slowed page; that is not tested here)
        box(page, "teach-new-class").fill(name)
        page.locator("#teach-add-class").click()
        summary_has(page, f"{name}: 0")
        page.wait_for_function(f"() => document.querySelector('#teach-add').innerText.includes('Add to {name}')")
        wait_brush(page, "teach-sketch")
        page.throttle(4)
        saves.gate.clear()
        for i in range(PER_CLASS):  # drawn and added at once: the next stroke starts right after the click
            draw_shape(page, "teach-sketch", shape(i))
            page.locator("#teach-add").click()
            print(name, i, "drawn and added", flush=True)
        saves.gate.set()
        summary_has(page, f"{name}: {PER_CLASS}")
        page.wait_for_function("() => !document.querySelector('#teach-sketch .teach-saving').innerText")
    assert error_badges(page) == 0
    (project,) = [p for p in list_projects(page.data_dir) if p.name == "Quick hands"]
    project = Project.open(project.path)
    for name, shape in SHAPES.items():
        files = project.examples(name)
        assert len(files) == PER_CLASS, f"{name}: {len(files)} examples stored"
        got = [ink_box(f) for f in files]
        for i in range(PER_CLASS):
            want = expected_box(shape(i))
            # its own drawing: one stored example has ink where drawing i was, reaching no further (a
            # drawing merged with the one before it spans another place; saves may finish in any order)
            mine = [g for g in got if np.all(np.abs(g - want) < BRUSH + 0.03)]
            print(name, i, np.round(want, 3), [np.round(g, 3) for g in mine])
            assert len(mine) == 1, f"{name} drawing {i} at {want}: stored as {len(mine)} examples; all: {got}"


class HeldOpening:
    """The server's opening and creating of projects held back (a busy server, made certain) until
    release(): the page meanwhile still shows the project open before."""

    def __init__(self, monkeypatch):
        self.gate = threading.Event()
        self.gate.set()
        create, open_ = Project.create.__func__, Project.open.__func__

        def held(real):
            def method(cls, *args, **kwargs):
                assert self.gate.wait(120), "the opening was never released"
                return real(cls, *args, **kwargs)

            return classmethod(method)

        monkeypatch.setattr(Project, "create", held(create))
        monkeypatch.setattr(Project, "open", held(open_))

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()


def classes_of(page, name: str) -> list[str]:
    (found,) = [p for p in list_projects(page.data_dir) if p.name == name]
    return [c.name for c in Project.open(found.path).classes()]


def add_class_while_opening(page, opening: HeldOpening, open_it, name: str, new_class: str) -> None:
    """open_it() starts opening project `name` while the server holds it; a click on Add class meanwhile
    is not taken (the panels below are greyed out: it would go with the project shown before); once
    the project shows, the class goes into it."""
    opening.hold()
    open_it()
    page.wait_for_function("() => document.body.classList.contains('cnn-teach-opening')", timeout=10_000)
    box(page, "teach-new-class").fill(new_class)
    try:  # greyed out and inert: the click reaches nothing, or nothing that acts
        page.locator("#teach-add-class").click(timeout=1500)
    except PlaywrightTimeout:
        pass
    opening.release()
    summary_has(page, name)
    page.wait_for_function("() => !document.body.classList.contains('cnn-teach-opening')")
    time.sleep(1)  # (a click taken meanwhile would have been answered by now)
    taken = [p.name for p in list_projects(page.data_dir) if new_class in classes_of(page, p.name)]
    assert taken == [], f"the click made while {name} opened added {new_class!r} to {taken}"
    page.locator("#teach-add-class").click()
    summary_has(page, f"{new_class}: 0")


def test_a_class_added_while_a_project_opens_goes_into_that_project(page, monkeypatch):
    """Create, or pick another project, then at once add a class: the class goes into the project just
    created or picked. (On a busy server the click went with the project shown before: "Open a project
    first" after Create, and into the project open before after a pick.)"""
    opening = HeldOpening(monkeypatch)
    created(page, "Ants")

    def create_bees():
        box(page, "teach-new-name").fill("Bees")
        page.locator("#teach-create").click()

    add_class_while_opening(page, opening, create_bees, "Bees", "wings")

    def pick_ants():
        page.locator("#teach-project input").click()
        page.get_by_role("option", name="Ants").click()

    add_class_while_opening(page, opening, pick_ants, "Ants", "legs")
    assert (classes_of(page, "Ants"), classes_of(page, "Bees")) == (["legs"], ["wings"])
    assert error_badges(page) == 0


class LateFirstSummary:
    """The first summary the server works out for the project goes out only after a second one has
    been worked out (waiting at most 3 s: the next drawing's is that quick), and 0.5 s later (a busy
    server, made certain): an answer computed early then reaches the page after one computed later."""

    def __init__(self, monkeypatch):
        real, self.calls, second, lock = teach_view.summary, 0, threading.Event(), threading.Lock()

        def late(project):
            text = real(project)
            with lock:  # (the server's threads call it side by side: exactly one is the first)
                self.calls += 1
                first = self.calls == 1
            if first:
                second.wait(3)
                time.sleep(0.5)
            else:
                second.set()
            return text

        monkeypatch.setattr(teach_view, "summary", late)


def test_the_count_shown_is_the_count_stored_when_answers_cross(page, monkeypatch):
    """Two drawings added at once, the first one's answer late: the page ends on two examples, as on
    disk (it showed the late answer's one: each add's answer was shown as it came, in any order)."""
    created(page, "Crossing", with_class="dot")
    wait_brush(page, "teach-sketch")
    late = LateFirstSummary(monkeypatch)
    for i in range(2):
        draw_shape(page, "teach-sketch", line(i))
        page.locator("#teach-add").click()
    summary_has(page, "dot: 2", timeout=20_000)
    page.wait_for_function("() => !document.querySelector('#teach-sketch .teach-saving').innerText")
    time.sleep(3)  # (the late answer has come by now)
    shown = page.locator("#teach-summary").inner_text()
    assert "dot: 2" in shown, f"the page shows {shown!r} with two examples stored (summaries worked out: {late.calls})"
    (found,) = [p for p in list_projects(page.data_dir) if p.name == "Crossing"]
    assert len(Project.open(found.path).examples("dot")) == 2


def test_two_classes_added_in_quick_succession_both_arrive_the_last_picked(page, monkeypatch):
    """Add class, type the next name and Add class again before the server has answered: both classes
    are made, in order, and the page ends on the second (Gradio dropped a click made while the first
    was on its way: the class typed second was lost, with no message)."""
    created(page, "Quick classes")
    gate, add = threading.Event(), Project.add_class

    def held_add(project, name):
        assert gate.wait(60), "the class was never released"
        return add(project, name)

    monkeypatch.setattr(Project, "add_class", held_add)
    for name in ("cat", "dog"):
        box(page, "teach-new-class").fill(name)
        page.locator("#teach-add-class").click()
    time.sleep(0.5)  # (the second click has gone out by now, or been dropped)
    gate.set()
    summary_has(page, "dog: 0", timeout=20_000)
    time.sleep(1)  # (no older answer comes after)
    assert classes_of(page, "Quick classes") == ["cat", "dog"]
    assert "dog" in page.locator("#teach-class input").input_value()
    assert error_badges(page) == 0
