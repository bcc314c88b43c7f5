"""Test-set evaluation: accuracy, average loss, confusion matrix and every prediction.

What is evaluated is a model on a split (normalised as it trained); how, an `EvalPlan`: the
test-time `Augmentation` the split is scored with, the one predictions are served with (whose
logits temperatures are fitted on), the arithmetic and the batch shape. `evaluate` always returns
an `EvalResult`, or raises EvaluationStopped when asked to stop part-way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .data import Split
from .data.normalize import Normalizer
from .hardware import autocast


@dataclass(frozen=True)
class Augmentation:
    """Test-time augmentation: what an image's logits are averaged over."""

    flip: bool = False  # the image and its mirror
    translate: bool = False  # also the image shifted one pixel up-left and down-right (airbench's level 2)

    @classmethod
    def served(cls, flip: bool) -> Augmentation:
        """What a prediction averages over (cnn.serving.predictor, the ONNX export): the mirror where
        the checkpoint flips, never the shifts, which would triple the work of every photo. A
        checkpoint's temperature is fitted, and its calibration measured, on these logits."""
        return cls(flip=bool(flip))

    @classmethod
    def of_checkpoint(cls, metadata: Mapping) -> Augmentation:
        """What a checkpoint's test set is scored with (the accuracy its recipe is known by)."""
        return cls(bool(metadata.get("tta_flip")), bool(metadata.get("tta_translate")))


PRECISIONS = ("fp32", "bf16", "fp16")
SERVED_PRECISION = "fp32"  # the app serves fp32 logits (the Predictor on the CPU, the ONNX export)


@dataclass(frozen=True)
class EvalPlan:
    """How a split is evaluated: the augmentation it is scored with, the served logits kept beside
    (or not), the arithmetic and the batch shape."""

    scoring: Augmentation = Augmentation()  # the accuracy, loss, predictions and `logits`
    serving: Augmentation | None = None  # also keep the logits predictions get (`served_logits`)
    precision: str = "fp32"  # on CUDA: 'bf16' or 'fp16' autocast for the scoring; the CPU is always fp32
    batch_size: int = 1000
    pad_last: bool = False  # the last, shorter batch padded to batch_size (see evaluate)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of at least 1, not {self.batch_size!r}")

    @classmethod
    def served(cls, flip: bool) -> EvalPlan:
        """The logits the app serves, in the arithmetic it serves them in (SERVED_PRECISION): what a
        temperature is fitted on and a calibration error measured on."""
        a = Augmentation.served(flip)
        return cls(scoring=a, serving=a, precision=SERVED_PRECISION)

    @classmethod
    def test_pass(
        cls, scoring: Augmentation, recipe: Mapping, device: torch.device, *, serving: Augmentation | None = None
    ) -> EvalPlan:
        """A run's test pass, as its trainer runs it (and as a stopped run's kept weights are scored):
        the recipe's test-time augmentation; on CUDA its training arithmetic (fp32 unless the recipe
        trains in mixed precision, then its cuda_dtype) and its batch shape, the last batch padded,
        so that every convolution has a shape cuDNN already chose kernels for in training."""
        if torch.device(device).type != "cuda":
            return cls(scoring, serving)
        mixed = bool(recipe.get("mixed_precision"))
        return cls(
            scoring,
            serving,
            precision=str(recipe.get("cuda_dtype", "bf16")) if mixed else "fp32",
            batch_size=int(recipe.get("batch_size") or 1000),
            pad_last=True,
        )


class EvaluationStopped(Exception):
    """should_stop() turned true part-way through an evaluation (a Stop click)."""


@dataclass
class EvalResult:
    accuracy: float
    loss: float  # average cross-entropy over the split
    confusion: torch.Tensor  # [true, predicted] counts, num_classes x num_classes
    predictions: torch.Tensor  # predicted label of each image, on the CPU
    probabilities: torch.Tensor  # N x num_classes, on the CPU
    logits: torch.Tensor | None = None  # N x num_classes (float32, before any temperature), as scored, on the CPU
    # The logits as predictions get them (the plan's `serving`, in SERVED_PRECISION), on the CPU;
    # None when the plan did not ask for them. Temperatures are fitted, and ECE measured, on these.
    served_logits: torch.Tensor | None = None

    def misclassified(self, labels: torch.Tensor, limit: int = 24) -> list[int]:
        """Indices of wrongly predicted images, most confidently wrong first."""
        wrong = (self.predictions != labels.cpu()).nonzero().flatten()
        conf = self.probabilities[wrong, self.predictions[wrong]]
        return wrong[conf.argsort(descending=True)][:limit].tolist()


