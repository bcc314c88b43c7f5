"""What a parsed design shows: its JSON, a table, the PyTorch code, and a picture (SVG).

Everything here is string arithmetic on the parsed design (cnn.models.design.Design), no torch,
so the editor can redraw all of it on every change (bench/design_editor.py).
"""

from __future__ import annotations

import difflib
import json
import math
from html import escape

RESIDUAL_CODE = '''class Residual(nn.Module):
    """x + body(x); a 1x1 convolution (no bias) matches the channels where they differ."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))
'''
_POSITIONAL = ("in_channels", "out_channels", "in_features", "out_features", "num_features")


def dims(shape) -> str:
    return "x".join(map(str, shape))


# ------------------------------------------------------------------ JSON


def to_json(layers: list, indent: str = "") -> str:
    """The design as JSON, one layer a line (a Residual's layers indented under it)."""
    lines = []
    for i, layer in enumerate(layers):
        end = "," if i < len(layers) - 1 else ""
        if layer.get("layer") == "Residual":
            inner = to_json(layer["layers"], indent + "    ")
            lines.append(f'{indent}  {{"layer": "Residual", "layers": {inner.strip()}}}{end}')
        else:
            lines.append(f"{indent}  {json.dumps(layer, ensure_ascii=False)}{end}")
    return "[\n" + "\n".join(lines) + f"\n{indent}]"


# ------------------------------------------------------------------ table


def _details(layer: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in layer.items() if k not in ("layer", "layers"))


def _flat_layers(layers: list) -> list:
    out = []
    for layer in layers:
        out.append(layer)
        if layer.get("layer") == "Residual":
            out += _flat_layers(layer["layers"])
    return out


def table_rows(design) -> list[list]:
    """[index, layer, stated arguments, output shape, parameters, multiply-adds] per layer; a
    Residual's own row counts its shortcut and the add, its layers follow as 3.1, 3.2, ..."""
    return [
        [n.index, ("  " * n.depth) + n.name, _details(layer), dims(n.layer.shape), n.layer.params, n.layer.macs]
        for n, layer in zip(design.rows, _flat_layers(design.layers))
    ]


def format_table(design, title: str = "") -> str:
    header = ["#", "Layer", "Arguments", "Output shape", "Param #", "Mult-adds"]
    body = [[str(r[0]), r[1], r[2], r[3], f"{r[4]:,}", f"{r[5]:,}"] for r in table_rows(design)]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(6)]

    def line(r):
        return "  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "-" * max(len(line(header)), 40)
    return "\n".join(
        ([title] if title else [])
        + [
            f"Input: {dims(design.input_shape)}, {design.num_classes} classes",
            rule,
            line(header),
            rule,
            *map(line, body),
            rule,
            f"Total params: {design.params:,}",
            f"Multiply-adds per image: {design.macs:,}",
        ]
    )


# ------------------------------------------------------------------ PyTorch code


def _arg(v) -> str:
    if isinstance(v, list):
        return f"({', '.join(map(str, v))})"
    return repr(v)


def _call(node) -> str:
    kw = node.layer.kwargs
    parts = [_arg(kw[k]) for k in _POSITIONAL if k in kw]
    parts += [f"{k}={_arg(v)}" for k, v in kw.items() if k not in _POSITIONAL]
    return f"nn.{node.name}({', '.join(parts)})"


def _code_lines(nodes, indent: str) -> list[str]:
    lines = []
    for n in nodes:
        if n.name != "Residual":
            lines.append(f"{indent}{_call(n)},")
            continue
        lines.append(f"{indent}Residual(")
        lines.append(f"{indent}    nn.Sequential(")
        lines += _code_lines(n.children, indent + "        ")
        lines.append(f"{indent}    ),")
        if n.shortcut:
            lines.append(f"{indent}    nn.Conv2d({n.shortcut[0]}, {n.shortcut[1]}, 1, bias=False),")
        lines.append(f"{indent}),")
    return lines


def pytorch_code(design) -> str:
    """The design as a plain `nn.Sequential(...)` to copy (with the Residual class it uses, if
    any); its state_dict keys are the app's model's, so the app's weights load into it."""
    residual = any(n.name == "Residual" for n in design.rows)
    head = [
        "import torch.nn as nn",
        "",
        *([""] + RESIDUAL_CODE.splitlines() + ["", ""] if residual else []),
        f"# {dims(design.input_shape)} images, {design.num_classes} classes: {design.params:,} parameters",
        "model = nn.Sequential(",
    ]
    return "\n".join(head + _code_lines(design.nodes, "    ") + [")", ""])


