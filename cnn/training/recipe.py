"""A training recipe: every setting a run trains with, as plain data (`Recipe`), checked by its
`validate`; the engine (cnn.training.engine.train) carries it out. The named presets are in
cnn.training.recipes."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..data.augment_spec import check as check_augment
from ..data.augment_spec import format_spec, recipe_changes
from ..errors import ConfigError
from ..models import DESIGN

MNIST_HALF = ((0.5,), (0.5,))  # Normalize((0.5,), (0.5,))
UNIT = ((0.0,), (1.0,))  # ToTensor alone (Keras: rescale 1/255)
CIFAR10_AIRBENCH = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "warmup_linear", "triangle")


@dataclass(frozen=True)
class Recipe:
    name: str
    model: str
    dataset: str
    optimizer: str  # 'sgd' | 'adam' | 'adamw'
    lr: float
    batch_size: int
    epochs: float  # may be fractional: the fast recipes stop mid-epoch
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    loss: str = "cross_entropy"  # 'nll' for models that end in log_softmax
    label_smoothing: float = 0.0
    normalize: tuple | None = None  # ((mean per channel), (std per channel)); None: the data set's own
    schedule: str = "constant"  # 'constant' | 'warmup_linear' (warm up, then decay to zero)
    # | 'triangle' (lr_start -> 1 -> lr_end, linear pieces)
    warmup: float = 0.0  # share of all steps spent warming up (triangle: where the peak is)
    lr_start: float = 0.0  # triangle: learning-rate factor at the first step
    lr_end: float = 0.0  # triangle: learning-rate factor at the last step
    drop_last: bool = False  # skip each epoch's last partial batch (one batch shape throughout)
    crop_pad: int = 0  # random translation by up to this many pixels (0: none)
    flip: bool = False  # random horizontal flips, and flip test-time averaging
    alternate_flip: bool = False  # with flip: each image's flip alternates between epochs (airbench)
    tta_translate: bool = False  # test time: also average over 1-pixel shifts (airbench's level 2)
    whiten: bool = False  # set the model's stem to whiten the data's patches (FastNet), frozen
    whiten_bias_epochs: float = 0  # with whiten: the stem's bias learns only this many epochs (0: all)
    norm_bias_lr_scale: float = 1.0  # batch-norm parameters get this times the learning rate, same decay
    lookahead: bool = False  # every 5 steps pull the weights to their moving average (airbench)
    # Augmentation beside crop_pad and flip (0: off; their names, ranges and meaning: cnn.data.augment_spec):
    rotate: float = 0.0  # degrees either way
    scale: float = 0.0  # zoom share either way (0.15: 85% to 115%)
    shift: float = 0.0  # share of the side, each way
    stroke: int = 0  # grey drawings: strokes thickened or thinned by up to this many px
    thicken: int = 0  # grey drawings: strokes thickened (never thinned) by up to this many px
    colour: float = 0.0  # brightness, contrast (colour images: saturation) by up to this share
    elastic: float = 0.0  # elastic distortion's strength
    blur: float = 0.0  # Gaussian blur's largest sigma, px
    blocky: int = 0  # pixel grid coarsened by 1 to 1 + this many times
    erase: float = 0.0  # chance of a blanked rectangle (cutout)
    head_only_epochs: float = 0.0  # fine-tuning: only the final classifier learns for this many epochs
    mixed_precision: bool = (
        False  # CUDA: bf16 (or cuda_dtype) autocast; CPU: the fastest of fp32/bf16 (cnn.training.cpu_mode)
    )
    cuda_dtype: str = "bf16"  # 'fp16': fp16 autocast on CUDA, with a fixed loss scale (as airbench)
    design: list | None = None  # model 'design': its layers (cnn.models.design), JSON values
    reported: str = ""  # what the tutorial reported, for docs/cli.md's table
    notes: str = ""  # where a setting is the project's choice, not the tutorial's

    def replace(self, **changes) -> Recipe:
        """A copy with the given settings changed; None values are ignored. Another model than the
        recipe's own gets cross-entropy instead of NLL, which only suits models ending in log_softmax,
        and no whitening stem, which only the recipe's own FastNet is built for."""
        changes = {k: v for k, v in changes.items() if v is not None}
        other_model = changes.get("model", self.model) != self.model
        if self.loss == "nll" and other_model and "loss" not in changes:
            changes["loss"] = "cross_entropy"
        if other_model and changes.get("model") != DESIGN and "design" not in changes:
            changes["design"] = None  # the layers belong to the model 'design' alone
        if self.whiten and other_model and "whiten" not in changes:
            changes["whiten"] = False  # the whitening stem belongs to the recipe's own model
        if self.head_only_epochs and "epochs" in changes and "head_only_epochs" not in changes and self.epochs:
            # a fine-tuning phase keeps its share of the run (--epochs 10 on a 40-epoch teach preset
            # with 20 head-only epochs: 5 head-only, not the whole run)
            changes["head_only_epochs"] = round(self.head_only_epochs * changes["epochs"] / self.epochs, 2)
        return dataclasses.replace(self, **changes)

    def validate(self, n_train: int | None = None) -> None:
        """Refuse settings that cannot train, with a message that says what to change."""
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(
                f"Learning rate must be a number above zero (got {self.lr}); try 0.001 for Adam or 0.01 for SGD."
            )
        if not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError(f"Epochs must be above zero (got {self.epochs}).")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ConfigError(f"Batch size must be a whole number of at least 1 (got {self.batch_size}).")
        if n_train is not None and self.batch_size > n_train:
            raise ConfigError(
                f"Batch size {self.batch_size} is larger than the training set "
                f"({n_train} images); use a batch size of at most {n_train}."
            )
        if self.model == DESIGN and not self.design:
            raise ConfigError("The model 'design' needs its layers: give a design (a JSON list of layers).")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"Unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"Unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}.")
        if self.cuda_dtype not in ("bf16", "fp16"):
            raise ConfigError(f"cuda_dtype must be 'bf16' or 'fp16' (got {self.cuda_dtype!r}).")
        if not 0 <= self.momentum < 1 or self.weight_decay < 0 or not 0 <= self.label_smoothing < 1:
            raise ConfigError("Momentum and label smoothing must be in [0, 1) and weight decay at least 0.")
        if self.head_only_epochs < 0:
            raise ConfigError(f"head_only_epochs must be at least 0 (got {self.head_only_epochs}).")
        check_augment(self.as_dict())

    def with_augment(self, spec: str | None) -> Recipe:
        """A copy with the augmentation `spec` names (cnn.data.augment_spec); None: its own."""
        return self if spec is None else self.replace(**recipe_changes(spec))

    @property
    def augment(self) -> str:
        return format_spec(self.as_dict())

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
