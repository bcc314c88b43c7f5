"""Watching a run learn: `Watch` asks train() for a Snapshot (the model's top prediction and its
probability for a fixed panel of test images, and the first convolution's weights) at every epoch
end and every `every_s` seconds in between. Off unless asked for, so a run without one is unchanged.

A snapshot is a forward pass of the panel in eval mode (no random draws, batch norm's running
statistics untouched) between two steps; its time counts as training time.
"""

from __future__ import annotations

import time

import torch

from .events import Snapshot


class Watch:
    def __init__(self, images: torch.Tensor, every_s: float = 3.0):
        """images: the panel, uint8 N x C x H x W (the data set's own test images)."""
        self.images, self.every_s = images, every_s
        self._last = -float("inf")

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_s

    @torch.no_grad()
    def take(self, trainer) -> Snapshot:
        """The snapshot of a cnn.training.trainer.Trainer's model as it is now."""
        model, prec = trainer.model, trainer.precision
        was_training = model.training
        model.eval()
        try:
            x = prec.prepare_batch(trainer.normalize(self.images.to(trainer.device)))
            with prec.autocast():
                logits = model(x).float()
        finally:
            model.train(was_training)
        p, top = logits.softmax(1).max(1)
        conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
        filters = None if conv is None else conv.weight.detach().float().cpu().contiguous()
        self._last = time.monotonic()
        return Snapshot(
            trainer.steps_done,
            trainer.steps_done / trainer.steps_per_epoch,
            top.cpu().tolist(),
            p.cpu().tolist(),
            filters,
        )
