"""Designs: a network as a JSON list of layers named as torch.nn names them, checked, sized and built.

    [{"layer": "Conv2d", "out_channels": 6, "kernel_size": 5, "padding": 2}, {"layer": "ReLU"}, ...,
     {"layer": "Flatten"}, {"layer": "Linear", "out_features": 120}, ..., {"layer": "Linear"}]

`parse(design, input_shape, num_classes)` checks a design against the allow-list
(cnn.models.design_layers), works out every layer's output shape, parameters and multiply-adds
arithmetically (no forward pass, so it is fast enough for an editor that updates on every change),
checks the size limits, and returns a `Design`: its normalised layers, rows for a table, totals,
`build()` (an nn.Sequential), `to_json()`, `pytorch_code()` and `picture()` (an SVG). Every problem
is a ConfigError that names the layer ("layer 7, Conv2d: ...") and says what to do. Nothing in a
design is ever evaluated as code.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import ConfigError
from ..limits import MAX_LAYERS_JSON_BYTES, check_layers_text, read_layers_text
from .design_layers import ARGS, CLASSES, RESIDUAL, Layer, check_args, unknown_layer, work_out
from .design_view import diff, format_table, model_name, picture, pytorch_code, summary, table_rows, to_json

__all__ = ["DESIGN", "Design", "diff", "load_design_file", "load_layers", "model_name", "parse", "summary"]

DESIGN = "design"  # the model name of a designed network (checkpoint metadata's architecture)

# Size limits, so that one person's design cannot make a shared server unresponsive or run it out
# of memory. Every preset fits with room to spare (tests/test_design_presets.py sizes them).
# Parameters: 40 MB of float32 weights, 160 MB with gradients and Adam's two moments; 4x the
# largest preset (seed004_cnn, 2.3 M). A CIFAR ResNet-18 (11 M) is over: a network that size does
# not train in a playground's minutes on a CPU anyway.
MAX_PARAMETERS = 10_000_000
# Multiply-adds per image (forward): 8x the largest preset's (cifar10_fast, 118 M). A training step
# of 64 images is then ~200 G multiply-adds forward and backward, seconds on a server CPU; the Stop
# button acts between steps, so a step much longer than that would keep it waiting.
MAX_MACS = 1_000_000_000
# Training keeps every layer's output for the backward pass and a gradient of the same size:
# 8 bytes per value (float32), times the batch. cifar10_fast with its recipe's batch of 1024 needs
# 2.7 GiB by this count; 4 GiB lets it train and leaves a 16 GiB server room for a few runs at once
# (the scheduler, cnn.runs.scheduler, bounds how many) and the app.
MAX_ACTIVATION_BYTES = 4 * 1024**3
BYTES_PER_VALUE = 8
DEFAULT_BATCH = 64  # the default recipe's (cnn.training.recipes: 'design')
# Also bounded, so that checking a design stays instant: its text, its layers, nested Residuals.
MAX_JSON_CHARS = MAX_LAYERS_JSON_BYTES  # cnn.limits: a layers JSON over it is refused unread
MAX_LAYERS = 300
MAX_DEPTH = 4


@dataclass(frozen=True)
class Node:
    """One layer of a parsed design: its place ('7', or '3.2' inside the Residual at 3), the layer
    worked out, and for a Residual its inner nodes and the 1x1 shortcut's (in, out) channels."""

    index: str
    layer: Layer
    in_shape: tuple
    depth: int = 0
    children: tuple = ()
    shortcut: tuple | None = None

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class Design:
    layers: list  # normalised: {"layer": NAME, stated arguments in torch.nn order} (JSON values)
    input_shape: tuple
    num_classes: int
    nodes: tuple  # the top-level Nodes (a Residual's inner ones are its children)
    rows: list = field(default_factory=list)  # every Node, depth first: what the table lists

    @property
    def params(self) -> int:
        return sum(n.layer.params for n in self.rows)

    @property
    def macs(self) -> int:
        return sum(n.layer.macs for n in self.rows)

    @property
    def values_per_image(self) -> int:
        """Values every layer outputs for one image (the input's included): activation memory."""
        return math.prod(self.input_shape) + sum(math.prod(n.layer.shape) for n in self.rows)

    def activation_bytes(self, batch_size: int) -> int:
        return BYTES_PER_VALUE * batch_size * self.values_per_image

    def check_limits(self, batch_size: int = DEFAULT_BATCH) -> None:
        """Refuse a design too big for a shared server, naming its size and the limit."""
        if self.params > MAX_PARAMETERS:
            raise ConfigError(
                f"The design is too big: {self.params:,} parameters; the limit is {MAX_PARAMETERS:,}. "
                f"Use fewer channels or features, or pool before the Flatten so the first Linear is smaller."
            )
        if self.macs > MAX_MACS:
            raise ConfigError(
                f"The design is too big: {self.macs:,} multiply-adds per image; the limit is {MAX_MACS:,}. "
                f"Use fewer channels, or pool (or stride) earlier so the convolutions see smaller maps."
            )
        need = self.activation_bytes(batch_size)
        if need > MAX_ACTIVATION_BYTES:
            raise ConfigError(
                f"The design is too big for batch size {batch_size}: training needs about {need / 1024**3:.1f} GiB "
                f"for the layers' outputs; the limit is {MAX_ACTIVATION_BYTES / 1024**3:.0f} GiB. "
                f"Use a smaller batch, fewer channels, or pool earlier."
            )

    def build(self) -> nn.Sequential:
        """The network: an nn.Sequential whose state_dict keys are its layers' places ('0.weight',
        '3.body.1.weight', '3.shortcut.weight'), the same for the same design."""
        return nn.Sequential(*map(_module, self.nodes))

    def to_json(self) -> str:
        return to_json(self.layers)

    def pytorch_code(self) -> str:
        return pytorch_code(self)

    def picture(self) -> str:
        return picture(self)

    def table(self) -> list[list]:
        return table_rows(self)

    def format_table(self, title: str = "") -> str:
        return format_table(self, title)

    def summary(self) -> str:
        return summary(self.layers, self.num_classes)


