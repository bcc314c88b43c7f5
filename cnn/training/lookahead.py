"""airbench's lookahead (arXiv 2404.00498): every few steps the weights are replaced by a moving
average of themselves, whose pull weakens as training goes on; the run ends on the average."""

from __future__ import annotations

import torch


class Lookahead:
    EVERY = 5  # steps between two pulls

    def __init__(self, model: torch.nn.Module):
        # Every floating-point entry of the state (weights and batch-norm statistics), as airbench.
        self.live = [v for v in model.state_dict().values() if v.is_floating_point()]
        self.average = [v.detach().clone() for v in self.live]

    @staticmethod
    def decay(step: int, total: int) -> float:
        """How much of the average is kept at a pull: 0 at the start, 0.95**5 at the end."""
        return 0.95**5 * (step / total) ** 3

    @torch.no_grad()
    def pull(self, decay: float) -> None:
        torch._foreach_lerp_(self.average, self.live, 1 - decay)
        torch._foreach_copy_(self.live, self.average)

    def after_step(self, step: int, total: int) -> None:
        """Call after each optimizer step (steps counted from 1); ends on the average."""
        if step % self.EVERY == 0:
            self.pull(self.decay(step, total))
        if step >= total:
            self.pull(1.0)