# ------------------------------------------------------------------ short name and differences

_SHORT = {"MaxPool2d": "MaxPool", "AvgPool2d": "AvgPool", "AdaptiveAvgPool2d": "GAP", "AdaptiveMaxPool2d": "GMP"}
MAX_SUMMARY = 60


def _parts(layers: list, num_classes: int | None, top: bool = True) -> list[str]:
    layers = [layer for layer in layers if isinstance(layer, dict)]
    linears = [i for i, layer in enumerate(layers) if layer.get("layer") == "Linear"]
    parts = []
    for i, layer in enumerate(layers):
        name = layer.get("layer")
        if name == "Conv2d":
            parts.append(f"Conv{layer.get('out_channels', '')}")
        elif name == "Linear":
            out = layer.get("out_features", num_classes if top and linears and i == linears[-1] else None)
            parts.append(f"Linear{out if out is not None else ''}")
        elif name == "Residual":
            parts.append("Res(" + "-".join(_parts(layer.get("layers") or [], None, False)) + ")")
        elif name in _SHORT:
            parts.append(_SHORT[name])
    return parts


def summary(layers: list, num_classes: int | None = None) -> str:
    """A short name for a design, for the Runs table: 'Conv6-AvgPool-Conv16-AvgPool-Linear120-Linear84-Linear10'
    (activations, normalisation, dropout and Flatten left out); a long one elided in the middle."""
    parts = _parts(layers, num_classes)
    text = "-".join(parts)
    if len(text) <= MAX_SUMMARY or len(parts) <= 5:
        return text or "design"
    head, tail = parts[:3], parts[-2:]
    while len(head) > 1 and len("-".join(head + ["..."] + tail)) > MAX_SUMMARY:
        head.pop()
    return "-".join(head + ["..."] + tail)


def model_name(architecture: str, design=None, num_classes: int | None = None) -> str:
    """What to call a model in a table or a line: a design's summary, else its architecture."""
    if architecture == "design" and isinstance(design, list):
        return summary(design, num_classes)
    return str(architecture)


def diff(a: list, b: list, prefix: str = "") -> list[str]:
    """How design b differs from design a, layer by layer: 'layer 4 Conv2d: kernel_size 5 → 3',
    'layer 3 MaxPool2d removed', 'layer 5 Conv2d added (out_channels=16, kernel_size=3)'. Removed
    layers are numbered as in a, changed and added ones as in b."""
    names = lambda layers: [str(x.get("layer")) if isinstance(x, dict) else "?" for x in layers]
    out = []
    ops = difflib.SequenceMatcher(a=names(a), b=names(b), autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in ops:
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2)):
                out += _changed(a[i], b[j], f"{prefix}{j + 1}")
            continue
        out += [f"layer {prefix}{i + 1} {a[i].get('layer')} removed" for i in range(i1, i2)]
        out += [f"layer {prefix}{j + 1} {b[j].get('layer')} added{_added(b[j])}" for j in range(j1, j2)]
    return out


def _added(layer: dict) -> str:
    d = _details(layer)
    return f" ({d})" if d else ""


def _changed(x: dict, y: dict, index: str) -> list[str]:
    if x.get("layer") != y.get("layer"):
        return [f"layer {index}: {x.get('layer')} → {y.get('layer')}{_added(y)}"]
    if x.get("layer") == "Residual":
        return diff(x.get("layers") or [], y.get("layers") or [], f"{index}.")
    keys = [k for k in x if k != "layer"] + [k for k in y if k != "layer" and k not in x]
    shown = lambda layer, k: json.dumps(layer[k]) if k in layer else "(default)"
    return [f"layer {index} {y['layer']}: {k} {shown(x, k)} → {shown(y, k)}" for k in keys if x.get(k) != y.get(k)]


# ------------------------------------------------------------------ picture

_COLOURS = {
    "Conv2d": "#4e79a7",
    "MaxPool2d": "#e15759",
    "AvgPool2d": "#e15759",
    "AdaptiveAvgPool2d": "#e15759",
    "AdaptiveMaxPool2d": "#e15759",
    "BatchNorm2d": "#edc948",
    "BatchNorm1d": "#edc948",
    "Dropout": "#bab0ac",
    "Dropout2d": "#bab0ac",
    "Flatten": "#b07aa1",
    "Linear": "#f28e2b",
    "Residual": "#76b7b2",
}
_ACTIVATION = "#59a14f"
_THIN = {"ReLU", "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Dropout", "Dropout2d", "BatchNorm2d", "BatchNorm1d"}
_BASE = 200  # y of the blocks' bottom edge


