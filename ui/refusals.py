"""Refusals that leave the page as it was.

Handlers refuse bad input by raising gr.Error (ui.common.friendly turns a CnnError into one). Raised
from an event, Gradio 6.31 also puts every output of that event into its error state: a red "Error"
badge on each, until closed by hand, and a Sketchpad in that state takes no more strokes. So, for
the page's own events, `gentle` shows the same message as a warning toast and sends gr.skip() (a
single skip leaves every output as it was). The named API endpoints keep raising: a client needs
the error. A streaming handler that fails after it has sent something still raises, so that a half
shown result is not left looking finished."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from .gradio_internals import wrap_page_events


def _warn(exc: gr.Error) -> None:
    gr.Warning(exc.message, duration=exc.duration, title="Not done")


def gentle(fn, outputs: int = 1):
    """fn with its gr.Error refusals shown as warnings and every output left unchanged (fn's event has
    `outputs` outputs: with none, a skip would be one value too many)."""
    if getattr(fn, "__gentle__", False):
        return fn
    unchanged = gr.skip() if outputs else None
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            sent = False
            try:
                for item in fn(*args, **kwargs):
                    sent = True
                    yield item
            except gr.Error as exc:
                if sent:
                    raise
                _warn(exc)
                yield unchanged

        call = stream
    else:

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                _warn(exc)
                return unchanged

    call.__gentle__ = True
    if isinstance(fn, functools.partial):
        call.func = fn.func  # as the partial's: an event is still found by its handler
    return call


def refuse_gently(demo: gr.Blocks) -> None:
    """Make every page event of demo (api_visibility "private") refuse with `gentle` (call once the
    app is built)."""
    wrap_page_events(demo, gentle)
