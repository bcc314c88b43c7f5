"""Training recipes: each seed tutorial's original settings as a named preset, plus the project's
fast ones (`cnn.training.defaults.fast_default`: what a data set trains with when nobody names one).
A recipe is plain data; the engine (cnn.training.engine.train) carries it out."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..data.augment_spec import check as check_augment
from ..data.augment_spec import format_spec, recipe_changes
from ..errors import ConfigError
from ..models import DESIGN, get_spec

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


# airbench94 (arXiv 2404.00498) in this engine's terms: its lr 11.5 and weight decay 0.0153
# "per 1024 examples" with momentum 0.85 on a summed loss are lr 1.5 and weight decay 0.00133
# on the mean loss; the other settings are its own.
AIRBENCH94 = Recipe(
    "cifar10_fast",
    "cifar10_fast",
    "cifar10",
    "sgd",
    1.5,
    1024,
    9.9,
    momentum=0.85,
    nesterov=True,
    weight_decay=0.0153 / (1 + 1 / 0.15) / 1.5,
    label_smoothing=0.2,
    normalize=CIFAR10_AIRBENCH,
    schedule="triangle",
    warmup=0.23,
    lr_start=0.2,
    lr_end=0.07,
    drop_last=True,
    crop_pad=2,
    flip=True,
    alternate_flip=True,
    tta_translate=True,
    whiten=True,
    whiten_bias_epochs=3,
    norm_bias_lr_scale=64,
    lookahead=True,
    mixed_precision=True,
    cuda_dtype="fp16",
    reported="project: airbench94's method, 94% in seconds on a GPU",
)

TEACH = [
    Recipe(
        "teach_drawings",
        "mnist_fast",
        "project",
        "adam",
        2e-3,
        16,
        200,
        label_smoothing=0.1,
        schedule="warmup_linear",
        warmup=0.1,
        rotate=12,
        scale=0.15,
        shift=0.08,
        reported="project: your own drawings (the Teach tab)",
        notes="no stroke-width augmentation: prepare_digit evens stroke widths out, and +-1 px cost "
        "2 points on fresh drawings (bench/teach_drawings.py)",
    ),
    Recipe(
        "teach_photos",
        "cifar10_small",
        "project",
        "adam",
        1e-3,
        16,
        200,
        label_smoothing=0.1,
        schedule="warmup_linear",
        warmup=0.1,
        flip=True,
        crop_pad=3,
        scale=0.15,
        colour=0.2,
        reported="project: your own photos (the Teach tab)",
    ),
]

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "seed000",
            "seed000_net",
            "mnist",
            "adam",
            1e-3,
            64,
            3,
            loss="nll",
            normalize=((0.1307,), (0.3081,)),
            reported="no figure (prints test loss and accuracy)",
            notes="tutorial: Adam (default lr), NLL loss; batch 64, 3 epochs and MNIST normalisation are the project's choice",  # noqa: E501
        ),
        Recipe(
            "seed000_keras",
            "seed000_keras",
            "mnist",
            "adam",
            1e-3,
            200,
            10,
            normalize=UNIT,
            reported="no figure",
            notes="Keras: Adam, 10 epochs, batch 200, rescale 1/255",
        ),
        Recipe(
            "seed001",
            "seed001_convnet",
            "cifar10",
            "sgd",
            1e-3,
            64,
            20,
            momentum=0.9,
            weight_decay=0.005,
            normalize=((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
            reported="about 83% (on the training images); 81% train / 67% test measured on an H100",
        ),
        Recipe("seed002", "seed002_net", "mnist", "adam", 0.01, 64, 10, normalize=MNIST_HALF, reported="97.28% test"),
        Recipe(
            "seed002_keras",
            "seed002_keras",
            "mnist",
            "adam",
            1e-3,
            32,
            10,
            normalize=UNIT,
            reported="97.0% validation",
            notes="Keras defaults: Adam lr 0.001, batch 32; rescale 1/255",
        ),
        Recipe(
            "seed003",
            "seed003_cnn",
            "mnist",
            "adam",
            1e-3,
            64,
            5,
            normalize=UNIT,
            reported="no figure",
            notes="the tutorial gives no recipe: Adam 0.001, batch 64, 5 epochs are the project's choice",
        ),
        Recipe(
            "seed004",
            "seed004_cnn",
            "mnist",
            "adam",
            1e-3,
            100,
            3,
            normalize=MNIST_HALF,
            reported="98.80% test after 3 epochs (98.69%, 99.09%, 98.80%)",
        ),
        Recipe(
            "seed004_simplecnn",
            "seed004_simplecnn",
            "cifar10",
            "adam",
            1e-3,
            100,
            3,
            normalize=((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            reported="no figure",
            notes="the tutorial trains only its MNIST CNN; SimpleCNN gets that recipe on CIFAR-10",
        ),
        # The project's own recipes: data on the device, BN nets, warm-up/decay, label smoothing.
        # Small batches: at under one epoch, more updates per image reach 99% sooner than faster steps.
        Recipe(
            "mnist_fast",
            "mnist_fast",
            "mnist",
            "sgd",
            0.1,
            64,
            0.8,
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            label_smoothing=0.1,
            schedule="warmup_linear",
            warmup=0.1,
            crop_pad=1,
            mixed_precision=True,
            reported="project: fast MNIST",
        ),
        Recipe(
            "mnist_best",
            "mnist_fast",
            "mnist",
            "sgd",
            0.05,
            128,
            12,
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            label_smoothing=0.1,
            schedule="warmup_linear",
            warmup=0.1,
            crop_pad=2,
            mixed_precision=True,
            reported="project: the shipped MNIST checkpoint",
        ),
        AIRBENCH94,
        # The default for a design (model 'design', cnn.models.design): Adam with a one-cycle
        # learning rate (up for the first fifth, then down), which trains a small network of any
        # shape without tuning; LeNet-5 reaches 98.9% on MNIST in 2 epochs (docs/design.md).
        Recipe(
            "design",
            DESIGN,
            "mnist",
            "adam",
            3e-3,
            64,
            2,
            schedule="triangle",
            warmup=0.2,
            lr_start=0.1,
            lr_end=0.01,
            reported="project: the default for your own designs",
        ),
        Recipe(
            "cifar10_small",
            "cifar10_small",
            "cifar10",
            "sgd",
            0.5,
            256,
            12,
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            label_smoothing=0.2,
            schedule="warmup_linear",
            warmup=0.2,
            crop_pad=2,
            flip=True,
            mixed_precision=True,
            reported="project: CIFAR-10 on a CPU",
        ),
        AIRBENCH94.replace(
            name="cifar10_best",
            epochs=20,
            reported="project: the shipped CIFAR-10 checkpoint (cifar10_fast for 20 epochs)",
        ),
        # Teach it your own classes (cnn.projects): a few examples per class, heavy augmentation on the
        # device. The model is the one fine-tuned from (the shipped MNIST or CIFAR-10 checkpoint's) or,
        # from scratch, this one; epochs are scaled to the project's size (cnn.projects.teach_recipe).
        *TEACH,
    ]
}


# mnist_best with the augmentation chosen for drawings on the tune half of the drawing styles
# (bench/augment_drawings.py; docs/augmentation.md). Not yet what checkpoints/mnist.safetensors was trained with.
RECIPES["mnist_drawings"] = RECIPES["mnist_best"].replace(
    name="mnist_drawings", blur=1.0, blocky=2, reported="project: mnist_best for drawings"
)


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"Unknown recipe {name!r}. Choose one of: {', '.join(RECIPES)}.") from None


def default_recipe(model: str) -> Recipe:
    """The model's own preset (its tutorial's recipe for a seed model)."""
    return get_recipe(get_spec(model).recipe)