def tta_logits(
    model: torch.nn.Module, x: torch.Tensor, augmentation: Augmentation, stack: bool = False
) -> torch.Tensor:
    """The model's logits, averaged over the augmentation (float32). stack runs an image and its
    mirror as one batch: one forward pass instead of two, which halves the time for a single image
    on a CPU; evaluation keeps its batch shape instead."""
    return _tta_views(model, x, augmentation, stack)[0]


def _tta_views(
    model: torch.nn.Module, x: torch.Tensor, augmentation: Augmentation, stack: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the logits averaged over the augmentation, the same without the shifts)."""

    def mirrored(v):
        if not augmentation.flip:
            return model(v).float()
        if stack:
            return model(torch.cat((v, v.flip(3)))).float().view(2, len(v), -1).mean(0)
        return (model(v).float() + model(v.flip(3)).float()) / 2

    logits = unshifted = mirrored(x)
    if augmentation.translate:
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        shifts = [padded[:, :, :-2, :-2], padded[:, :, 2:, 2:]]
        if x.is_contiguous(memory_format=torch.channels_last):
            shifts = [v.contiguous(memory_format=torch.channels_last) for v in shifts]
        logits = (unshifted + (mirrored(shifts[0]) + mirrored(shifts[1])) / 2) / 2
    return logits, unshifted


def _served_in_scoring_pass(plan: EvalPlan, device: torch.device) -> bool:
    """Whether the scoring pass already computes the served logits: the same mirror, no shifts
    beyond the scoring's, and the served arithmetic."""
    s, v = plan.scoring, plan.serving
    same_arithmetic = device.type != "cuda" or plan.precision == SERVED_PRECISION
    return v is not None and v.flip == s.flip and (s.translate or not v.translate) and same_arithmetic


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    split: Split,
    normalizer: Normalizer,
    num_classes: int,
    plan: EvalPlan = EvalPlan(),
    *,
    should_stop=None,
) -> EvalResult:
    """The model on the whole split, as the plan says, on the device its normalizer is on.
    Raises EvaluationStopped if should_stop() turns true part-way (a Stop click).
    pad_last: the zero images padding the last batch are scored on their own (BN in eval mode) and
    dropped, so they change nothing."""
    device = normalizer.scale.device
    mixed = device.type == "cuda" and plan.precision != "fp32"  # the CPU evaluates in exact fp32
    served_inline = _served_in_scoring_pass(plan, device)
    size = plan.batch_size
    was_training = model.training
    model.eval()
    all_logits, all_served, loss_sum = [], [], 0.0
    try:
        for start in range(0, len(split), size):
            if should_stop is not None and should_stop():
                raise EvaluationStopped()
            x = normalizer(split.images[start : start + size].to(device, non_blocking=True))
            y = split.labels[start : start + size].to(device, non_blocking=True)
            n = len(x)
            if plan.pad_last and n < size:
                x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, size - n))
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, mixed_precision=mixed, cuda_dtype=plan.precision):
                logits, unshifted = _tta_views(model, x, plan.scoring)
            logits = logits[:n]
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            all_logits.append(logits.cpu())
            if plan.serving is not None:
                if served_inline:
                    served = logits if plan.serving.translate else unshifted[:n]
                else:  # another augmentation or arithmetic than the scoring's: its own pass, in fp32
                    served = tta_logits(model, x, plan.serving)[:n]
                all_served.append(served)  # kept on the device: one copy at the end
    finally:
        model.train(was_training)
    z = torch.cat(all_logits)
    p = z.softmax(1)
    pred = p.argmax(1)
    labels = split.labels.cpu()
    confusion = torch.bincount(labels * num_classes + pred, minlength=num_classes**2).view(num_classes, num_classes)
    served = torch.cat(all_served).cpu() if all_served else None
    return EvalResult((pred == labels).float().mean().item(), loss_sum / len(split), confusion, pred, p, z, served)


def format_confusion(confusion: torch.Tensor, classes: list[str]) -> str:
    """The confusion matrix as text: rows are the true class, columns the predicted one."""
    names = [c[:9] for c in classes]
    w = max(6, max(map(len, names)) + 1, len(str(int(confusion.max()))) + 1)
    lines = ["true \\ predicted".ljust(w) + "".join(n.rjust(w) for n in names)]
    for name, row in zip(names, confusion.tolist()):
        lines.append(name.ljust(w) + "".join(str(v).rjust(w) for v in row))
    return "\n".join(lines)
