"""What every tab shares: the app context, friendly errors, raw uploads, and handler binding."""

from __future__ import annotations

import base64
import functools
import html
import inspect
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from cnn.errors import CnnError
from cnn.projects import projects_root
from cnn.run_index import RunEntry, find_run
from cnn.runs import RunManager
from cnn.serving.onnx_runtime import checkpoint_onnx
from cnn.serving.predictor import Predictor, cached_predictor

from . import downloads
from .gradio_internals import replace_preprocess, set_label_headline, wrap_postprocess
from .identity import Identity

ROOT = Path(__file__).resolve().parents[1]
RUN_GONE = "This run was deleted; choose another in the Runs tab."
# A tab's model changed: its old answer goes at once, in the page, before any request (a slow page
# showed it for seconds under the new model's name and classes); the new model's answer follows.
CLEAR_ANSWER = "() => [{label: 'Reading it again with the new model…', confidences: []}, null]"
# The Train tab's data set choices: what each names (None: an image folder's path, typed in).
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist", "CIFAR-10": "cifar10", "Image folder": None}
DATASET_CHOICES = {v: k for k, v in DATASETS.items() if v}  # "mnist" -> "MNIST": the names back to the choices
PREDICT = dict(concurrency_id="predict", concurrency_limit=8)  # the events that run a model
# A prediction whose best calibrated probability (softmax(logits / T), the checkpoint's temperature)
# is below its tab's threshold is headlined as unsure, with the two best guesses. Chosen on held-out
# data by bench/unsure_threshold.py (logs: docs/benchmarks/cpu/unsure_threshold_draw_mid.log, unsure_threshold.log;
# docs/calibration.md): the highest threshold that keeps 99% of in-distribution answers confident (MNIST
# test digits drawn on the canvas, CIFAR-10 test photos; shipped models). On the half the choice
# never saw, 0.85 keeps 99.10% of digits confident and flags 45% of drawn letters and shapes; 0.43
# keeps 98.96% of photos and flags 18% of MNIST digits shown as photos.
UNSURE_BELOW = {"digit": 0.85, "photo": 0.43}
log = logging.getLogger("cnn-playground")


