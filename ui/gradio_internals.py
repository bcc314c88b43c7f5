"""Every place the app reaches into Gradio's internals, in one module, each with why.

The app is written for Gradio 6.31 (requirements.txt: gradio>=6.31,<7). What it relies on here is
not Gradio's documented API, so each item has a test in tests/test_gradio_internals.py that fails
when a Gradio release changes it: run that test first when the lock file moves Gradio.

- `replace_preprocess`: a component's `preprocess` replaced on the instance (raw uploads).
- `wrap_postprocess` and `set_label_headline`: a Label's `postprocess` wrapped, and the headline of
  Gradio's internal `LabelData` rewritten ("not sure" headlines).
- `skip_missing_matplotlib`: `sys.modules["matplotlib"] = None`, for Gradio's per-event import.
- `attach`: the app's context and run manager kept on the Blocks object (`demo.ctx`, `demo.runs`).
- `wrap_page_events`: every page event's handler wrapped after the app is built (`demo.fns`,
  `BlockFunction.fn`, `.api_visibility`), for the refusals that leave the page as it was.
- `current_request`: the request of the event being handled, from Gradio's `LocalContext` (a
  gr.render function is handed none).
- `page_being_built`: the gr.Blocks being built, from Gradio's `Context.root_block`.
- Gradio's own labels and DOM in the page's JavaScript (ui/static/*.js) and the browser tests are
  the other reliance on its internals, checked by those tests.
- `ScriptFirst`: a script put at the top of the page's <head>, before Gradio's own (the page's HTML
  from Gradio's template, which has no place for it: launch(head=) is added by Gradio's script later).
- `WORKAROUNDS`: the places that work around a Gradio 6.31 behaviour, checked by hand when Gradio
  moves (the test pins the version they were written for).

The page's JavaScript reaches Gradio's DOM (its tab buttons) and the PixiJS inside its drawing
editors in ui/static/page.js, named there (GRADIO_DOM, PIXI), and its status trackers' timer in
ui/static/frames.js (GRADIO); tests/test_page_idle.py checks both.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.components.label import LabelData  # internal: the model a Label's postprocess returns
from gradio.context import Context, LocalContext  # internal: what Gradio is building and serving now

# The Gradio release the workarounds below were written for and checked against.
WRITTEN_FOR = "6.31"

# Each: where it is, what Gradio did, and how to see whether a new release still needs it.
WORKAROUNDS = {
    "ui/runs_compare.py compare_plots": (
        "New LinePlots for each choice of runs (a gr.render), not new data for the old ones: Gradio 6.31's "
        "LinePlot, given data with new colour categories, kept drawing only the first run's lines. Check: "
        "Runs tab, choose two runs, then three; every run's line must show."
    ),
    "ui/design_link_open.py OPEN_TRAIN_TAB": (
        "A share link's Train tab is clicked by the page (ui/static/page.js), not sent as gr.Tabs(selected=) by "
        "the load event: Gradio 6.31 re-reads every component inside an event's outputs at every later event, "
        "and the Draw tab's drawing was rendered and uploaded again each time. Check: draw a digit, open every "
        "tab, sit idle: bench/browser_idle.py --after-stroke --every-tab counts no uploads."
    ),
    "ui/static/frames.js": (
        "The timer loop of the status tracker over the loading page is ended once the app is on the page: "
        "Gradio 6.31 takes that tracker off the page while still pending, and its loop asked for 60 frames a "
        "second for the page's life. Check: bench/browser_idle.py --loader-timer; when the row without frames.js "
        "also asks no frames a second, Gradio has mended it and frames.js (and ScriptFirst) can go."
    ),
    "ui/inside_tab.py ASKED": (
        "The Inside tab's event hook asks for the view the radio shows when the hook runs, read from Gradio's "
        "radio DOM (input:checked), not for the value Gradio read at the trigger: opening the tab, Gradio 6.31 "
        "read the inputs, then ran the hook after the tab showed, so a pick of Photo meanwhile was answered "
        "and then replaced by the drawing's view. Check: tests/test_browser_views.py::"
        "test_a_pick_made_as_the_tab_opens_is_the_view_that_stays with ASKED reduced to the stamp alone."
    ),
    "ui/train_view.py (acc_plot)": (
        "The accuracy plot is sent only once it has points: given an empty frame first, Gradio 6.31 left a "
        "coloured LinePlot blank for good. Check: start a run; the accuracy curve must appear after epoch 1."
    ),
}


def current_request() -> gr.Request | None:
    """The request of the event being handled, where Gradio hands a function no gr.Request (a
    gr.render function). Relies on: Gradio keeping it in `LocalContext.request`, a context variable
    set for the event's thread."""
    return LocalContext.request.get(None)


def page_being_built() -> gr.Blocks | None:
    """The page (gr.Blocks) whose `with` block is open, or None. Relies on: `Context.root_block`."""
    return Context.root_block