class Residual(nn.Module):
    """x + body(x); a 1x1 convolution (no bias) matches the channels where they differ."""

    def __init__(self, body: nn.Sequential, shortcut: nn.Conv2d | None = None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def _module(node: Node) -> nn.Module:
    if node.name == RESIDUAL:
        body = nn.Sequential(*map(_module, node.children))
        return Residual(body, nn.Conv2d(*node.shortcut, 1, bias=False) if node.shortcut else None)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in node.layer.kwargs.items()}
    return CLASSES[node.name](**kwargs)


def load_layers(design) -> list:
    """A design's layer list from JSON text (or the list itself), refusing what is not a list."""
    check_layers_text(design)  # before it is decoded or parsed
    if isinstance(design, (bytes, bytearray)):
        design = design.decode("utf-8", errors="replace")
    if isinstance(design, str):
        if not design.strip():
            raise ConfigError('The design is empty; it is a JSON list of layers, e.g. [{"layer": "Conv2d", ...}].')
        try:
            design = json.loads(design)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"The design is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        except RecursionError:
            raise ConfigError("The design is nested too deeply to read.") from None
    if not isinstance(design, list):
        raise ConfigError(f'A design is a JSON list of layers, [{{"layer": "Conv2d", ...}}, ...], not {_kind(design)}.')
    if not design:
        raise ConfigError("The design has no layers; add some, ending with Flatten and Linear.")
    return design


