"""The ready-made models as designs: the editor starts from any of them.

Every preset that is a plain sequence of design layers opens as an exact design: the same
parameters and, with the same weights (`preset_state_as_design`), the same outputs
(tests/test_design_presets.py). The others open as a close design, with a note on what differs.
The classifier's out_features is left out, so a design fits any number of classes.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError


def _conv(out, k, **kw) -> dict:
    return {"layer": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


def _pool(k, **kw) -> dict:
    return {"layer": "MaxPool2d", "kernel_size": k, **kw}


def _linear(out=None, **kw) -> dict:
    return {"layer": "Linear", **({"out_features": out} if out else {}), **kw}


def _l(name: str, **kw) -> dict:
    return {"layer": name, **kw}


RELU, FLAT = _l("ReLU"), _l("Flatten")


def _bn_block(out, k=3, **kw):
    return [_conv(out, k, **kw), _l("BatchNorm2d"), RELU]


def _fast_blocks(widths, stem) -> list:
    """FastNet's layers (cnn.models.fast) up to its global max-pool."""
    layers = [_conv(stem, 2, bias=True), _l("GELU")]
    for w in widths:
        layers += [_conv(w, 3, padding=1, bias=False), _pool(2), _l("BatchNorm2d"), _l("GELU")]
        layers += [_conv(w, 3, padding=1, bias=False), _l("BatchNorm2d"), _l("GELU")]
    return layers


def _mnist_fast_layers(widths) -> list:
    """MnistFastNet's layers (cnn.models.fast) with its three widths, its logits' scale aside."""
    a, b, c = widths
    return [
        *[x for w in (a, b) for x in (_conv(w, 3, padding=1, bias=False), _pool(2), _l("BatchNorm2d"), RELU)],
        *_bn_block(c, padding=1, bias=False),
        _l("AdaptiveMaxPool2d", output_size=1),
        FLAT,
        _linear(),
    ]


EXACT: dict[str, list] = {
    "seed000_keras": [_conv(32, 5), RELU, _pool(2), _l("Dropout", p=0.2), FLAT, _linear(128), RELU, _linear()],
    "seed001_convnet": [
        _conv(32, 3),
        _conv(32, 3),
        _pool(2, stride=2),
        _conv(64, 3),
        _conv(64, 3),
        _pool(2, stride=2),
        FLAT,
        _linear(128),
        RELU,
        _linear(),
    ],
    "seed002_net": [
        *_bn_block(4, padding=1),
        _pool(2, stride=2),
        *_bn_block(4, padding=1),
        _pool(2, stride=2),
        FLAT,
        _linear(),
    ],
    "seed002_keras": [_conv(4, 3), RELU, _pool(2), _conv(4, 3), RELU, _pool(2), FLAT, _linear()],
    "seed003_cnn": [_conv(3, 3, padding=1), _pool(2), RELU, _conv(6, 3, stride=2, padding=1), RELU, FLAT, _linear()],
    "seed004_simplecnn": [
        *[x for w in (32, 64, 128) for x in (_conv(w, 3, padding=1), RELU, _pool(2, stride=2))],
        FLAT,
        _linear(512),
        RELU,
        _linear(64),
        RELU,
        _linear(),
    ],
    "seed004_cnn": [
        *_bn_block(16),
        *_bn_block(32),
        _pool(2),
        *_bn_block(64),
        *_bn_block(128),
        _pool(2),
        FLAT,
        _linear(1024),
        RELU,
        _linear(128),
        _linear(),
    ],
}

# The presets that are not a plain sequence of design layers, why, and the design closest to them.
CLOSE: dict[str, tuple[str, list]] = {
    "seed000_net": (
        "it ends in log_softmax (its recipe trains it with NLL loss); a design ends in the Linear's "
        "logits, so this design's outputs are its outputs before the log_softmax",
        [_conv(32, 3), RELU, _conv(64, 3), RELU, _pool(2), FLAT, _linear(128), RELU, _linear()],
    ),
    "mnist_fast": (
        "it scales its logits by head_scale 0.5 after the last Linear; this design leaves them unscaled",
        _mnist_fast_layers((16, 64, 128)),
    ),
    "mnist_small": (
        "it scales its logits by head_scale 0.5 after the last Linear; this design leaves them unscaled",
        _mnist_fast_layers((16, 32, 64)),
    ),
    "mnist_mid": (
        "it scales its logits by head_scale 0.5 after the last Linear; this design leaves them unscaled",
        _mnist_fast_layers((24, 96, 192)),
    ),
    "cifar10_fast": (
        "airbench94's net: its stem is set from the data (whitening) and frozen, its batch norms learn "
        "no scale, its convolutions start as identity maps, and it scales its logits by 1/9; this "
        "design has its layers and shapes with ordinary initialisation and no scaling",
        [*_fast_blocks((64, 256, 256), 24), _l("AdaptiveMaxPool2d", output_size=1), FLAT, _linear(bias=False)],
    ),
    "cifar10_small": (
        "it scales its logits by 1/9 after the last Linear; this design leaves them unscaled",
        [*_fast_blocks((32, 64, 128), 16), _l("AdaptiveMaxPool2d", output_size=1), FLAT, _linear(bias=False)],
    ),
}


def design_of_preset(name: str) -> list:
    """The design of a preset that is a plain sequence of design layers (EXACT); a ConfigError says
    why for the others (see `closest_design`)."""
    if name in EXACT:
        return [dict(layer) for layer in EXACT[name]]
    if name in CLOSE:
        raise ConfigError(f"The model {name} is not a plain sequence of design layers: {CLOSE[name][0]}.")
    raise ConfigError(f"Unknown model {name!r}. Choose one of: {', '.join([*EXACT, *CLOSE])}.")


def closest_design(name: str) -> tuple[list, str]:
    """(design, note) for any preset: its exact design and '' or, where there is none, the closest
    one and what differs (the editor's 'start from a preset')."""
    if name in CLOSE:
        return [dict(layer) for layer in CLOSE[name][1]], f"Close to {name}, not the same: {CLOSE[name][0]}."
    return design_of_preset(name), ""


def preset_state_as_design(preset_state: dict, design_state: dict) -> dict:
    """A preset's weights under the keys of its design's model. The presets register their layers
    in the order they call them, as a design does, so the tensors correspond one to one in order;
    each pair must have the same kind ('weight', 'running_mean', ...) and shape."""
    a, b = list(preset_state.items()), list(design_state)
    if len(a) != len(b):
        raise ConfigError(f"The preset has {len(a)} tensors and the design {len(b)}; they do not correspond.")
    out = {}
    for (key, tensor), new in zip(a, b):
        want = design_state[new]
        if key.rsplit(".", 1)[-1] != new.rsplit(".", 1)[-1] or tuple(tensor.shape) != tuple(want.shape):
            raise ConfigError(f"The preset's {key} {tuple(tensor.shape)} does not fit the design's {new}.")
        out[new] = tensor.detach().clone() if isinstance(tensor, torch.Tensor) else tensor
    return out