def _block(shape, thin: bool, side_max: int) -> tuple[float, float, float]:
    """(width, height, depth) in pixels: height from the map's side, width from its channels (or
    a flat layer's features), depth (the slanted side) from its width, as papers draw them."""
    if len(shape) == 3:
        c, h, w = shape
        height = 14 + 110 * math.sqrt(h / side_max)
        depth = 6 + 40 * math.sqrt(w / side_max)
        width = 3 if thin else min(4 + 5 * math.log2(c + 1), 60)
        return width, height, depth
    height = min(10 + 10 * math.log2(shape[0] + 1), 150)
    return (3 if thin else 8), height, 4


def _cuboid(x, w, h, d, colour, title) -> str:
    y, s = _BASE - h, d * 0.6
    top = f"{x:.1f},{y:.1f} {x + d:.1f},{y - s:.1f} {x + w + d:.1f},{y - s:.1f} {x + w:.1f},{y:.1f}"
    side = f"{x + w:.1f},{y:.1f} {x + w + d:.1f},{y - s:.1f} {x + w + d:.1f},{_BASE - s:.1f} {x + w:.1f},{_BASE}"
    return (
        f'<g><title>{escape(title)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'fill="{colour}" stroke="#333" stroke-width="0.5"/>'
        f'<polygon points="{top}" fill="{colour}" opacity="0.7" stroke="#333" stroke-width="0.5"/>'
        f'<polygon points="{side}" fill="{colour}" opacity="0.5" stroke="#333" stroke-width="0.5"/></g>'
    )


def picture(design) -> str:
    """The network as an SVG: each layer a block sized by its output (height: the map's side;
    thickness: its channels; slant: its width; flat layers as bars), left to right, labelled, a
    Residual's layers under an arc marked +."""
    side_max = max([design.input_shape[1]] + [n.layer.shape[1] for n in design.rows if len(n.layer.shape) == 3])
    parts, x = [], 20.0
    w, h, d = _block(design.input_shape, False, side_max)
    parts.append(_cuboid(x, w, h, d, "#dddddd", f"input {dims(design.input_shape)}"))
    parts.append(_label(x + w / 2, f"input {dims(design.input_shape)}"))
    x += w + d + 12
    # each Residual's arc spans from its first drawn layer to its last one
    last = {}
    for n in design.rows:
        if n.name != "Residual":
            for i in range(1, n.index.count(".") + 1):
                last[n.index.rsplit(".", i)[0]] = n.index
    arcs, start = [], {}
    for n in design.rows:
        if n.name == "Residual":
            start[n.index] = x
            continue
        w, h, d = _block(n.layer.shape, n.name in _THIN, side_max)
        colour = _COLOURS.get(n.name, _ACTIVATION)
        title = f"layer {n.index} {n.name}: {dims(n.layer.shape)}, {n.layer.params:,} parameters"
        parts.append(_cuboid(x, w, h, d, colour, title))
        parts.append(_label(x + w / 2, f"{n.index} {_short(n)}"))
        x += max(w + d + (6 if n.name in _THIN else 12), 16)  # room for the slanted labels
        arcs += [(start.pop(r), x - 6, r) for r, end in last.items() if end == n.index and r in start]
    for x0, x1, index in arcs:
        parts.append(
            f'<path d="M{x0:.1f},20 C{x0:.1f},4 {x1:.1f},4 {x1:.1f},20" fill="none" stroke="#76b7b2" '
            f'stroke-width="2"/><text x="{(x0 + x1) / 2:.1f}" y="12" font-size="11" text-anchor="middle">'
            f"+ (layer {index})</text>"
        )
    width = x + 80  # the last slanted label
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} 290" width="{width:.0f}" height="290" '
        f'font-family="sans-serif">' + "".join(parts) + "</svg>"
    )


def _short(n) -> str:
    if n.name == "Conv2d":
        k = n.layer.kwargs["kernel_size"]
        k = f"{k[0]}x{k[1]}" if isinstance(k, list) else f"{k}x{k}"
        return f"Conv {k}, {n.layer.shape[0]}"
    if n.name == "Linear":
        return f"Linear {n.layer.shape[0]}"
    return _SHORT.get(n.name, n.name)


def _label(x: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{_BASE + 10}" font-size="10" transform="rotate(45 {x:.1f} {_BASE + 10})">'
        f"{escape(text)}</text>"
    )