@dataclass
class AppContext:
    """What the handlers share: the training runs and the shipped checkpoints of the two tabs.

    With logins (`logins` True) each user's runs and projects are their own (cnn.owners): every
    handler that lists, opens, loads, continues, downloads or deletes one takes the event's
    gr.Request and asks here for that user's folder. A run or project of another user is "not
    there" to them, in the same words as one that never was."""

    runs: RunManager
    draw_checkpoint: str
    photo_checkpoint: str
    logins: bool = False
    identity: Identity | None = None  # per-browser mode: others reach the app without logins (ui.identity)
    admins: frozenset = frozenset()  # logins that see and stop every run (the teacher's panel)

    def shipped(self, where: str) -> str:
        """The shipped checkpoint of the 'draw' or 'photo' tab."""
        return self.draw_checkpoint if where == "draw" else self.photo_checkpoint

    def owner(self, request: gr.Request | None) -> str | None:
        """Whose work the request may read or change, as the server knows it: the logged-in user;
        in per-browser mode the browser's verified identity (ui.identity); None on an app only this
        computer reaches, one person's machine. With logins a request without a user is refused:
        Gradio asks everyone to log in, so only a bug could send one."""
        if self.identity is not None and not self.logins:
            return self.identity.owner_of(request)
        if not self.logins:
            return None
        name = getattr(request, "username", None)
        if not name:
            raise CnnError("Log in first: this app keeps each person's runs and projects apart.")
        return name

    def person(self, request: gr.Request | None) -> str | None:
        """Who holds a place in the queue beyond a session or login: in per-browser mode the
        client's address (one script with many sessions is one person), else None."""
        if self.identity is None or self.logins:
            return None
        return self.identity.person_of(request)

    def is_admin(self, request: gr.Request | None) -> bool:
        """Whether the request comes from a login named by --admins (a teacher)."""
        return bool(self.logins and getattr(request, "username", None) in self.admins)

    def runs_dir_for(self, request: gr.Request | None) -> Path:
        """The folder of the requesting user's runs (the runs folder itself without logins)."""
        return self.runs.runs_dir_for(self.owner(request))

    def projects_dir_for(self, request: gr.Request | None) -> Path:
        """The folder of the requesting user's Teach projects (<data dir>/projects/users/<user>/)."""
        return projects_root(self.runs.data_dir, self.owner(request))

    def shared_runs_dir(self) -> Path | None:
        """In per-browser mode, the app's own runs folder (runs made by the command line, or before the
        app was shared): every browser sees its runs, read-only ('shared/<name>'). None otherwise."""
        return self.runs.runs_dir if self.identity is not None and not self.logins else None

    def kept_run(self, key: str | None, request: gr.Request | None = None) -> RunEntry:
        """The requesting user's kept run named key, as the Runs tab lists it (the shipped
        checkpoints included, shared by all, and the shared runs in per-browser mode)."""
        shipped = (self.draw_checkpoint, self.photo_checkpoint)
        return find_run(self.runs_dir_for(request), key or "", shipped, self.shared_runs_dir())

    def usable_run(
        self, key: str | None, purpose: str = "", advice: str = "", request: gr.Request | None = None
    ) -> RunEntry:
        """kept_run, refused with why when its checkpoint cannot be used: "<key> has no usable
        checkpoint<purpose>: <its problems>.<advice>"."""
        e = self.kept_run(key, request)
        if not e.usable:
            raise CnnError(
                f"{e.key} has no usable checkpoint{purpose}: {'; '.join(e.problems) or 'unreadable'}.{advice}"
            )
        return e

    def predictor(self, path: str | None, what: str) -> Predictor:
        """The model at path ('digit' or 'photo'), or a CnnError that says how to get one."""
        if path and path not in (self.draw_checkpoint, self.photo_checkpoint) and not Path(path).is_file():
            raise CnnError(RUN_GONE)  # a kept run deleted meanwhile (by this person on another page, or a cleanup)
        if not path or not Path(path).is_file():
            flag = "mnist" if what == "digit" else "cifar"
            raise CnnError(
                f"No {what} model checkpoint at {path}. Train one in the Train tab and load "
                f"it, or start the app with --{flag}-checkpoint PATH."
            )
        return cached_predictor(path)

    def about(self, path: str | None, what: str) -> str:
        """A line on the model a tab uses, or why it has none."""
        try:
            p = self.predictor(path, what)
            ms = p.backend_ms.get(p.backend)
            speed = f", {ms:.2f} ms per image" if ms is not None else ""
            calibrated = f", calibrated: T = {p.temperature:.3g}" if p.temperature != 1.0 else ""
            return (
                f"Model: **{md(p.describe(self.runs.data_dir))}** · served by **{p.backend_label}**{speed}{calibrated}"
            )
        except CnnError as exc:
            return f"⚠️ {exc}"


ERROR_SECONDS = 8  # an error's toast goes after this long, so old ones do not pile up


MARKDOWN_SPECIAL = "\\`*_[]<>|~#"


def opens_tab(tab_id: str | None = None) -> str:
    """An event's js that opens the page's tab `tab_id` (None: the tab its one input names) as a click
    on the tab's button would. Never `gr.Tabs(selected=)` as an output: Gradio 6.31 would then re-read
    every component of the page at every later event (ui/static/page.js says why)."""
    if tab_id is None:
        return "(tab) => { if (tab) window.cnnPage?.openTab(tab); }"
    return f"() => window.cnnPage?.openTab({tab_id!r})"


