"""One training step as a CUDA graph: the whole step (augmentation, forward, backward, update) is
recorded once and then replayed with a single launch, so a small net is no longer held back by
Python launching a few hundred kernels per step. Everything the step reads or writes lives in
tensors that stay put: the batch buffers, the learning-rate schedule with a step counter on the
GPU, the optimizer's momentum, the running totals.

The torch optimizers read the learning rate as a Python number, which a graph would freeze, so
graphed runs use `CapturableSGD`, the same update as torch.optim.SGD written with the rate read
from a tensor.
"""

from __future__ import annotations

import warnings

import torch


class CapturableSGD:
    """torch.optim.SGD's update (momentum, Nesterov, weight decay added to the gradient) for
    parameter groups as built by cnn.training.optim.param_groups, with the learning rate of step t read
    on the GPU as schedule[t] * group scale, so the update can be recorded in a CUDA graph."""

    def __init__(self, groups: list[dict], schedule: torch.Tensor, momentum: float, nesterov: bool):
        self.groups = groups
        self.schedule = schedule  # learning rate of every step
        self.step_index = torch.zeros(1, dtype=torch.long, device=schedule.device)
        self.scales = [torch.full((), float(g["lr_scale"]), device=schedule.device) for g in groups]
        self.momentum, self.nesterov = momentum, nesterov
        self.buffers = [[torch.zeros_like(p) for p in g["params"]] for g in groups]

    def set_scale(self, name: str, value: float) -> None:
        for g, s in zip(self.groups, self.scales):
            if g["name"] == name:
                s.fill_(value)

    @torch.no_grad()
    def step(self) -> None:
        lr = self.schedule.index_select(0, self.step_index).squeeze(0)
        for g, scale, bufs in zip(self.groups, self.scales, self.buffers):
            params = g["params"]
            grads = [p.grad for p in params]
            if g["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=g["weight_decay"])
            if self.momentum:
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads)
                grads = torch._foreach_add(grads, bufs, alpha=self.momentum) if self.nesterov else bufs
            torch._foreach_add_(params, torch._foreach_mul(grads, -(lr * scale)))
        self.step_index += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()


class GraphedStep:
    """Runs `body(x, y, flip)` eagerly for the first WARMUP steps (on a side stream, as CUDA graph
    capture requires), then records it once and replays it for every later full batch. A batch of
    another size (an epoch's last, partial one) runs eagerly. If recording fails, every step runs
    eagerly, with a warning: slower, never wrong."""

    WARMUP = 3

    def __init__(self, body, zero_grad, x_like: torch.Tensor, y_like: torch.Tensor, with_flip: bool):
        self.body, self.zero_grad = body, zero_grad
        self.x = torch.empty_like(x_like)
        self.y = torch.empty_like(y_like)
        self.flip = torch.zeros(len(y_like), dtype=torch.bool, device=y_like.device) if with_flip else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self.calls = 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor, flip: torch.Tensor | None) -> None:
        self.calls += 1
        if len(y) != len(self.y) or self.failed:
            self._eager(x, y, flip)
            return
        self.x.copy_(x)
        self.y.copy_(y)
        if self.flip is not None:
            self.flip.copy_(flip)
        if self.graph is None and self.calls > self.WARMUP:
            self._capture()
        if self.graph is not None:
            self.graph.replay()
        else:
            self._eager(self.x, self.y, self.flip, side_stream=self.calls <= self.WARMUP)

    def _eager(self, x, y, flip, side_stream=False) -> None:
        self.zero_grad(set_to_none=self.graph is None)  # a recorded graph owns the .grad tensors
        if not side_stream:
            self.body(x, y, flip)
            return
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.body(x, y, flip)
        torch.cuda.current_stream().wait_stream(stream)

    def _capture(self) -> None:
        self.zero_grad(set_to_none=True)  # the backward pass inside the graph allocates them
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: a synchronising call in another thread (a Teach run, the launch warm-up,
            # a prediction) must not break this thread's recording, as the default global mode lets it
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.body(self.x, self.y, self.flip)
            self.graph = graph
        except Exception as exc:  # e.g. an op that cannot be recorded: carry on without graphs
            self.failed = True
            self.zero_grad(set_to_none=True)
            warnings.warn(
                f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training on without it, more slowly.",
                stacklevel=2,
            )
