"""What a training run tells the outside world, in order: Start, Step (every few steps),
EpochEnd (after each epoch) and End (always last)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import torch

from ..evaluation import EvalResult


class RunStatus(str, Enum):
    """Where a training run stands. The engine ends a run as FINISHED, STOPPED or DIVERGED; the
    app's run manager adds the states around it (waiting in the queue, loading the data, waiting for
    the GPU's launch warm-up, training, FAILED for a run that ended in an error, and CANCELLED for
    one that left the queue before its turn)."""

    QUEUED = "waiting for its turn"
    LOADING = "loading"
    WARMING_UP = "finishing the GPU warm-up"
    TRAINING = "training"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    CANCELLED = "cancelled"  # left the queue before it started

    @property
    def done(self) -> bool:
        return self in (
            RunStatus.FINISHED,
            RunStatus.STOPPED,
            RunStatus.DIVERGED,
            RunStatus.FAILED,
            RunStatus.CANCELLED,
        )

    def __str__(self) -> str:
        return self.value


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class Start:
    device: str
    model: str
    parameters: int
    n_train: int
    n_test: int
    epochs: float
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    precision: str = "fp32"  # the arithmetic it trains in, e.g. 'fp16' (CUDA) or 'fp32 channels-last' (CPU)
    kind: str = "start"


@dataclass
class Step:
    step: int
    total_steps: int
    epoch: float  # fractional progress in epochs, for the x axis of the curve
    loss: float  # mean training loss since the previous Step event
    lr: float
    images_per_s: float
    elapsed: float  # seconds since the start of training
    eta: float  # seconds left, estimated
    threads: int | None = None  # CPU threads training used at this step (cnn.cpu_share); None off the CPU
    kind: str = "step"


@dataclass
class EpochEnd:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    elapsed: float
    train_seconds: float  # time spent training so far, evaluations left out (for time-to-accuracy)
    kind: str = "epoch"


@dataclass
class End:
    status: RunStatus  # FINISHED, STOPPED or DIVERGED
    message: str
    model: torch.nn.Module
    metadata: dict
    test_accuracy: float | None
    elapsed: float
    history: list[EpochEnd] = field(default_factory=list)
    evaluation: EvalResult | None = None  # the final full test-set evaluation, when finished
    kind: str = "end"


@dataclass
class Snapshot:
    """What the model makes of a fixed panel of test images now, and its first convolution's
    weights (only when train() is given a Watch: the app's live panel)."""

    step: int
    epoch: float
    predictions: list[int]  # the top class of each panel image
    probabilities: list[float]  # its probability
    filters: torch.Tensor | None  # out x in x k x k, float32 on the CPU (None: the model has no Conv2d)
    kind: str = "snapshot"