def md(text: str) -> str:
    """A name a person typed (a class, a project), shown as typed inside Markdown: its characters that
    Markdown or HTML would read (** emphasis, [links], <tags>, | table cells) backslash-escaped."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in str(text))


def error(message: str) -> gr.Error:
    """A message for the page: escaped, since Gradio renders it as HTML and it may hold a file name."""
    return gr.Error(html.escape(message, quote=False), duration=ERROR_SECONDS, print_exception=False)


def _page_error(fn, exc: Exception) -> gr.Error:
    if isinstance(exc, CnnError):
        return error(str(exc))
    log.exception("unexpected error in %s", fn.__name__)
    return error(f"Something went wrong ({type(exc).__name__}: {str(exc)[:200]}).")


def friendly(fn):
    """Every handler's errors: a CnnError's message (or a short note for anything unexpected) on the
    page instead of a crash. Works on plain functions and on generators (streaming handlers)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise _page_error(fn, exc) from None

        return stream
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def astream(*args, **kwargs):
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except gr.Error:
                raise
            except Exception as exc:
                raise _page_error(fn, exc) from None

        return astream

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise _page_error(fn, exc) from None

    return inner


def bind(fn, *args):
    """functools.partial(fn, *args) for a handler that takes a gr.Request: Gradio finds that parameter
    by its type hint, which a partial object hides, so this returns a real function (a generator
    function when fn is one) with the partial's signature and fn's type hints."""
    bound = functools.partial(fn, *args)
    if inspect.isgeneratorfunction(fn):

        def call(*a, **kw):
            yield from bound(*a, **kw)
    elif inspect.isasyncgenfunction(fn):

        async def call(*a, **kw):
            async for item in bound(*a, **kw):
                yield item
    else:

        def call(*a, **kw):
            return bound(*a, **kw)

    functools.update_wrapper(call, fn)
    call.__signature__ = inspect.signature(bound)
    return call


def raw_upload(component: gr.Image) -> gr.Image:
    """Make an Image component hand its handler the uploaded file's path (or a pasted image's bytes)
    without decoding it, so that cnn.serving decodes it and refuses bad files (corrupt, empty,
    a decompression bomb) with a clear message (how: ui/gradio_internals.replace_preprocess)."""

    def preprocess(payload):
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            try:
                return base64.b64decode(payload.url.split(",", 1)[1])
            except Exception:
                raise error("The pasted image could not be decoded.") from None
        return payload.path

    replace_preprocess(component, preprocess)
    return component


def best_guesses(probs: dict[str, float], kind: str) -> tuple[str, str] | None:
    """The two most likely classes when the model is unsure (the best below UNSURE_BELOW[kind],
    kind 'digit' or 'photo'), else None."""
    ranked = sorted(probs, key=probs.get, reverse=True)
    return None if len(ranked) < 2 or probs[ranked[0]] >= UNSURE_BELOW[kind] else (ranked[0], ranked[1])


def headline(probs: dict[str, float], unsure, kind: str) -> str:
    """What a prediction's headline says: the best class, or unsure.format(best, second best) when
    the model is unsure (unsure: the wording, or a function of probs that gives it)."""
    guesses = best_guesses(probs, kind)
    if guesses is None:
        return max(probs, key=probs.get)
    return (unsure(probs) if callable(unsure) else unsure).format(*guesses)


def headlined(label: gr.Label, unsure, kind: str) -> gr.Label:
    """Make a Label headline a {class: probability} value with `headline` (Gradio's own headline is
    always the best class, however unlikely). Strings (messages) show as they are."""

    def postprocess(value, out):
        if isinstance(value, dict) and value:
            set_label_headline(out, headline(value, unsure, kind))
        return out

    wrap_postprocess(label, postprocess)  # ui/gradio_internals.py
    return label


def servable(path: str | os.PathLike) -> str:
    """A run's checkpoint as a file to offer for download: kept while the run is (ui/downloads.py)."""
    return downloads.offer_run_file(path)


def onnx_download(checkpoint: str | os.PathLike) -> str:
    """The checkpoint's ONNX export (cnn.serving.onnx_runtime.checkpoint_onnx: exported once per
    checkpoint content, the file the Predictor serves from) as a file named after the checkpoint,
    <name>.onnx, kept for download while the checkpoint is (ui/downloads.py)."""
    return downloads.offer_run_file(checkpoint_onnx(checkpoint), run=checkpoint, name=f"{Path(checkpoint).stem}.onnx")
