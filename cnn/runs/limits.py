"""What one run may ask of a shared server: training images (epochs x images), seconds, the memory
of its batch through its model, and how many runs one person keeps. Each limit has a flag in the app
(ui.launch); a request beyond one is refused with a message naming the limit and its flag, never
silently shortened. On an app others can reach, the defaults fit a class (`CLASS_LIMITS`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data.sources import train_images_about
from ..errors import ConfigError
from ..models import get_spec
from ..models.design import BYTES_PER_VALUE, MAX_ACTIVATION_BYTES


@dataclass(frozen=True)
class RunLimits:
    """None: no limit. max_train_images: epochs x training images a run may see; max_seconds: how long
    a run may train before it stops, keeping its weights; max_kept: runs one person keeps."""

    max_train_images: float | None = None
    max_seconds: float | None = None
    max_kept: int | None = None

    def check(self, config) -> None:
        """Refuse a run's settings beyond a limit (before it is queued), naming the limit and its flag."""
        if config.project is not None:
            return  # a Teach run's length is its preset's, scaled to the project (cnn.projects)
        images = float(config.epochs) * train_images(config)
        if self.max_train_images is not None and images > self.max_train_images:
            raise ConfigError(
                f"This run asks for {_count(images)} training images ({float(config.epochs):g} epochs x "
                f"{_count(train_images(config))} images); this app allows at most {_count(self.max_train_images)} "
                f"a run (--max-train-images). Use fewer epochs or a training subset."
            )
        check_memory(config)

    def check_kept(self, kept: int) -> None:
        """Refuse a new run when this person already keeps max_kept runs."""
        if self.max_kept is not None and kept >= self.max_kept:
            raise ConfigError(
                f"You keep {kept} runs; this app allows {self.max_kept} a person (--max-kept-runs). "
                f"Delete some in the Runs tab, then start again."
            )


CLASS_LIMITS = RunLimits(max_train_images=2_000_000, max_seconds=30 * 60, max_kept=50)
NO_LIMITS = RunLimits()


def train_images(config) -> int:
    """The training images a run of these settings sees per epoch (a folder's: about so many)."""
    full = train_images_about(config.dataset)
    return min(int(config.train_subset), full) if config.train_subset else full


def check_memory(config) -> None:
    """Refuse a ready-made model whose layers' outputs for one batch need more than the designs'
    limit (a design is checked by its own parse, cnn.models.design). Measured on the meta device:
    shapes only, nothing allocated."""
    if config.layers is not None:
        return
    spec = get_spec(config.model)
    need = BYTES_PER_VALUE * int(config.batch_size) * values_per_image(spec)
    if need > MAX_ACTIVATION_BYTES:
        raise ConfigError(
            f"Batch size {int(config.batch_size)} is too big for {config.model}: training needs about "
            f"{need / 1024**3:.1f} GiB for its layers' outputs; the limit is "
            f"{MAX_ACTIVATION_BYTES / 1024**3:.0f} GiB. Use a smaller batch size."
        )


_VALUES: dict[str, int] = {}


def values_per_image(spec) -> int:
    """Values every module outputs for one image of the model's own shape, the input's included."""
    if spec.name not in _VALUES:
        with torch.device("meta"):
            model = spec.build()
            total = [math.prod(spec.input_shape)]
            hooks = [
                m.register_forward_hook(lambda _m, _i, out: total.append(out.numel()) if torch.is_tensor(out) else None)
                for m in model.modules()
                if not list(m.children())
            ]
            model(torch.zeros(1, *spec.input_shape))
            for h in hooks:
                h.remove()
        _VALUES[spec.name] = sum(total)
    return _VALUES[spec.name]


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e12 else f"{n:.2e}"
