"""The arithmetic a run trains in, decided once: memory layout, autocast, the fp16 loss scale, and
what follows from the device (synchronising, how often to log). The evaluation's arithmetic and
batch shape are cnn.evaluation.EvalPlan.test_pass. The trainer asks this object instead of
branching on the device type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..hardware import autocast
from .cpu_mode import DEFAULT as DEFAULT_CPU_MODE
from .cpu_mode import CpuMode
from .distributed import DistContext
from .recipe import Recipe


def configure_backends(device: torch.device) -> None:
    """Process-wide switches for the training device, set before the model is built."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one batch shape throughout: pick the fastest kernels
    elif device.type == "cpu":
        torch.set_flush_denormal(True)  # tiny activations early in a run are many times slower otherwise


def cpu_mode_for(
    device: torch.device, recipe: Recipe, ctx: DistContext, timed: Callable[[], tuple[CpuMode, float]]
) -> tuple[CpuMode | None, float]:
    """The CPU mode to train in (None off the CPU, or for a recipe without mixed precision) and the
    seconds choosing it took. `timed` times the candidates (cpu_mode.fastest_cpu_mode)."""
    # A recipe that allows mixed precision trains on the CPU in whichever of fp32 and bf16,
    # channels-last or not, is fastest here (timed; every rank of a torchrun job takes the default).
    if device.type != "cpu" or not recipe.mixed_precision:
        return None, 0.0
    if ctx.enabled:
        return DEFAULT_CPU_MODE, 0.0
    return timed()


@dataclass(frozen=True)
class Precision:
    device: torch.device
    channels_last: bool
    mixed: bool  # autocast asked for; cnn.hardware.autocast knows what the device can do
    cuda_dtype: str
    label: str  # recorded in Start and the checkpoint: 'fp16', 'fp32 channels-last', ...
    loss_scale: float | None  # fp16 on CUDA only

    @classmethod
    def choose(cls, device: torch.device, recipe: Recipe, cpu_mode: CpuMode | None) -> Precision:
        cuda = device.type == "cuda"
        if cuda:
            label = recipe.cuda_dtype if recipe.mixed_precision else "fp32"
        else:
            label = str(cpu_mode) if cpu_mode is not None else "fp32"
        # A fixed scale, as airbench's summed loss over a batch of 1024 amounts to; no overflow check.
        loss_scale = 1024.0 if recipe.mixed_precision and recipe.cuda_dtype == "fp16" and cuda else None
        return cls(
            device=device,
            channels_last=cuda or (cpu_mode is not None and cpu_mode.channels_last),
            mixed=recipe.mixed_precision and (cpu_mode is None or cpu_mode.bf16),
            cuda_dtype=recipe.cuda_dtype,
            label=label,
            loss_scale=loss_scale,
        )

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_batch(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def autocast(self, cache: bool = True):
        """cache=False inside a CUDA graph (the cast-weight cache must not outlive the recording)."""
        return autocast(self.device, self.mixed, cache=cache, cuda_dtype=self.cuda_dtype)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def default_log_every(self, steps_per_epoch: int) -> int:
        # Each Step event waits for the device (it reads the loss); on a GPU that stall costs more.
        return max(12 if self.device.type == "cuda" else 1, min(50, steps_per_epoch // 25))

    def release(self, model: torch.nn.Module) -> torch.nn.Module:
        """Hand back plain contiguous weights: what safetensors and inference expect."""
        return model.to(memory_format=torch.contiguous_format) if self.channels_last else model
