"""Multi-process training under torchrun: NCCL on CUDA, Gloo on the CPU.

A plain `python -m cnn.train` (or the app) runs as a single process and touches none of this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError


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
        """This rank's contiguous share of one global batch. A batch smaller than the number of
        ranks (a short last batch) gives every rank one item, never an empty shard (whose loss would
        be NaN and read as a diverged run)."""
        if not self.enabled:
            return indices
        part = torch.tensor_split(indices, self.world_size)[self.rank]
        if len(part) == 0 and len(indices) > 0:
            i = self.rank % len(indices)
            part = indices[i : i + 1]
        return part


def from_env() -> DistContext:
    """Read torchrun's variables; a single process when there are none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistContext(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(ctx: DistContext, device_type: str) -> torch.device | None:
    """Join the process group; returns this rank's device when it has to be a specific GPU."""
    if not ctx.enabled or dist.is_initialized():
        return None
    if device_type == "cuda":
        gpus = torch.cuda.device_count()
        if ctx.local_rank >= gpus:  # torch would only say "invalid device ordinal"
            raise ConfigError(
                f"This process is rank {ctx.local_rank} on this machine, but the machine has {gpus} GPU(s): "
                f"torchrun runs one process per GPU. Start it with --nproc_per_node={max(gpus, 1)} or fewer "
                f"(or add --device cpu to train with Gloo on the CPU)."
            )
        torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", ctx.local_rank)
    dist.init_process_group("gloo")
    return None


def all_sum(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks, in place (unchanged in a single process); returns it."""
    if ctx.enabled and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
