"""What a data set trains with when nobody names a model or a recipe (the CLI; the app): the
project's fast preset for it."""

from __future__ import annotations

from ..errors import ConfigError
from .recipe import Recipe
from .recipes import get_recipe

# What a data set trains with when no --model or --recipe is named (the CLI; the app): the
# project's fast preset for it, by device type. airbench94's net (cifar10_fast) pays off only on a
# GPU; on a CPU its narrower twin (cifar10_small) gets further in the same time. MNIST keeps
# mnist_fast everywhere: its narrower twin (mnist_small) trains 1.5x as fast on a CPU, but one seed
# in nine ended under 99% (98.97%), where mnist_fast keeps 99.14% or more (docs/performance-cpu.md);
# the default stays the one that always reaches 99%.
GREY, COLOUR = "grey", "colour"  # an image folder's kind: picked for by its channels
FAST_DEFAULTS = {"mnist": GREY, "fashion-mnist": GREY, "cifar10": COLOUR}
_ON_CUDA = {GREY: "mnist_fast", COLOUR: "cifar10_fast"}
_OFF_CUDA = {GREY: "mnist_fast", COLOUR: "cifar10_small"}  # the CPU, MPS, anything else
_DATASET_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}
FOLDER_MAX_SIDE = 64  # image folders with larger images get no default: name a model


def fast_default(dataset: str, device_type: str = "cpu", input_shape: tuple | None = None) -> Recipe:
    """The fast recipe for `dataset` ('mnist', 'fashion-mnist', 'cifar10' or an image folder's path)
    on a device of type `device_type` ('cuda', 'mps', 'cpu'; cnn.hardware.pick_device().type), with
    its data set set to `dataset`. An image folder is picked for by its images' (C, H, W),
    `input_shape` (cnn.data.Dataset.input_shape): grey images up to 64 pixels a side get MNIST's
    default, colour ones CIFAR-10's; otherwise a ConfigError says to name a model. On CUDA the
    defaults are mnist_fast and cifar10_fast; on any other device mnist_fast and cifar10_small."""
    key = dataset.strip().lower()
    key = _DATASET_ALIASES.get(key, key)
    if key in FAST_DEFAULTS:
        kind = FAST_DEFAULTS[key]
    elif input_shape is None:
        raise ConfigError(
            f"No fast default for {dataset!r} without its images' shape; name a --model "
            f"(e.g. mnist_fast for grey images, cifar10_small for colour ones) or a --recipe."
        )
    else:
        c, h, w = input_shape
        if max(h, w) > FOLDER_MAX_SIDE or c not in (1, 3):
            raise ConfigError(
                f"No fast default for {dataset!r}: its images are {c}x{h}x{w} (channels x height "
                f"x width), and the fast presets are for up to {FOLDER_MAX_SIDE}x{FOLDER_MAX_SIDE} "
                f"grey or colour images. Name a --model (e.g. cifar10_small) or a --recipe."
            )
        kind = GREY if c == 1 else COLOUR
    name = (_ON_CUDA if device_type == "cuda" else _OFF_CUDA)[kind]
    return get_recipe(name).replace(dataset=dataset)
