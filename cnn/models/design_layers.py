"""The layers a design may use, their arguments (torch.nn's names, types and ranges), and each
layer's arithmetic: output shape, parameters and multiply-adds, computed without building it.

Nothing here evaluates text: a layer name is looked up in LAYERS, never in torch.nn by name.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import torch.nn as nn

from ..errors import ConfigError


@dataclass(frozen=True)
class Arg:
    kind: str  # 'int' | 'pair' (an int or [h, w]) | 'float' | 'bool' | 'choice' | 'padding'
    lo: float = 0
    hi: float = math.inf
    choices: tuple = ()
    below_hi: bool = False  # float: strictly below hi (Dropout's p < 1)


_CHANNELS, _FEATURES = Arg("int", 1, 4096), Arg("int", 1, 65536)
_KERNEL, _STRIDE, _PAD = Arg("pair", 1, 64), Arg("pair", 1, 64), Arg("pair", 0, 64)
_P = Arg("float", 0, 1, below_hi=True)
_NORM = {"eps": Arg("float", 1e-12, 1), "momentum": Arg("float", 0, 1), "affine": Arg("bool")}

# layer -> {argument: Arg}, in the order the code and the JSON write them. in_channels,
# num_features and in_features are inferred from the shape before; a stated one must match.
ARGS: dict[str, dict[str, Arg]] = {
    "Conv2d": {
        "in_channels": _CHANNELS,
        "out_channels": _CHANNELS,
        "kernel_size": _KERNEL,
        "stride": _STRIDE,
        "padding": Arg("padding", 0, 64),
        "dilation": Arg("pair", 1, 16),
        "groups": Arg("int", 1, 4096),
        "bias": Arg("bool"),
    },
    "MaxPool2d": {"kernel_size": _KERNEL, "stride": _STRIDE, "padding": _PAD, "ceil_mode": Arg("bool")},
    "AvgPool2d": {
        "kernel_size": _KERNEL,
        "stride": _STRIDE,
        "padding": _PAD,
        "ceil_mode": Arg("bool"),
        "count_include_pad": Arg("bool"),
    },
    "AdaptiveAvgPool2d": {"output_size": Arg("pair", 1, 256)},
    "AdaptiveMaxPool2d": {"output_size": Arg("pair", 1, 256)},
    "BatchNorm2d": {"num_features": _CHANNELS, **_NORM},
    "BatchNorm1d": {"num_features": _FEATURES, **_NORM},
    "ReLU": {},
    "LeakyReLU": {"negative_slope": Arg("float", 0, 10)},
    "GELU": {"approximate": Arg("choice", choices=("none", "tanh"))},
    "SiLU": {},
    "Tanh": {},
    "Sigmoid": {},
    "Dropout": {"p": _P},
    "Dropout2d": {"p": _P},
    "Flatten": {},
    "Linear": {"in_features": _FEATURES, "out_features": _FEATURES, "bias": Arg("bool")},
}
REQUIRED = {
    "Conv2d": ("out_channels", "kernel_size"),
    "MaxPool2d": ("kernel_size",),
    "AvgPool2d": ("kernel_size",),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size",),
}
INFERRED = {
    "Conv2d": "in_channels",
    "BatchNorm2d": "num_features",
    "BatchNorm1d": "num_features",
    "Linear": "in_features",
}
CLASSES: dict[str, type[nn.Module]] = {
    "Conv2d": nn.Conv2d,
    "MaxPool2d": nn.MaxPool2d,
    "AvgPool2d": nn.AvgPool2d,
    "AdaptiveAvgPool2d": nn.AdaptiveAvgPool2d,
    "AdaptiveMaxPool2d": nn.AdaptiveMaxPool2d,
    "BatchNorm2d": nn.BatchNorm2d,
    "BatchNorm1d": nn.BatchNorm1d,
    "ReLU": nn.ReLU,
    "LeakyReLU": nn.LeakyReLU,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
    "Tanh": nn.Tanh,
    "Sigmoid": nn.Sigmoid,
    "Dropout": nn.Dropout,
    "Dropout2d": nn.Dropout2d,
    "Flatten": nn.Flatten,
    "Linear": nn.Linear,
}
RESIDUAL = "Residual"
LAYER_NAMES = (*ARGS, RESIDUAL)
IMAGE_ONLY = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "BatchNorm2d", "Dropout2d"}
FLAT_ONLY = {"Linear", "BatchNorm1d"}


def unknown_layer(where: str, name) -> ConfigError:
    close = difflib.get_close_matches(str(name), LAYER_NAMES, n=1, cutoff=0.6)
    close += [n for n in LAYER_NAMES if n.lower() == str(name).lower() and n not in close]
    hint = f"did you mean {close[0]}? " if close else ""
    return ConfigError(f"{where}: unknown layer {name!r}; {hint}use one of {', '.join(LAYER_NAMES)}.")


def check_args(where: str, name: str, given: dict) -> dict:
    """The layer's stated arguments, type- and range-checked, in ARGS order (ints as ints, floats
    as floats, pairs as given). Refuses an unknown argument, a wrong type and a value out of range."""
    spec = ARGS[name]
    for key in given:
        if key not in spec:
            close = difflib.get_close_matches(key, spec, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            takes = f"it takes {', '.join(spec)}" if spec else "it takes no arguments"
            raise ConfigError(f"{where}: unknown argument {key!r}; {hint}{takes}.")
    for key in REQUIRED.get(name, ()):
        if key not in given:
            raise ConfigError(f"{where}: {key} is missing; {name} needs {', '.join(REQUIRED[name])}.")
    return {key: _value(where, key, given[key], arg) for key, arg in spec.items() if key in given}


def _value(where: str, key: str, v, arg: Arg):
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{where}: {key} must be {what}, not {_shown(v)}.")

    def whole(x) -> bool:
        return type(x) is int

    def in_range(x) -> None:
        if x < arg.lo:
            raise ConfigError(f"{where}: {key} must be at least {_num(arg.lo)}, not {_shown(v)}.")
        if x > arg.hi or (arg.below_hi and x >= arg.hi):
            raise ConfigError(
                f"{where}: {key} must be {'below' if arg.below_hi else 'at most'} {_num(arg.hi)}, not {_shown(v)}."
            )

    if arg.kind == "bool":
        if type(v) is not bool:
            raise bad("true or false")
        return v
    if arg.kind == "choice":
        if v not in arg.choices:
            raise bad(" or ".join(repr(c) for c in arg.choices))
        return v
    if arg.kind == "float":
        if type(v) not in (int, float) or not math.isfinite(v):
            raise bad("a number")
        in_range(v)
        return float(v)
    if arg.kind == "padding" and v in ("same", "valid"):
        return v
    if arg.kind in ("pair", "padding") and isinstance(v, list):
        if len(v) != 2 or not all(map(whole, v)):
            raise bad("a whole number or a pair of whole numbers [height, width]")
        for x in v:
            in_range(x)
        return list(v)
    if not whole(v):
        pair = " or a pair of whole numbers [height, width]" if arg.kind in ("pair", "padding") else ""
        same = ", or 'same' or 'valid'" if arg.kind == "padding" else ""
        raise bad(f"a whole number{pair}{same}")
    in_range(v)
    return v


def _shown(v) -> str:
    return "true" if v is True else "false" if v is False else "null" if v is None else repr(v)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def pair(v) -> tuple[int, int]:
    return (v[0], v[1]) if isinstance(v, (list, tuple)) else (v, v)


@dataclass(frozen=True)
class Layer:
    """One layer worked out: the torch.nn constructor's arguments (inferred ones included), its
    output shape (C, H, W) or (F,), parameters and multiply-adds per image."""

    name: str
    kwargs: dict
    shape: tuple
    params: int
    macs: int


def work_out(where: str, name: str, args: dict, shape: tuple, out_features: int | None = None) -> Layer:
    """Layer `name` with checked `args` on an input of `shape`; out_features: the classifier's,
    for a Linear that leaves it out. Raises ConfigError where the input does not fit."""
    image = len(shape) == 3
    if name in IMAGE_ONLY and not image:
        raise ConfigError(
            f"{where}: needs an image (channels x height x width), but gets {shape[0]} flat features; "
            f"move it before the Flatten{' or use BatchNorm1d' if name == 'BatchNorm2d' else ''}."
        )
    if name in FLAT_ONLY and image:
        raise ConfigError(
            f"{where}: needs flat features, but gets a {_dims(shape)} image; add a Flatten before it"
            f"{' or use BatchNorm2d' if name == 'BatchNorm1d' else ''}."
        )
    inferred = INFERRED.get(name)
    if inferred and inferred in args and args[inferred] != shape[0]:
        raise ConfigError(
            f"{where}: {inferred} is {args[inferred]}, but the input has {shape[0]}; leave it out (it is inferred)."
        )
    kw = {k: v for k, v in args.items() if k != inferred}
    if name == "Conv2d":
        return _conv(where, kw, shape)
    if name in ("MaxPool2d", "AvgPool2d"):
        return _pool(where, name, kw, shape)
    if name.startswith("Adaptive"):
        oh, ow = pair(kw["output_size"])
        return Layer(name, kw, (shape[0], oh, ow), 0, 0)
    if name.startswith("BatchNorm"):
        n = shape[0]
        return Layer(name, {"num_features": n, **kw}, shape, 2 * n if kw.get("affine", True) else 0, math.prod(shape))
    if name == "Flatten":
        return Layer(name, kw, (math.prod(shape),), 0, 0)
    if name == "Linear":
        n_in, n_out = shape[0], kw.get("out_features", out_features)
        if n_out is None:
            raise ConfigError(f"{where}: out_features is missing; only the last Linear may leave it out.")
        params = n_in * n_out + (n_out if kw.get("bias", True) else 0)
        kw = {"in_features": n_in, "out_features": n_out, **{k: v for k, v in kw.items() if k != "out_features"}}
        return Layer(name, kw, (n_out,), params, n_in * n_out)
    return Layer(name, kw, shape, 0, 0)  # activations and dropout keep the shape


def _dims(shape: tuple) -> str:
    return "x".join(map(str, shape))


def _conv(where: str, kw: dict, shape: tuple) -> Layer:
    c, h, w = shape
    out, groups = kw["out_channels"], kw.get("groups", 1)
    (kh, kw_), (sh, sw), (dh, dw) = pair(kw["kernel_size"]), pair(kw.get("stride", 1)), pair(kw.get("dilation", 1))
    padding = kw.get("padding", 0)
    if padding == "same" and (sh, sw) != (1, 1):
        raise ConfigError(f"{where}: padding 'same' needs stride 1; give the padding as a number instead.")
    if c % groups or out % groups:
        raise ConfigError(
            f"{where}: groups {groups} must divide both the {c} input channels and the {out} output channels."
        )
    eh, ew = dh * (kh - 1) + 1, dw * (kw_ - 1) + 1  # the kernel's reach, with dilation
    if padding == "same":
        oh, ow = h, w
    else:
        ph, pw = (0, 0) if padding == "valid" else pair(padding)
        if h + 2 * ph < eh or w + 2 * pw < ew:
            reach = f"{eh}x{ew} (dilated)" if (dh, dw) != (1, 1) else f"{kh}x{kw_}"
            raise ConfigError(
                f"{where}: a {reach} kernel does not fit the {h}x{w} input; add padding or remove a pooling layer."
            )
        oh, ow = (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1
    bias = kw.get("bias", True)
    per_out = (c // groups) * kh * kw_
    return Layer(
        "Conv2d",
        {"in_channels": c, **kw},
        (out, oh, ow),
        out * per_out + (out if bias else 0),
        out * oh * ow * per_out,
    )


def _pool(where: str, name: str, kw: dict, shape: tuple) -> Layer:
    c, h, w = shape
    (kh, kw_), (ph, pw) = pair(kw["kernel_size"]), pair(kw.get("padding", 0))
    sh, sw = pair(kw.get("stride", kw["kernel_size"]))
    if 2 * ph > kh or 2 * pw > kw_:
        raise ConfigError(f"{where}: padding must be at most half the kernel size ({kh}x{kw_}).")
    if h + 2 * ph < kh or w + 2 * pw < kw_:
        raise ConfigError(
            f"{where}: a {kh}x{kw_} pooling does not fit the {h}x{w} input; "
            f"remove a pooling layer or use a smaller kernel."
        )
    ceil = kw.get("ceil_mode", False)
    return Layer(name, kw, (c, _pooled(h, kh, sh, ph, ceil), _pooled(w, kw_, sw, pw, ceil)), 0, 0)


def _pooled(size: int, k: int, s: int, p: int, ceil: bool) -> int:
    """torch's pooling output size (aten pooling_output_shape)."""
    span = size + 2 * p - k
    out = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:  # the last window must start inside the input or its left padding
        out -= 1
    return out
