"""What a data set trains with when nobody names a model or a recipe (the CLI; the app): the
project's fast preset for it."""

from __future__ import annotations

from ..errors import ConfigError
from .recipe import Recipe
from .recipes import get_recipe

# What a data set trains with when no --model or --recipe is named (the CLI; the app): the
# project's fast preset for it. airbench94's net (cifar10_fast) pays off only on a GPU; on a CPU
# its narrower twin (cifar10_small) gets further in the same time.
FAST_DEFAULTS = {"mnist": "mnist_fast", "fashion-mnist": "mnist_fast"}
_CIFAR10_FAST_DEFAULT = {"cuda": "cifar10_fast"}  # device type -> recipe; anything else: cifar10_small
_DATASET_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}
FOLDER_MAX_SIDE = 64  # image folders with larger images get no default: name a model


def fast_default(dataset: str, device_type: str = "cpu", input_shape: tuple | None = None) -> Recipe:
    """The fast recipe for `dataset` ('mnist', 'fashion-mnist', 'cifar10' or an image folder's path)
    on a device of type `device_type` ('cuda', 'mps', 'cpu'; cnn.hardware.pick_device().type), with
    its data set set to `dataset`. An image folder is picked for by its images' (C, H, W),
    `input_shape` (cnn.data.Dataset.input_shape): grey images up to 64 pixels a side get
    mnist_fast, colour ones CIFAR-10's default; otherwise a ConfigError says to name a model."""
    key = dataset.strip().lower()
    key = _DATASET_ALIASES.get(key, key)
    if key in FAST_DEFAULTS:
        name = FAST_DEFAULTS[key]
    elif key == "cifar10":
        name = _CIFAR10_FAST_DEFAULT.get(device_type, "cifar10_small")
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
        name = "mnist_fast" if c == 1 else _CIFAR10_FAST_DEFAULT.get(device_type, "cifar10_small")
    return get_recipe(name).replace(dataset=dataset)
