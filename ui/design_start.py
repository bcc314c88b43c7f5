"""Where a design starts and how Start trains it: the presets the layer editor opens (LeNet-5,
every preset model as its design, empty), the Train tab's model list with "Your design", and the
design a run trains (`configured`) or why Start refuses it (`refusal`)."""

from __future__ import annotations

import dataclasses
import functools
import json

import gradio as gr

from cnn.checkpoint import read_metadata
from cnn.data.sources import NAMED_CLASSES, NAMED_SHAPES
from cnn.errors import CnnError, ConfigError
from cnn.models import MODELS, design_layers, design_presets
from cnn.models import design as core
from cnn.runs import RunConfig

from . import words
from .common import ROOT
from .design_edits import as_layers

MODEL = core.DESIGN  # the model name a designed network trains under
DESIGN_RECIPE = "design"  # the recipe preset a design trains with by default
MODEL_LABEL = "Your design (the layer editor below)"
EMPTY = "Empty"
START_PRESET = "LeNet-5"  # what the editor opens with


@functools.cache
def _presets() -> dict[str, tuple[list, str]]:
    """name -> (design, note): LeNet-5 (examples/lenet5.json), every preset model as its design (or
    the closest one, with what differs: cnn.models.design_presets), and empty."""
    out = {START_PRESET: (json.loads((ROOT / "examples" / "lenet5.json").read_text()), "")}
    for name in MODELS:
        try:
            out[name] = design_presets.closest_design(name)
        except CnnError:
            continue
    out[EMPTY] = ([], "")
    return out


def presets() -> dict[str, list]:
    """The designs the editor starts from, by name (fresh copies: the editor changes them)."""
    return {name: json.loads(json.dumps(d)) for name, (d, _) in _presets().items()}


def model_choices() -> list:
    """The Train tab's model list: every preset, then the design (by its label)."""
    return [(name, name) for name in MODELS if name != MODEL] + [(MODEL_LABEL, MODEL)]


def layer_types() -> list[str]:
    return list(design_layers.LAYER_NAMES)


# ---------------------------------------------------------------- Start


def configured(cfg: RunConfig, design) -> RunConfig:
    """cfg with the editor's design as its layers when its model is the design (RunConfig.checked
    refuses a broken or too big one when the run starts, before anything changes); other models
    leave the design alone."""
    if cfg.model != MODEL:
        return cfg
    if cfg.init_from:  # continuing a designed run: its weights fit its own design only
        kept = read_metadata(cfg.init_from).get("design")
        if isinstance(kept, list) and kept != as_layers(design):
            gr.Info("Continuing a designed run trains its own design; the editor's is not used.", duration=6)
            return dataclasses.replace(cfg, layers=kept)
    return dataclasses.replace(cfg, layers=as_layers(design))


def refusal(cfg: RunConfig) -> str | None:
    """Why Start refuses cfg's design (broken, or too big for its batch), or None: a named data set's
    images are known before loading (an image folder's design is checked when its run starts)."""
    key = str(cfg.dataset or "").strip().lower()
    if cfg.model != MODEL or cfg.layers is None or key not in NAMED_SHAPES:
        return None
    try:
        batch = max(1, int(float(cfg.batch_size)))
    except (TypeError, ValueError, OverflowError):
        return None  # (RunConfig.checked says what is wrong with the batch size)
    try:
        core.parse(cfg.layers, NAMED_SHAPES[key], NAMED_CLASSES[key], batch)
    except CnnError as exc:
        return f"Your design cannot train yet: {exc}"
    return None


def opened(name: str) -> tuple[list, str]:
    """(a fresh copy of preset `name`'s design, its note: what differs from the model, or '')."""
    if name not in _presets():
        raise ConfigError(f"Unknown preset {name!r}: choose one in the list.")
    return presets()[name], _presets()[name][1]


PRESET_WORDS = {
    START_PRESET: "LeCun's 1998 digit network: two convolutions with pooling, three linear layers",
    EMPTY: "no layers: build one from nothing",
}


def preset_choices() -> list[tuple[str, str]]:
    """(label, name) for the "Start from" list: each preset with a few words on what it is."""
    labelled = dict(words.model_choices(list(presets())))  # (the models' own words, ui/words.py)
    return [(f"{n}: {PRESET_WORDS[n]}" if n in PRESET_WORDS else label, n) for label, n in labelled.items()]
