"""A handler's outputs by name: the one way every handler with several outputs answers (the Train
tab, the layer editor, the Runs tab, the probes). An event lists its output components in the
order of a tuple of names; a handler says what it sends by name, and `values` puts it in that order,
skipping the outputs it does not name. Tests read an answer back by name with `named`."""

from __future__ import annotations

import gradio as gr


def values(names: tuple[str, ...], what: str, **by_name) -> tuple:
    """Values for the outputs `names`, in their order; an output not named is left as it is (skip).
    A name that is not one of `what`'s outputs is a mistake in the handler, said at once."""
    unknown = set(by_name) - set(names)
    if unknown:
        raise TypeError(f"not a {what} output: {', '.join(sorted(unknown))}")
    return tuple(by_name[name] if name in by_name else gr.skip() for name in names)


def named(names: tuple[str, ...], answer) -> dict:
    """A handler's answer by output name (tests read answers so, never by position)."""
    return dict(zip(names, answer, strict=True))
