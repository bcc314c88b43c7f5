"""A training run's settings as the app's Train tab takes them, checked before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..checkpoint import read_metadata
from ..data.sources import NAMED_CLASSES, NAMED_SHAPES, named_source
from ..errors import ConfigError
from ..models import DESIGN, MODELS, get_spec, parse
from ..models.design import load_layers
from ..training import get_recipe


@dataclass
class RunConfig:
    dataset: str  # 'mnist', 'fashion-mnist', 'cifar10' or a folder path
    model: str
    recipe: str
    epochs: float
    batch_size: int
    lr: float
    optimizer: str
    train_subset: int | None = None  # train on a fixed sample of this many images (None: all)
    test_subset: int | None = None
    seed: int = 0
    tensorboard: bool = False  # also write TensorBoard scalars (under the manager's tensorboard_dir)
    init_from: str | None = None  # continue from this checkpoint (the app resolves it from a run's name)
    parent: str | None = None  # that run's name, as the Runs tab lists it (kept in the new run's log)
    layers: list | None = None  # a design's layers (cnn.models.design): the model is then 'design'
    project: str | None = None  # a Teach run: the project's name (dataset is its folder, recipe its
    # teach preset, scaled to the project's size when it starts; init_from the checkpoint it fine-tunes)
    augment: str | None = None  # the run's whole augmentation (cnn.data.augment_spec); None: the recipe's

    @classmethod
    def for_project(cls, folder: str, name: str, kind: str, init_from: str | None = None) -> RunConfig:
        """A Teach run of the project `name` of `kind` ('drawings' or 'photos') at `folder`:
        fine-tuned from the checkpoint at init_from, or from scratch (None)."""
        base = get_recipe(f"teach_{kind}")
        model = read_metadata(init_from)["architecture"] if init_from else base.model
        return cls(
            str(folder),
            model,
            base.name,
            base.epochs,
            base.batch_size,
            base.lr,
            base.optimizer,
            init_from=str(init_from) if init_from else None,
            project=name,
        )

    def checked(self):
        """The recipe these settings make, refused with a clear message when out of range (a Teach
        run's: its preset, which the run scales to the project once it has loaded it)."""
        if self.project is not None:
            recipe = get_recipe(self.recipe).with_augment(self.augment)
            recipe.validate()
            return recipe
        get_spec(self.model)
        for name, v in (("Epochs", self.epochs), ("Batch size", self.batch_size), ("Learning rate", self.lr)):
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                raise ConfigError(f"{name} must be a number.")
        for name, v in (("Training subset", self.train_subset), ("Test subset", self.test_subset)):
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be at least 1 image (or empty for all).")
        if not str(self.dataset or "").strip():
            raise ConfigError("Choose a data set, or give the path of an image folder.")
        design = self._design()
        recipe = (
            get_recipe(self.recipe)
            .replace(
                model=DESIGN if design is not None else self.model,
                design=design,
                dataset=self.dataset,
                epochs=float(self.epochs),
                batch_size=int(self.batch_size) if float(self.batch_size).is_integer() else self.batch_size,
                lr=float(self.lr),
                optimizer=self.optimizer,
            )
            .with_augment(self.augment)
        )
        recipe.validate()
        if design is None:
            check_fits(self.model, self.dataset)
        return recipe

    def _design(self) -> list | None:
        """The design's normalised layers, checked for a named data set's images and the batch size
        (a folder's images are checked when its run builds the model); None for a ready-made model."""
        if self.layers is None:
            return None
        key = named_source(self.dataset)
        if key is None:
            return load_layers(self.layers)
        return parse(self.layers, NAMED_SHAPES[key], NAMED_CLASSES[key], int(self.batch_size)).layers


def check_fits(model: str, dataset: str) -> None:
    """Refuse a model written for other images than a named data set's (grey 28x28 or colour 32x32)."""
    key = named_source(dataset)
    want, have = get_spec(model).input_shape, NAMED_SHAPES.get(key)
    if have is None or tuple(want) == have:
        return
    fits = ", ".join(n for n, s in MODELS.items() if tuple(s.input_shape) == have)
    raise ConfigError(
        f"The model {model} is written for {_shape_words(want)} images, and {key} has "
        f"{_shape_words(have)} images. Choose a model for {_shape_words(have)} images "
        f"({fits}), or choose the data set again to get its fast model."
    )


def _shape_words(shape) -> str:
    c, h, w = shape
    return f"{'grey' if c == 1 else 'colour'} {h}x{w}"