def replace_preprocess(component: gr.components.Component, preprocess: Callable[[Any], Any]) -> None:
    """Make Gradio hand a component's handler `preprocess(payload)` instead of its own conversion.

    Why: an Image's own preprocess decodes the upload with PIL before the handler sees it; the app
    decodes untrusted uploads itself (cnn.serving.decode), to refuse corrupt files and decompression
    bombs with a clear message. Relies on: Gradio calling `block.preprocess(payload)` on the
    component instance (an instance attribute, not a subclass: Gradio writes a .pyi stub beside
    the source of every component subclass), with a FileData payload (`.path`, `.url`)."""
    component.preprocess = preprocess


def wrap_preprocess(component: gr.components.Component, before: Callable[[Any], None]) -> None:
    """Make Gradio call `before(payload)` ahead of a component's own preprocess (which may raise).

    Why: a Sketchpad decodes its files with PIL itself; the app checks their headers first
    (cnn.limits) so that an oversized image is refused with a message, not decoded. Relies on:
    Gradio calling `block.preprocess(payload)` on the instance, with an EditorData payload
    (`background`, `layers`, `composite`: FileData with `.path`, or None)."""
    base = component.preprocess

    def preprocess(payload):
        before(payload)
        return base(payload)

    component.preprocess = preprocess


def wrap_postprocess(component: gr.components.Component, after: Callable[[Any, Any], Any]) -> None:
    """Make Gradio send `after(value, out)` to the page, where `out` is the component's own
    `postprocess(value)`. Relies on: Gradio calling `block.postprocess(value)` on the instance."""
    base = component.postprocess

    def postprocess(value):
        return after(value, base(value))

    component.postprocess = postprocess


def set_label_headline(out: Any, text: str) -> bool:
    """Put `text` as the headline of a Label's postprocessed value; False if `out` is not Gradio's
    LabelData (a message string, say). Why: Gradio's own headline is always the best class, however
    unlikely; the app headlines "Not sure ..." below its threshold. Relies on: a Label's
    postprocess returning `gradio.components.label.LabelData` with a `label` field the page shows."""
    if not isinstance(out, LabelData):
        return False
    out.label = text
    return True


def skip_missing_matplotlib() -> None:
    """Gradio imports matplotlib around every event (utils.MatplotlibBackendMananger, to switch its
    backend), inside a try. Where it is not installed, each of those failed imports searches sys.path
    again: 3% of the server's CPU under the load test. A None in sys.modules makes the import fail
    at once, and only where no matplotlib exists to be imported."""
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        sys.modules["matplotlib"] = None


# The attributes `attach` sets on a Blocks object: Gradio must not use these names itself.
ATTACHED = ("ctx", "runs")


def attach(demo: gr.Blocks, ctx: Any) -> None:
    """Keep the app's context (ui.common.AppContext) and its RunManager on the Blocks object, so
    that whoever holds the app (tests, the benchmarks, ui.launch) reaches them as `demo.ctx` and
    `demo.runs`. Relies on: gr.Blocks taking new attributes and having none of these names."""
    demo.ctx = ctx
    demo.runs = ctx.runs


def wrap_page_events(demo: gr.Blocks, wrap: Callable[[Callable, int], Callable]) -> int:
    """Replace the handler of every page event of `demo` (those with api_visibility "private", not
    the named API endpoints) by `wrap(handler, number of its outputs)`; the number wrapped. Why: a
    handler's gr.Error puts every output of its event into an error state that the person must close
    by hand (ui/refusals.py). Relies on: `Blocks.fns` mapping ids to BlockFunctions whose `fn` Gradio
    calls at each event, whose `outputs` are the event's and whose `api_visibility` says whether it
    is an endpoint."""
    wrapped = 0
    for block_fn in demo.fns.values():
        if block_fn.fn is not None and block_fn.api_visibility == "private":
            block_fn.fn = wrap(block_fn.fn, len(block_fn.outputs))
            wrapped += 1
    return wrapped


class ScriptFirst:
    """ASGI middleware: the page (a GET of "/" answered with HTML) gets `<script>{script}</script>`
    as the first thing in its <head>, before Gradio's own scripts. Why: Gradio's modules keep their
    own reference to browser functions they load with (its status tracker's requestAnimationFrame),
    so a script that wraps one must run first (ui/static/frames.js); launch(head=) is added by
    Gradio's page script, after them. Relies on: Gradio's index.html template having one plain
    `<head>` and the page answered uncompressed (a compressed one is passed on unchanged)."""

    def __init__(self, app, script: str):
        self.app, self.tag = app, f"<script>{script}</script>".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            return await self.app(scope, receive, send)
        held: dict = {}
        body: list[bytes] = []

        async def hold(message):
            if message["type"] == "http.response.start":
                held.update(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            kind = dict((k.lower(), v) for k, v in headers)
            page = b"".join(body)
            if b"text/html" in kind.get(b"content-type", b"") and b"content-encoding" not in kind:
                page = page.replace(b"<head>", b"<head>" + self.tag, 1)
            await send({**held, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        return await self.app(scope, receive, hold)
