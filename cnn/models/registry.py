"""Every model by name: what it was written for, its default recipe, and how to build it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..errors import ConfigError
from ..limits import check_input
from .design import DESIGN, MAX_PARAMETERS, parse
from .fast import FastNet, MnistFastNet
from .seeds import (
    Seed000Keras,
    Seed000Net,
    Seed001ConvNet,
    Seed002Keras,
    Seed002Net,
    Seed003CNN,
    Seed004CNN,
    Seed004SimpleCNN,
)

# A ready-made model's parameters, counted before it is built: the seeds grow with the image size
# (their first Linear takes the flattened maps), and seed004_cnn on a 64x64 folder has 22 M. Four
# designs' worth (160 MB of float32 weights) lets every model train on the folder default size and
# refuses a checkpoint that names 256x256 images for it (488 M).
MAX_READY_MADE_PARAMETERS = 4 * MAX_PARAMETERS


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., nn.Module]
    dataset: str  # the data set it was written for
    input_shape: tuple  # (C, H, W) it was written for
    recipe: str  # its default recipe preset
    about: str
    kwargs: tuple = ()  # extra builder arguments, as (key, value) pairs

    def build(self, in_channels=None, num_classes=10, image_size=None, design=None, batch_size=1) -> nn.Module:
        """The model, once its size is known to be within the limits (cnn.limits' input shape and
        classes; a design's limits at `batch_size`; a ready-made model's parameters, counted on
        the meta device, which allocates nothing): nothing is allocated for a model over them."""
        c, h, _ = self.input_shape
        c, h, k = check_input(in_channels or c, image_size or h, num_classes, f"The {self.name} model")
        if self.name == DESIGN:
            return self.builder(c, k, h, design=design, batch_size=batch_size)
        n = ready_made_parameters(self.name, c, h, k)
        if n > MAX_READY_MADE_PARAMETERS:
            raise ConfigError(
                f"A {self.name} model for {c} x {h} x {h} images and {k} classes has {n:,} parameters; "
                f"the limit is {MAX_READY_MADE_PARAMETERS:,}. Use smaller images or fewer classes."
            )
        return self.builder(c, k, h, **dict(self.kwargs))


@functools.lru_cache(maxsize=256)
def ready_made_parameters(name: str, channels: int, side: int, classes: int) -> int:
    """A ready-made model's parameter count, from a build on the meta device (nothing allocated;
    about 10 ms, so it is kept per shape: the app builds the same few models again and again)."""
    spec = MODELS[name]
    with torch.device("meta"):
        return sum(p.numel() for p in spec.builder(channels, classes, side, **dict(spec.kwargs)).parameters())


def _build_design(in_channels, num_classes, image_size, design=None, batch_size=1) -> nn.Module:
    """A design checked against the size limits (cnn.models.design) for `batch_size` images at once
    (1: a model loaded to predict; training checks its own batch) before it is built."""
    if design is None:
        raise ConfigError(f"The model {DESIGN!r} needs its layers: give a design (a JSON list of layers).")
    return parse(design, (in_channels, image_size, image_size), num_classes, batch_size=batch_size).build()


# A designed network (cnn.models.design): not in MODELS, which lists the ready-made models, since
# it is built from the layers that come with it (Recipe.design, a checkpoint's metadata 'design').
# Its input_shape is only a default: a design is checked against the data's own shape.
DESIGN_SPEC = ModelSpec(
    DESIGN, _build_design, "mnist", (1, 28, 28), "design", "your own network: a list of torch.nn layers"
)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec(
            "seed000_net",
            Seed000Net,
            "mnist",
            (1, 28, 28),
            "seed000",
            "seed000 'Complete guide to build CNN in PyTorch and Keras': NeuralNet",
        ),
        ModelSpec(
            "seed000_keras", Seed000Keras, "mnist", (1, 28, 28), "seed000_keras", "seed000's Keras twin, in PyTorch"
        ),
        ModelSpec(
            "seed001_convnet",
            Seed001ConvNet,
            "cifar10",
            (3, 32, 32),
            "seed001",
            "seed001 'Writing CNNs from scratch in PyTorch': ConvNeuralNet",
        ),
        ModelSpec(
            "seed002_net",
            Seed002Net,
            "mnist",
            (1, 28, 28),
            "seed002",
            "seed002 'Image classification model in PyTorch and TensorFlow': Net",
        ),
        ModelSpec(
            "seed002_keras", Seed002Keras, "mnist", (1, 28, 28), "seed002_keras", "seed002's Keras twin, in PyTorch"
        ),
        ModelSpec(
            "seed003_cnn", Seed003CNN, "mnist", (1, 28, 28), "seed003", "seed003 'TensorFlow vs PyTorch: CNN': CNN_NN"
        ),
        ModelSpec(
            "seed004_simplecnn",
            Seed004SimpleCNN,
            "cifar10",
            (3, 32, 32),
            "seed004_simplecnn",
            "seed004 'nn.Conv2d() and nn.MaxPool2d() in CNNs': SimpleCNN",
        ),
        ModelSpec(
            "seed004_cnn",
            Seed004CNN,
            "mnist",
            (1, 28, 28),
            "seed004",
            "seed004 'nn.Conv2d() and nn.MaxPool2d() in CNNs': CNN",
        ),
        ModelSpec(
            "mnist_fast",
            MnistFastNet,
            "mnist",
            (1, 28, 28),
            "mnist_fast",
            "project: small BN net for MNIST, fast on a CPU",
        ),
        ModelSpec(
            "mnist_small",
            MnistFastNet,
            "mnist",
            (1, 28, 28),
            "mnist_small",
            "project: a narrower mnist_fast, 1.5x as fast on a CPU",
            kwargs=(("widths", (16, 32, 64)),),
        ),
        ModelSpec(
            "mnist_mid",
            MnistFastNet,
            "mnist",
            (1, 28, 28),
            "mnist_drawings",
            "project: mnist_fast at 1.5x its widths (24/96/192): the shipped digit model, trained for drawings",
            kwargs=(("widths", (24, 96, 192)),),
        ),
        ModelSpec(
            "cifar10_fast",
            FastNet,
            "cifar10",
            (3, 32, 32),
            "cifar10_fast",
            "project: airbench94's net for CIFAR-10 on a GPU",
            kwargs=(("airbench", True),),
        ),
        ModelSpec(
            "cifar10_small",
            FastNet,
            "cifar10",
            (3, 32, 32),
            "cifar10_small",
            "project: a narrower airbench-style net that trains on a CPU",
            kwargs=(("widths", (32, 64, 128)), ("stem", 16)),
        ),
    ]
}


def get_spec(name: str) -> ModelSpec:
    if name == DESIGN:
        return DESIGN_SPEC
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"Unknown model {name!r}. Choose one of: {', '.join(MODELS)}.") from None


def build_model(name: str, in_channels=None, num_classes=10, image_size=None, design=None, batch_size=1) -> nn.Module:
    """Model `name` for in_channels x image_size x image_size images and num_classes classes; the
    model 'design' is built from `design` (a list of layers, cnn.models.design). Refused with a
    ConfigError, before anything is allocated, when it is over the limits (ModelSpec.build)."""
    return get_spec(name).build(in_channels, num_classes, image_size, design, batch_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def classifier_name(model: nn.Module) -> str:
    """The name of the model's final classifier, its last nn.Linear ('head', 'fc2', ...): the layer
    that is sized by the number of classes, and the one fine-tuning starts afresh."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no linear classifier layer to fine-tune.")
    return names[-1]


def load_partial_state(model: nn.Module, state: dict) -> None:
    """Load weights for part of a model (fine-tuning's start); the rest keeps its initialisation.
    Every entry must name one of the model's tensors, in its shape."""
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k not in own or tuple(own[k].shape) != tuple(v.shape)]
    if wrong:
        raise ConfigError(
            f"The starting weights do not fit this {type(model).__name__}: "
            f"{', '.join(wrong[:5])}{' ...' if len(wrong) > 5 else ''} differ."
        )
    model.load_state_dict(state, strict=False)
