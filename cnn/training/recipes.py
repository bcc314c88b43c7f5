"""Training recipes: each seed tutorial's original settings as a named preset, plus the project's
fast ones (`cnn.training.defaults.fast_default`: what a data set trains with when nobody names one).
A recipe is plain data (cnn.training.recipe.Recipe); the engine (cnn.training.engine.train) carries it out."""

from __future__ import annotations

from ..errors import ConfigError
from ..models import DESIGN, get_spec
from .recipe import CIFAR10_AIRBENCH, MNIST_HALF, UNIT, Recipe

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

# The project's own recipes: data on the device, BN nets, warm-up/decay, label smoothing. Small
# batches: at under one epoch, more updates per image reach 99% sooner than faster steps.
MNIST_FAST = Recipe(
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
        MNIST_FAST,
        # mnist_fast's recipe on its narrower twin (widths 16/32/64): 1.5x faster on a CPU, not the
        # default (one seed in nine ended under 99%: cnn/training/defaults.py)
        MNIST_FAST.replace(
            name="mnist_small",
            model="mnist_small",
            epochs=1.0,
            reported="project: fast MNIST on a CPU",
            notes="1 epoch: the shortest that kept seeds 0-2 at 99.05% or more (99.09%; 1.5x mnist_fast's "
            "speed on the 2-core AVX2 VM; seed 4 ended at 98.97%): bench/mnist_widths.py, "
            "docs/benchmarks/cpu/mnist_small.log and mnist_small_seeds345.log",
        ),
        # mnist_fast's recipe, longer, with larger batches and shifts: the shipped MNIST checkpoint
        MNIST_FAST.replace(
            name="mnist_best",
            lr=0.05,
            batch_size=128,
            epochs=12,
            crop_pad=2,
            reported="project: mnist_fast's recipe, longer (the shipped MNIST checkpoint's first half, on mnist_mid)",
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


# The shipped digit model's recipe: mnist_best's settings on mnist_mid (mnist_fast at 1.5x its
# widths) with the augmentation chosen for drawings on the tune half of the drawing styles
# (bench/augment_drawings.py, bench/drawing_accuracy.py --tune; docs/augmentation.md). The shipped
# checkpoint is 6 epochs of it fine-tuned from a clean mnist_best run of the same net (--init-from):
# 99.52% on the test set, where 12 epochs of it from scratch gave 99.47% and mnist_fast's 99.29-99.46%.
RECIPES["mnist_drawings"] = RECIPES["mnist_best"].replace(
    name="mnist_drawings",
    model="mnist_mid",
    thicken=1,
    blur=1.0,
    blocky=2,
    reported="project: the shipped MNIST checkpoint (fine-tuned from mnist_best's run of mnist_mid)",
)


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"Unknown recipe {name!r}. Choose one of: {', '.join(RECIPES)}.") from None


def default_recipe(model: str) -> Recipe:
    """The model's own preset (its tutorial's recipe for a seed model)."""
    return get_recipe(get_spec(model).recipe)
