"""The GPU path, kept honest on the CPU (issue 26): the colour augmentation makes no tensor from
Python values inside the step (a host-to-device copy a CUDA graph cannot record), graph capture
uses the thread-local error mode, and more torchrun ranks than GPUs is said in words."""

from __future__ import annotations

import contextlib

import pytest
import torch

from cnn.data.augment import random_colour
from cnn.errors import ConfigError
from cnn.training import distributed, graphed
from cnn.training.distributed import DistContext


def _old_random_colour(x, amount):
    """The colour augmentation as it was (a tensor of grey weights made from a list every step)."""
    n, f = x.shape[0], x.float()
    b, c, s = (1 + (torch.rand(3, n, 1, 1, 1, device=x.device) * 2 - 1) * amount).unbind(0)
    f = f * b
    mean = f.mean(dim=(1, 2, 3), keepdim=True)
    f = (f - mean) * c + mean
    grey = (f * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    f = (f - grey) * s + grey
    return f.round_().clamp_(0, 255).to(x.dtype)


def test_the_colour_augmentation_makes_no_tensor_from_python_values(monkeypatch):
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    made = []
    real = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or real(*a, **k))
    torch.manual_seed(1)
    out = random_colour(x, 0.2)
    assert made == []  # nothing copied from the host inside the step
    monkeypatch.setattr(torch, "tensor", real)
    torch.manual_seed(1)
    want = _old_random_colour(x, 0.2)
    assert (out.int() - want.int()).abs().max() <= 1  # the same augmentation (up to rounding)
    assert out.dtype == torch.uint8 and not torch.equal(out, x)


def test_graph_capture_uses_the_thread_local_error_mode(monkeypatch):
    """A recorded call: GraphedStep records with capture_error_mode='thread_local', so a Teach run
    or the warm-up synchronising in another thread cannot break this thread's recording."""
    seen = []

    @contextlib.contextmanager
    def graph(g, **kw):
        seen.append(kw)
        yield

    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: object())
    monkeypatch.setattr(torch.cuda, "graph", graph)
    ran = []
    step = graphed.GraphedStep(
        lambda x, y, f: ran.append(1), lambda set_to_none: None, torch.zeros(4, 3), torch.zeros(4), False
    )
    step._capture()
    assert seen == [{"capture_error_mode": "thread_local"}] and ran == [1] and step.graph is not None


def test_more_ranks_than_gpus_is_said_in_words(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: pytest.fail("set_device reached"))
    with pytest.raises(
        ConfigError, match=r"rank 1 on this machine, but the machine has 1 GPU\(s\).*--nproc_per_node=1"
    ):
        distributed.setup(DistContext(rank=1, world_size=2, local_rank=1), "cuda")


def test_a_single_process_touches_no_process_group():
    """With one process (torchrun --nproc_per_node=1 too) the distributed path is off: no NCCL,
    no SyncBatchNorm. docs/gpu.md says so."""
    assert not DistContext(0, 1).enabled and distributed.setup(DistContext(0, 1), "cuda") is None
