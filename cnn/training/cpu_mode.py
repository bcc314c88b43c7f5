"""The fastest arithmetic for training a model on this CPU, found by timing it.

Which layout and precision train a net fastest depends on the processor: on one 2-core VM (AMD,
AVX512-BF16) bf16 with channels-last ran 2.3-2.6x the throughput of plain fp32; on another (Intel
Xeon, AVX512-BF16 but no AMX) fp32 with channels-last ran 1.3-1.7x bf16's (docs/performance-cpu.md). So, as
cuDNN's benchmark mode does on a GPU, a recipe that allows mixed precision times a few training
steps of a copy of the model in each candidate mode and trains in the fastest. The choice is kept
per model, batch shape and thread count for the life of the process, so repeated runs agree.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..hardware import cpu_bf16_supported


@dataclass(frozen=True)
class CpuMode:
    channels_last: bool
    bf16: bool

    def __str__(self) -> str:
        return f"{'bf16' if self.bf16 else 'fp32'}{' channels-last' if self.channels_last else ''}"


DEFAULT = CpuMode(channels_last=True, bf16=False)  # oneDNN's own layout, exact arithmetic
MARGIN = 0.05  # another mode must be this much faster than the default to be chosen (timing noise)
PROBE_IMAGES = 64  # the timed steps use at most this many of the batch's images: enough to rank the
# modes, and a large batch (cifar10_fast's 1,024 on a CPU) costs no more than a second
_chosen: dict[tuple, CpuMode] = {}


def candidates() -> list[CpuMode]:
    modes = [DEFAULT, CpuMode(channels_last=False, bf16=False)]
    if cpu_bf16_supported():  # emulated bf16 is never faster, so it is not tried
        modes.append(CpuMode(channels_last=True, bf16=True))
    return modes


def copies_in_each_mode(model: torch.nn.Module) -> dict[CpuMode, torch.nn.Module]:
    """A training-mode copy of `model` for each candidate mode, in that mode's memory layout."""
    models = {}
    for mode in candidates():
        m = copy.deepcopy(model).train()
        models[mode] = m.to(memory_format=torch.channels_last) if mode.channels_last else m
    return models


def step_seconds(
    models: dict[CpuMode, torch.nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable,
    rounds: int = 3,
    should_stop: Callable[[], bool] | None = None,
) -> dict[CpuMode, float] | None:
    """The fastest of `rounds` forward-backward steps per mode, after one untimed step each (which
    creates oneDNN's kernels). The modes take turns, so a slow spell of the machine hits all.
    None when should_stop() turns true between two steps."""

    def one_step(mode: CpuMode, model: torch.nn.Module) -> float:
        xb = x.contiguous(memory_format=torch.channels_last) if mode.channels_last else x.contiguous()
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode.bf16):
            loss = loss_fn(model(xb).float(), y)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    best = {}
    for r in range(rounds + 1):
        for mode, model in models.items():
            if should_stop is not None and should_stop():
                return None
            s = one_step(mode, model)
            if r > 0:
                best[mode] = min(best.get(mode, s), s)
    return best


def fastest_cpu_mode(
    key: tuple,
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[CpuMode, float]:
    """The mode to train `model` in on batches like `x` (normalized, float), and the seconds the
    choice took (0 when it was made before for the same key in this process). A stop request
    (should_stop) cuts the timing short: the default, not kept."""
    key = (*key, tuple(x.shape), torch.get_num_threads())
    if key in _chosen:
        return _chosen[key], 0.0
    t = time.perf_counter()
    times = step_seconds(
        copies_in_each_mode(model), x[:PROBE_IMAGES], y[:PROBE_IMAGES], loss_fn, should_stop=should_stop
    )
    if times is None:
        return DEFAULT, time.perf_counter() - t
    fastest = min(times, key=times.get)
    _chosen[key] = fastest if times[fastest] < (1 - MARGIN) * times[DEFAULT] else DEFAULT
    return _chosen[key], time.perf_counter() - t
