"""The hardware below everything else: which device to train on, what to call it, and the
arithmetic it supports (native bf16 on this CPU; autocast on CUDA and the CPU)."""

from __future__ import annotations

import contextlib
import functools

import torch


def pick_device(name: str | None = None) -> torch.device:
    if name and name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device: torch.device) -> str:
    """A human name for the device, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n != 1 else ''})"
    return device.type


@functools.cache
def cpu_bf16_supported() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX). Elsewhere bf16 is only
    emulated, and slower than fp32, so cnn.cpu_mode does not try it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast(device: torch.device, mixed_precision: bool = True, cache: bool = True, cuda_dtype: str = "bf16"):
    """bf16 mixed precision on CUDA (or fp16, cuda_dtype='fp16'), and on CPUs with native bf16;
    full precision elsewhere. cache=False for code recorded in a CUDA graph (the cast-weight
    cache must not outlive the recording)."""
    if mixed_precision and device.type == "cuda":
        dtype = torch.float16 if cuda_dtype == "fp16" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype, cache_enabled=cache)
    if mixed_precision and device.type == "cpu" and cpu_bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
