"""Drawings checked before Gradio decodes them: a Sketchpad's files (background, layers, composite)
are refused from their headers when they are over the image limit (cnn.limits)."""

from __future__ import annotations

import gradio as gr

from cnn.errors import ImageError
from cnn.limits import check_image_header

from .common import error
from .gradio_internals import wrap_preprocess


def checked_editor(component: gr.Sketchpad) -> gr.Sketchpad:
    """Make a Sketchpad refuse, from their headers, drawings over the image limit (cnn.limits)
    before Gradio decodes them: a client can send any file as a layer."""

    def check(payload):
        files = [getattr(payload, "background", None), getattr(payload, "composite", None)]
        for f in files + list(getattr(payload, "layers", None) or []):
            if getattr(f, "path", None):
                try:
                    check_image_header(f.path, "The drawing")
                except ImageError as exc:
                    raise error(str(exc)) from None

    wrap_preprocess(component, check)
    return component