def load_design_file(path: str | os.PathLike) -> list:
    """The layer list of a design file (JSON), refusing a missing or unreadable file, and one over
    cnn.limits.MAX_LAYERS_JSON_BYTES unread."""
    path = Path(path)
    text = read_layers_text(path)
    try:
        return load_layers(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _kind(v) -> str:
    return {dict: "an object", str: "a string", bool: "true or false", type(None): "null"}.get(type(v), "a number")


def parse(design, input_shape: tuple, num_classes: int, batch_size: int | None = DEFAULT_BATCH) -> Design:
    """Check `design` (JSON text or a list) for images of input_shape (C, H, W) and num_classes
    classes, and work it out. batch_size: check the size limits for training with this batch
    (None: leave them unchecked, e.g. to show a table of a design that is too big)."""
    layers = load_layers(design)
    shape = tuple(int(v) for v in input_shape)
    counter = [0]
    top = [i for i, layer in enumerate(layers) if isinstance(layer, dict) and layer.get("layer") == "Linear"]
    if not top:
        _check_structure(layers, counter)  # a malformed layer is the first thing to say
        raise ConfigError(
            "The design has no classifier: end it with a Flatten and a Linear "
            "(the last Linear's out_features is the number of classes)."
        )
    counter[0] = 0
    normalised, nodes, shape = _walk(layers, shape, "", 0, counter, top[-1], num_classes)
    if shape != (num_classes,):
        raise ConfigError(
            f"The design ends in {'x'.join(map(str, shape))} values per image; it must end in {num_classes}, "
            f"one per class: end it with a Flatten and a Linear."
        )
    rows = []

    def add(ns):
        for n in ns:
            rows.append(n)
            add(n.children)

    add(nodes)
    d = Design(normalised, tuple(int(v) for v in input_shape), num_classes, tuple(nodes), rows)
    if batch_size is not None:
        d.check_limits(batch_size)
    return d


def _check_structure(layers: list, counter: list, prefix: str = "", depth: int = 0) -> None:
    for i, raw in enumerate(layers):
        name, _ = _layer_name(raw, f"layer {prefix}{i + 1}", counter, depth)
        if name == RESIDUAL:
            _residual_layers(raw, f"layer {prefix}{i + 1}, {name}")
            _check_structure(raw["layers"], counter, f"{prefix}{i + 1}.", depth + 1)
        else:
            check_args(f"layer {prefix}{i + 1}, {name}", name, {k: v for k, v in raw.items() if k != "layer"})


def _layer_name(raw, where: str, counter: list, depth: int) -> tuple[str, str]:
    counter[0] += 1
    if counter[0] > MAX_LAYERS:
        raise ConfigError(f"The design has more than {MAX_LAYERS} layers; that is the limit.")
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: each layer is an object like {{"layer": "ReLU"}}, not {_kind(raw)}.')
    if "layer" not in raw:
        raise ConfigError(f'{where}: it has no "layer" name; write e.g. {{"layer": "Conv2d", ...}}.')
    name = raw["layer"]
    if name not in ARGS and name != RESIDUAL:
        raise unknown_layer(where, name)
    if name == RESIDUAL and depth >= MAX_DEPTH:
        raise ConfigError(f"{where}: Residuals nest {MAX_DEPTH} deep at most.")
    return name, f"{where}, {name}"


def _walk(layers, shape, prefix, depth, counter, last_linear, num_classes):
    """(normalised layers, nodes, output shape) of a layer list on an input of `shape`."""
    normalised, nodes = [], []
    for i, raw in enumerate(layers):
        index = f"{prefix}{i + 1}"
        name, where = _layer_name(raw, f"layer {index}", counter, depth)
        if name == RESIDUAL:
            node, norm = _residual(raw, where, index, shape, depth, counter, num_classes)
        else:
            args = check_args(where, name, {k: v for k, v in raw.items() if k != "layer"})
            classifier = i == last_linear and not prefix
            layer = work_out(where, name, args, shape, num_classes if classifier else None)
            if classifier and layer.shape != (num_classes,):
                raise ConfigError(
                    f"{where}: out_features is {layer.shape[0]}, but the data set has {num_classes} classes; "
                    f"leave it out (it is then the number of classes) or set it to {num_classes}."
                )
            node, norm = Node(index, layer, shape, depth), {"layer": name, **args}
        normalised.append(norm)
        nodes.append(node)
        shape = node.layer.shape
    return normalised, nodes, shape


def _residual_layers(raw: dict, where: str) -> list:
    extra = [k for k in raw if k not in ("layer", "layers")]
    if extra:
        raise ConfigError(f'{where}: unknown argument {extra[0]!r}; a Residual takes only its "layers".')
    inner = raw.get("layers")
    if not isinstance(inner, list) or not inner:
        raise ConfigError(f'{where}: "layers" must be a non-empty list of the layers inside it.')
    return inner


def _residual(raw, where, index, shape, depth, counter, num_classes):
    inner = _residual_layers(raw, where)
    norm, children, out = _walk(inner, shape, f"{index}.", depth + 1, counter, -1, num_classes)
    dims = lambda s: "x".join(map(str, s))
    if len(out) != len(shape) or out[1:] != shape[1:]:
        raise ConfigError(
            f"{where}: its layers turn {dims(shape)} into {dims(out)}; a Residual adds its input to their "
            f"output, so the height and width (or the number of flat features) must stay the same. "
            f"Remove the stride or pooling inside it."
        )
    shortcut = None
    params = macs = 0
    if out[0] != shape[0]:
        if len(shape) != 3:
            raise ConfigError(f"{where}: its layers turn {shape[0]} features into {out[0]}; they must stay the same.")
        shortcut = (shape[0], out[0])
        params, macs = shape[0] * out[0], shape[0] * math.prod(out)
    layer = Layer(RESIDUAL, {}, out, params, macs)
    return Node(index, layer, shape, depth, tuple(children), shortcut), {"layer": RESIDUAL, "layers": norm}
