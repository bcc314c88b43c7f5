"""A model's test-set predictions, cell by cell of its confusion matrix: which test images of true
class i it took for class j, and Grad-CAM for either class. Never imports Gradio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..calibration import calibrated_probabilities
from ..data import Split
from ..evaluation import Augmentation, EvalPlan, evaluate, tta_logits
from .explain import explainer_for
from .predictor import Predictor, one_thread


@dataclass
class TestPredictions:
    """A test split (uint8 images, labels), what a model predicted for each, and its classes."""

    classes: list[str]
    images: torch.Tensor
    labels: torch.Tensor
    predictions: torch.Tensor

    @property
    def confusion(self) -> torch.Tensor:
        n = len(self.classes)
        flat = self.labels.cpu() * n + self.predictions.cpu()
        return torch.bincount(flat, minlength=n * n).view(n, n)

    def cell(self, true: int, pred: int, limit: int = 48) -> list[int]:
        """The indices of the test images of class `true` predicted as `pred` (at most limit)."""
        hit = (self.labels.cpu() == true) & (self.predictions.cpu() == pred)
        return hit.nonzero().flatten()[:limit].tolist()


def predictions_of(predictor: Predictor, split: Split) -> TestPredictions:
    """The predictor's model on a whole test split (with its test-time flip, as it serves)."""
    ev = evaluate(
        predictor.model,
        split,
        predictor.normalizer,
        len(predictor.classes),
        EvalPlan(Augmentation.served(predictor.tta_flip), batch_size=500),
    )
    return TestPredictions(list(predictor.classes), split.images, split.labels, ev.predictions)


def grad_cams(predictor: Predictor, image: torch.Tensor, true: int, pred: int) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM (H x W in [0, 1]) of one uint8 C x H x W image for its true and its predicted class."""
    ex = explainer_for(predictor)
    return ex.grad_cam(image, true), ex.grad_cam(image, pred)


def top_two(predictor: Predictor, images: torch.Tensor) -> list[list[tuple[int, float]]]:
    """The served model's two likeliest classes and their probabilities (with its temperature and
    test-time flip) for each of a batch of uint8 N x C x H x W images."""
    with torch.inference_mode(), one_thread():
        b = predictor.normalizer(images.to(predictor.device))
        logits = tta_logits(predictor.model, b, Augmentation.served(predictor.tta_flip), stack=True)
        p = calibrated_probabilities(logits, predictor.temperature).cpu()
    values, classes = p.topk(min(2, p.shape[1]), dim=1)
    return [list(zip(c.tolist(), v.tolist())) for c, v in zip(classes, values)]


def why_wrong(predictor: Predictor, images: torch.Tensor, pred: int) -> tuple[np.ndarray, list]:
    """Why these images (uint8 N x C x H x W, all taken for class `pred`) were taken for it: their
    Grad-CAM maps for `pred` (N x H x W in [0, 1]) and their top two answers (top_two)."""
    return explainer_for(predictor).grad_cams(images, [pred] * len(images)), top_two(predictor, images)
