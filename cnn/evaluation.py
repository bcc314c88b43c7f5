"""Test-set evaluation: accuracy, average loss, confusion matrix and every prediction."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .data import Split
from .data.normalize import Normalizer
from .hardware import autocast


@dataclass
class EvalResult:
    accuracy: float
    loss: float  # average cross-entropy over the split
    confusion: torch.Tensor  # [true, predicted] counts, num_classes x num_classes
    predictions: torch.Tensor  # predicted label of each image, on the CPU
    probabilities: torch.Tensor  # N x num_classes, on the CPU
    logits: torch.Tensor | None = None  # N x num_classes (float32, before any temperature), on the CPU
    # The logits as predictions get them (SERVED_TRANSLATE): without the shifts where the split was scored
    # with them, else the same tensor as `logits`. Temperatures are fitted, and ECE measured, on these.
    served_logits: torch.Tensor | None = None

    def misclassified(self, labels: torch.Tensor, limit: int = 24) -> list[int]:
        """Indices of wrongly predicted images, most confidently wrong first."""
        wrong = (self.predictions != labels.cpu()).nonzero().flatten()
        conf = self.probabilities[wrong, self.predictions[wrong]]
        return wrong[conf.argsort(descending=True)][:limit].tolist()


# What a prediction averages over (cnn.serving.predictor, the ONNX export): the mirror image where
# the checkpoint has tta_flip, never the shifts, which would triple the work of every photo. The
# test set is scored with the shifts too (the accuracy the recipes are known by), but a checkpoint's
# temperature is fitted, and its calibration measured, on the logits predictions get.
SERVED_TRANSLATE = False


def tta_logits(
    model: torch.nn.Module, x: torch.Tensor, flip: bool, translate: bool, stack: bool = False
) -> torch.Tensor:
    """The model's logits, averaged over the test-time augmentations asked for (float32).
    stack runs an image and its mirror as one batch: one forward pass instead of two, which
    halves the time for a single image on a CPU; evaluation keeps its batch shape instead."""
    return _tta_views(model, x, flip, translate, stack)[0]


def _tta_views(
    model: torch.nn.Module, x: torch.Tensor, flip: bool, translate: bool, stack: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the logits averaged as asked, the same without the shifts)."""

    def mirrored(v):
        if not flip:
            return model(v).float()
        if stack:
            return model(torch.cat((v, v.flip(3)))).float().view(2, len(v), -1).mean(0)
        return (model(v).float() + model(v.flip(3)).float()) / 2

    logits = unshifted = mirrored(x)
    if translate:
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        shifts = [padded[:, :, :-2, :-2], padded[:, :, 2:, 2:]]
        if x.is_contiguous(memory_format=torch.channels_last):
            shifts = [v.contiguous(memory_format=torch.channels_last) for v in shifts]
        logits = (unshifted + (mirrored(shifts[0]) + mirrored(shifts[1])) / 2) / 2
    return logits, unshifted


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    split: Split,
    normalizer: Normalizer,
    num_classes: int,
    device: torch.device,
    *,
    tta_flip: bool = False,
    tta_translate: bool = False,
    batch_size: int = 1000,
    should_stop=None,
    cuda_dtype: str = "bf16",
    pad_last: bool = False,
) -> EvalResult | None:
    """Evaluate on the whole split; None if should_stop() turns true part-way (a Stop click).
    tta_flip averages the logits over the image and its mirror; tta_translate also over the image
    shifted one pixel up-left and down-right (airbench's test-time augmentation, level 2).
    On CUDA the engine passes its training batch size and dtype, and pad_last (the last, shorter
    batch padded to the others' size): every convolution then has a shape cuDNN already chose
    kernels for in training, so a first run does not tune a second set."""
    was_training = model.training
    model.eval()
    all_logits, all_served, loss_sum = [], [], 0.0
    try:
        for start in range(0, len(split), batch_size):
            if should_stop is not None and should_stop():
                return None
            x = normalizer(split.images[start : start + batch_size].to(device, non_blocking=True))
            y = split.labels[start : start + batch_size].to(device, non_blocking=True)
            n = len(x)
            if pad_last and n < batch_size:  # zero images, each scored on its own (BN in eval mode), then dropped
                x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, batch_size - n))
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, mixed_precision=device.type == "cuda", cuda_dtype=cuda_dtype):  # CPU: exact fp32
                logits, unshifted = _tta_views(model, x, tta_flip, tta_translate)
                logits = logits[:n]
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            all_logits.append(logits.cpu())
            if tta_translate and not SERVED_TRANSLATE:
                all_served.append(unshifted[:n])  # kept on the device: one copy at the end
    finally:
        model.train(was_training)
    z = torch.cat(all_logits)
    p = z.softmax(1)
    pred = p.argmax(1)
    labels = split.labels.cpu()
    confusion = torch.bincount(labels * num_classes + pred, minlength=num_classes**2).view(num_classes, num_classes)
    served = torch.cat(all_served).cpu() if all_served else z
    return EvalResult((pred == labels).float().mean().item(), loss_sum / len(split), confusion, pred, p, z, served)


def format_confusion(confusion: torch.Tensor, classes: list[str]) -> str:
    """The confusion matrix as text: rows are the true class, columns the predicted one."""
    names = [c[:9] for c in classes]
    w = max(6, max(map(len, names)) + 1, len(str(int(confusion.max()))) + 1)
    lines = ["true \\ predicted".ljust(w) + "".join(n.rjust(w) for n in names)]
    for name, row in zip(names, confusion.tolist()):
        lines.append(name.ljust(w) + "".join(str(v).rjust(w) for v in row))
    return "\n".join(lines)
