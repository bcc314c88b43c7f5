"""Editing a design's list of layers as the layer editor's person does: a layer's arguments typed as
`name=value, ...` (read as JSON, never evaluated), and a layer replaced, added, removed or moved.
Nothing here parses or checks a design as a network (cnn.models.design does)."""

from __future__ import annotations

import json

from cnn.errors import ConfigError

PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}  # typed as in the PyTorch code
# Arguments a new layer of each type opens with (a person edits them after).
NEW_LAYER = {
    "Conv2d": {"out_channels": 16, "kernel_size": 3, "padding": 1},
    "MaxPool2d": {"kernel_size": 2},
    "AvgPool2d": {"kernel_size": 2},
    "AdaptiveAvgPool2d": {"output_size": 1},
    "Linear": {"out_features": 64},
    "Dropout": {"p": 0.25},
    "Dropout2d": {"p": 0.25},
    "LeakyReLU": {"negative_slope": 0.01},
    "Residual": {
        "layers": [{"layer": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"layer": "ReLU"}]
    },
}


def as_layers(design) -> list:
    """The design as a list of layers (anything else, e.g. a page's empty state: no layers)."""
    return list(design) if isinstance(design, list) else []


def layer_index(design: list, index) -> int | None:
    """A valid 0-based layer index, or None."""
    try:
        i = int(index)
    except (TypeError, ValueError):
        return None
    return i if 0 <= i < len(design) else None


def arguments_text(layer) -> str:
    """A layer's arguments as a person types them: `kernel_size=5, padding=2` (values as JSON)."""
    if not isinstance(layer, dict):
        return ""
    return ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in layer.items() if k != "layer")


def _split_top(text: str) -> list[str]:
    """text split at the commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_arguments(text: str) -> dict:
    """`name=value, ...` as a dict: each value read as JSON (5, 0.25, true, [3, 3]; a bare word is a
    string), never evaluated. A ConfigError says which part could not be read."""
    out = {}
    for part in _split_top(str(text or "")):
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.isidentifier():
            raise ConfigError(f"Could not read {part!r}: write each argument as name=value, e.g. kernel_size=3.")
        if name == "layer":
            raise ConfigError("Choose the layer's type in the Layer list, not as an argument.")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = f'"{value[1:-1]}"'  # Python's quotes
        value = PYTHON_WORDS.get(value, value)
        try:
            out[name] = json.loads(value.replace("(", "[").replace(")", "]"))
        except json.JSONDecodeError:
            if not value.replace("_", "").isalnum():
                raise ConfigError(f"Could not read the value of {name}: {value!r}.") from None
            out[name] = value
    return out


def edited(design: list, index: int | None, kind: str, args: str) -> list:
    """design with layer `index` replaced by a `kind` layer with these arguments."""
    design = as_layers(design)
    i = layer_index(design, index)
    if i is None:
        raise ConfigError("Choose a layer first: click its row in the table.")
    new = list(design)
    new[i] = {"layer": kind, **parse_arguments(args)}
    return new


def added(design: list, index: int | None, kind: str) -> tuple[list, int]:
    """(design with a new `kind` layer after layer `index`, or at the end; its index)."""
    design = as_layers(design)
    i = layer_index(design, index)
    at = len(design) if i is None else i + 1
    layer = {"layer": kind, **json.loads(json.dumps(NEW_LAYER.get(kind, {})))}
    return design[:at] + [layer] + design[at:], at


def removed(design: list, index: int | None) -> tuple[list, int | None]:
    design = as_layers(design)
    i = layer_index(design, index)
    if i is None:
        raise ConfigError("Choose a layer to remove: click its row in the table.")
    new = design[:i] + design[i + 1 :]
    return new, (min(i, len(new) - 1) if new else None)


def moved(design: list, index: int | None, by: int) -> tuple[list, int | None]:
    design = as_layers(design)
    i = layer_index(design, index)
    if i is None:
        raise ConfigError("Choose a layer to move: click its row in the table.")
    j = i + by
    if not 0 <= j < len(design):
        return design, i
    new = list(design)
    new[i], new[j] = new[j], new[i]
    return new, j
