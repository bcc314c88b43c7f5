"""Multi-process training under torchrun: NCCL on CUDA, Gloo on the CPU.

A plain `python -m cnn.train` (or the app) runs as a single process and touches none of this.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of one global batch."""
        if not self.enabled:
            return indices
        return torch.tensor_split(indices, self.world_size)[self.rank]


def from_env() -> DistContext:
    """Read torchrun's variables; a single process when there are none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistContext(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(ctx: DistContext, device_type: str) -> torch.device | None:
    """Join the process group; returns this rank's device when it has to be a specific GPU."""
    if not ctx.enabled or dist.is_initialized():
        return None
    if device_type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", ctx.local_rank)
    dist.init_process_group("gloo")
    return None


def barrier(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
