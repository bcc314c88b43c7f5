"""The one augmentation format: `name=value` pairs, `rotate=15,zoom=0.1,stroke=1,elastic=0.3,erase=0.25`
(`none`: all off), parsed and checked here for the CLI, the /train API, the page and the recipes.

A spec names a run's whole augmentation: a name left out is off. Each name stands for one recipe
field (`Knob.field`); values are checked against the knob's range before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError

MAX_SPEC_CHARS = 400  # a spec longer than every knob at its longest value is refused unread


@dataclass(frozen=True)
class Knob:
    name: str  # in the spec
    field: str  # the recipe's field it sets
    kind: type  # int, float or bool
    high: float  # largest value (the smallest is 0: off)
    unit: str  # the value in words, for messages and the page
    words: str  # what it does


KNOBS = (
    Knob("crop", "crop_pad", int, 8, "pixels", "shift by up to this many pixels (a random crop of the padded image)"),
    Knob("shift", "shift", float, 0.5, "of the side", "shift by up to this share of the side, each way"),
    Knob("rotate", "rotate", float, 180, "degrees", "rotate by up to this many degrees either way"),
    Knob("zoom", "scale", float, 0.9, "either way", "zoom in or out by up to this share (0.1: 90% to 110%)"),
    Knob("flip", "flip", bool, 1, "0 or 1", "mirror a random half of the images left to right"),
    Knob("stroke", "stroke", int, 3, "pixels", "thicken or thin strokes by up to this many pixels"),
    Knob("thicken", "thicken", int, 3, "pixels", "thicken strokes by 0 to this many pixels (never thin them)"),
    Knob("elastic", "elastic", float, 1, "strength", "bend the image like rubber (elastic distortion)"),
    Knob("blur", "blur", float, 3, "pixels", "blur by a Gaussian of up to this many pixels (sigma)"),
    Knob("blocky", "blocky", int, 3, "steps", "coarsen the pixel grid 1 + up to this many times (low resolution)"),
    Knob("erase", "erase", float, 1, "chance", "blank out a random rectangle with this chance (cutout)"),
    Knob(
        "colour", "colour", float, 1, "either way", "change brightness and contrast (colour: saturation) by this share"
    ),
)
BY_NAME = {k.name: k for k in KNOBS}
FIELDS = tuple(k.field for k in KNOBS)
OFF = "none"


def example() -> str:
    return "rotate=15,zoom=0.1,stroke=1,elastic=0.3,erase=0.25"


def parse(spec: str) -> dict:
    """The recipe fields a spec sets, every knob's (a name left out: off); a ConfigError that says what
    was wrong and what to write otherwise."""
    text = str(spec if spec is not None else "").strip()
    if len(text) > MAX_SPEC_CHARS:
        raise ConfigError(f"The augmentation is too long ({len(text)} characters; at most {MAX_SPEC_CHARS}).")
    values = {k.field: k.kind(0) for k in KNOBS}
    if text.lower() in ("", OFF):
        return values
    seen = set()
    for part in text.split(","):
        name, eq, raw = (s.strip() for s in part.partition("="))
        if not eq or not name:
            raise ConfigError(
                f"Write the augmentation as name=value pairs separated by commas, e.g. {example()} "
                f"('{OFF}' for none); {part.strip()!r} is not one."
            )
        knob = BY_NAME.get(name.lower())
        if knob is None:
            raise ConfigError(f"Unknown augmentation {name!r}. Choose from: {', '.join(BY_NAME)}.")
        if knob.name in seen:
            raise ConfigError(f"The augmentation names {knob.name} twice; give it once.")
        seen.add(knob.name)
        values[knob.field] = _value(knob, raw)
    return values


def _value(knob: Knob, raw: str):
    if knob.kind is bool and raw.lower() in ("on", "true", "yes", "off", "false", "no"):
        return raw.lower() in ("on", "true", "yes")
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    return checked(knob, v, raw)


def checked(knob: Knob, v, shown=None):
    """v as the knob's kind, if it is a number within the knob's range; else a ConfigError."""
    shown = v if shown is None else shown
    whole = knob.kind is not float
    if not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= knob.high:
        hint = "0 or 1" if knob.kind is bool else f"from 0 to {knob.high:g} {knob.unit}"
        raise ConfigError(f"{knob.name} must be {'a whole number ' if whole else 'a number '}{hint} (got {shown}).")
    if whole and v != int(v):
        raise ConfigError(f"{knob.name} must be a whole number from 0 to {knob.high:g} {knob.unit} (got {shown}).")
    return knob.kind(v) if knob.kind is not bool else bool(int(v))


def check(values: Mapping) -> None:
    """Refuse a recipe's augmentation fields out of range (the recipes' own check)."""
    for k in KNOBS:
        if k.field in values:
            checked(k, float(values[k.field]))


def format_spec(values: Mapping) -> str:
    """A recipe's (or its dict's) augmentation as a spec, knobs in their fixed order; 'none' if off."""
    get = values.get if isinstance(values, Mapping) else lambda f, d=0: getattr(values, f, d)
    parts = []
    for k in KNOBS:
        v = get(k.field, 0) or 0
        if v:
            parts.append(f"{k.name}={int(v)}" if k.kind is not float else f"{k.name}={float(v):g}")
    return ",".join(parts) or OFF


def recipe_changes(spec: str) -> dict:
    """The Recipe.replace(**changes) that gives a recipe the spec's augmentation (flip off also
    turns its alternating flip off, which would otherwise still mirror)."""
    values = parse(spec)
    if not values["flip"]:
        values["alternate_flip"] = False
    return values
