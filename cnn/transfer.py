"""Fine-tuning's start: the convolutional features of a trained checkpoint, for a new model of the
same architecture with its own number of classes (a new, freshly initialised final classifier).

`starting_weights` reads the checkpoint (safetensors only, never a pickle), refuses what cannot
start the new model (another architecture, another number of input channels), and keeps every
entry of its state dict whose name and shape match the new model, except the final classifier's.
The engine loads those right after it builds the model (`train(..., init_state=...)`); the
recipe trains in the checkpoint's normalisation (`StartingWeights.fine_tune`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, read_metadata
from .errors import CheckpointError
from .models import DESIGN, build_model, classifier_name
from .training.recipe import Recipe

_KIND = {1: "grey", 3: "colour"}


@dataclass(frozen=True)
class StartingWeights:
    path: str
    architecture: str
    state: dict[str, torch.Tensor]  # what the new model starts from (no classifier)
    mean: tuple[float, ...]  # the checkpoint's normalisation, which its features expect
    std: tuple[float, ...]
    source_classes: list[str] = field(default_factory=list)
    left_fresh: list[str] = field(default_factory=list)  # the new model's entries that start afresh
    design: list | None = None  # a designed checkpoint's layers (architecture 'design')

    def fine_tune(self, recipe: Recipe) -> Recipe:
        """The recipe on the checkpoint's architecture (a design's layers too) and in its normalisation."""
        return recipe.replace(model=self.architecture, design=self.design, normalize=(self.mean, self.std))

    def describe(self) -> str:
        return (
            f"{Path(self.path).name} ({self.architecture}, trained on {len(self.source_classes)} "
            f"classes): {len(self.state)} tensors kept, {len(self.left_fresh)} start afresh"
        )


def starting_weights(
    path: str | os.PathLike,
    *,
    channels: int,
    num_classes: int,
    image_size: int,
    architecture: str | None = None,
    keep_classifier: bool = False,
    design: list | None = None,
) -> StartingWeights:
    """The weights of the checkpoint at `path` that a new `architecture` model (default: the
    checkpoint's own) for `channels` x `image_size` images and `num_classes` classes can start from.
    A CheckpointError says why when it cannot: another architecture or channel count, or nothing
    but the classifier in common. keep_classifier (continuing a run on its own classes): the final
    classifier is kept too where its shape fits. design: the layers of the design to be trained, for
    a designed checkpoint: refused unless they are the checkpoint's own (None: the checkpoint's)."""
    path = Path(path)
    meta = read_metadata(path)
    arch, shape = meta["architecture"], [int(v) for v in meta["input_shape"]]
    _check_source(path, arch, shape[0], architecture, channels)
    source, meta = load_checkpoint(path)  # refuses weights (or a design) that do not fit the architecture
    own = meta.get("design") if arch == DESIGN else None
    if design is not None and own is not None and _without_classes(design) != _without_classes(own):
        raise CheckpointError(
            f"{path.name} holds another design than the one given, so it cannot start it. Leave out the "
            f"design (the checkpoint's own is fine-tuned) or train the new design from scratch."
        )
    with torch.random.fork_rng(devices=[]):  # building the target draws random numbers: not the caller's
        target = build_model(arch, channels, num_classes, image_size, design=own).state_dict()
    head = classifier_name(source)
    is_head = lambda k: k == head or k.startswith(head + ".")
    state = {
        k: v.detach().clone()
        for k, v in source.state_dict().items()
        if (keep_classifier or not is_head(k)) and k in target and tuple(target[k].shape) == tuple(v.shape)
    }
    if not any(v.ndim == 4 for v in state.values()):
        raise CheckpointError(
            f"No convolution of {path.name} fits a {arch} model for {channels} x "
            f"{image_size} x {image_size} images; train from scratch instead."
        )
    norm = meta["normalization"]
    return StartingWeights(
        str(path),
        arch,
        state,
        tuple(map(float, norm["mean"])),
        tuple(map(float, norm["std"])),
        list(meta["classes"]),
        sorted(set(target) - set(state)),
        own,
    )


def _check_source(path: Path, arch: str, had: int, architecture: str | None, channels: int) -> None:
    """Refuse a checkpoint of another architecture, or trained on another number of channels."""
    if architecture and architecture != arch:
        raise CheckpointError(
            f"{path.name} holds a {arch} model, so it cannot start a {architecture} model. Leave out "
            f"the model (the checkpoint's {arch} is fine-tuned) or train from scratch without it."
        )
    if had != channels:
        raise CheckpointError(
            f"{path.name} was trained on {had}-channel ({_KIND.get(had, '?')}) images, but "
            f"these are {channels}-channel ({_KIND.get(channels, '?')}) ones. Start from a checkpoint "
            f"trained on {_KIND.get(channels, f'{channels}-channel')} images (the shipped MNIST one for "
            f"drawings, CIFAR-10 for photos), or train from scratch."
        )


def _without_classes(design: list) -> list:
    """A design with its last Linear's out_features left out: the classes may differ."""
    layers = [dict(layer) if isinstance(layer, dict) else layer for layer in design]
    last = [i for i, layer in enumerate(layers) if isinstance(layer, dict) and layer.get("layer") == "Linear"]
    if last:
        layers[last[-1]].pop("out_features", None)
    return layers
