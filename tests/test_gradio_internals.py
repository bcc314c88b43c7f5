"""What ui/gradio_internals.py relies on in Gradio, checked against the Gradio installed: each test
fails when a Gradio release changes it. Run this first when the lock file moves Gradio.

The replaced preprocess and the wrapped postprocess are checked end to end: a small app served by
Gradio on loopback and called through gradio_client, as a page's events are."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys

import gradio as gr
import pytest
from app_helpers import claimed_png, free_port
from gradio_client import Client, handle_file
from PIL import Image

from ui import gradio_internals
from ui.common import UNSURE_BELOW, headlined, raw_upload
from ui.uploads import checked_editor

UNSURE = "Not sure: maybe {} or {}"


def test_gradio_is_the_release_the_workarounds_were_written_for():
    """The workarounds cannot be checked by a unit test (they are about what the page draws): a new
    Gradio release fails here until each is checked by hand and WRITTEN_FOR moves."""
    assert gr.__version__.startswith(gradio_internals.WRITTEN_FOR + "."), (
        f"Gradio {gr.__version__}, the workarounds were written for {gradio_internals.WRITTEN_FOR}: check each, "
        "then update WRITTEN_FOR in ui/gradio_internals.py:\n"
        + "\n".join(f"- {where}: {what}" for where, what in gradio_internals.WORKAROUNDS.items())
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A two-event app: an Image made raw by raw_upload, and a Label headlined by headlined."""

    def upload_seen(x):  # what the handler was given: its type and the file's bytes' hash
        return f"{type(x).__name__}:{hashlib.sha256(open(x, 'rb').read()).hexdigest()}"

    def probabilities(_text):
        return {"cat": 0.30, "dog": 0.25, "truck": 0.20, "ship": 0.15, "frog": 0.10}

    with gr.Blocks() as demo:
        image = raw_upload(gr.Image(type="filepath"))
        seen = gr.Textbox()
        image.upload(upload_seen, image, seen, api_name="upload_seen")
        text = gr.Textbox()
        label = headlined(gr.Label(), UNSURE, "photo")
        text.submit(probabilities, text, label, api_name="probabilities")
        pad = checked_editor(gr.Sketchpad(type="pil"))
        pad.change(lambda v: f"{v['composite'].size}", pad, gr.Textbox(), api_name="drawing_size")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_a_replaced_preprocess_hands_the_handler_the_uploaded_file_itself(served, tmp_path):
    """Gradio calls the instance's preprocess: the handler gets the uploaded file's own bytes. Gradio's
    own Image preprocess would decode this grey-scale PNG and hand over an RGB copy (a .webp)."""
    photo = tmp_path / "grey.png"
    Image.new("L", (40, 30), 90).save(photo)
    got = served.predict(handle_file(str(photo)), api_name="/upload_seen")
    assert got == f"str:{hashlib.sha256(photo.read_bytes()).hexdigest()}"


def test_a_wrapped_sketchpad_preprocess_checks_the_drawing_before_gradio_decodes_it(served, tmp_path):
    """Gradio calls the instance's preprocess with the editor's files: a composite whose header claims
    50 megapixels is refused with the limit's message; a small drawing reaches the handler."""
    bomb, small = tmp_path / "bomb.png", tmp_path / "small.png"
    bomb.write_bytes(claimed_png(10_000, 5_000))
    Image.new("RGBA", (60, 50)).save(small)
    value = lambda p: {"background": None, "layers": [], "composite": handle_file(str(p))}
    assert served.predict(value(small), api_name="/drawing_size") == "(60, 50)"
    with pytest.raises(Exception, match="over 16 megapixels are refused"):
        served.predict(value(bomb), api_name="/drawing_size")


def test_a_wrapped_label_postprocess_puts_its_headline_on_the_page(served):
    """Gradio calls the instance's postprocess, and its LabelData carries the headline the page shows:
    "not sure" with the two best guesses, where Gradio's own headline would be "cat"."""
    assert 0.30 < UNSURE_BELOW["photo"]  # the handler's best probability is below the photo threshold
    got = served.predict("anything", api_name="/probabilities")
    assert got["label"] == "Not sure: maybe cat or dog"
    assert [c["label"] for c in got["confidences"]] == ["cat", "dog", "truck", "ship", "frog"]


def test_set_label_headline_changes_label_data_only():
    out = gr.Label().postprocess({"a": 0.9, "b": 0.1})
    assert isinstance(out, gradio_internals.LabelData) and out.label == "a"
    assert gradio_internals.set_label_headline(out, "headline") and out.label == "headline"
    assert not gradio_internals.set_label_headline("a message", "headline")


def test_gradio_still_imports_matplotlib_around_each_event_and_takes_a_none(monkeypatch):
    """skip_missing_matplotlib's reason: Gradio's route handler enters MatplotlibBackendMananger
    around every event, which imports matplotlib inside a try. If Gradio stops doing it, the
    workaround is dead code (remove it); if it stops catching the ImportError, it breaks every event."""
    from gradio import route_utils, utils

    assert "MatplotlibBackendMananger()" in inspect.getsource(route_utils)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with utils.MatplotlibBackendMananger():
        pass  # the import fails at once, and quietly


def test_skip_missing_matplotlib_only_where_none_is_installed(monkeypatch):
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())  # installed
    gradio_internals.skip_missing_matplotlib()
    assert "matplotlib" not in sys.modules
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # not installed
    gradio_internals.skip_missing_matplotlib()
    assert "matplotlib" in sys.modules and sys.modules["matplotlib"] is None


def test_blocks_have_no_attribute_of_the_names_attach_uses():
    """demo.ctx and demo.runs are the app's; a Gradio release that gives Blocks either name would
    have it overwritten."""
    demo = gr.Blocks()
    for name in gradio_internals.ATTACHED:
        assert not hasattr(demo, name) and not hasattr(gr.Blocks, name), name

    class Ctx:
        runs = object()

    ctx = Ctx()
    gradio_internals.attach(demo, ctx)
    assert demo.ctx is ctx and demo.runs is ctx.runs


def test_wrapped_page_events_are_the_ones_gradio_calls():
    """wrap_page_events reaches the handler Gradio calls for a page event, and leaves the named
    endpoints alone: served, the private event answers through the wrapper over HTTP (as a page
    calls it), the named endpoint with its own handler (through gradio_client)."""
    from page_client import Page

    from ui.gradio_internals import wrap_page_events

    with gr.Blocks() as demo:
        box, out = gr.Textbox(), gr.Textbox()
        box.submit(lambda v: v, box, out, api_name="echo")
        box.change(lambda v: v, box, out, api_visibility="private")
    calls = []

    def wrap(fn, outputs):
        assert outputs == 1  # the event's one output box

        def call(*a):
            calls.append(a)
            return f"wrapped {fn(*a)}"

        return call

    assert wrap_page_events(demo, wrap) == 1
    private = next(i for i, f in demo.fns.items() if f.api_visibility == "private")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    page = Page(f"http://127.0.0.1:{port}/")
    try:
        assert Client(f"http://127.0.0.1:{port}/", verbose=False).predict("x", api_name="/echo") == "x"
        assert calls == []  # the endpoint's handler is its own
        assert page.call(private, "y") == (True, ["wrapped y"])
        assert calls == [("y",)]
    finally:
        page.close()
        demo.close()
