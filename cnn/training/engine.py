"""The one training engine. The CLI, the app, the benchmarks and the tests all call `train`.

`train` is a generator: it yields a Start event, Step events every few steps (the live loss
curve), an EpochEnd event with train and test accuracy after each epoch, and always an End event
last, which carries the trained model and the metadata for its checkpoint (and, when asked,
Snapshot events for the live panel). It stops cleanly between two steps when `stop.is_set()`.
The whole training split lives on the training device as uint8 and is augmented there, batch by
batch. Under torchrun it trains with DistributedDataParallel.

The run itself, phase by phase, is cnn.training.trainer.Trainer; this module is the loop over its
phases, so that the order of events can be read in one place.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..data import Dataset
from . import run_end
from .events import End, EpochEnd, RunStatus, Snapshot, Start, Step, StopFlag
from .recipe import Recipe
from .trainer import Trainer
from .watch import Watch


def train(
    recipe: Recipe,
    data: Dataset,
    *,
    device: str | torch.device | None = None,
    seed: int = 0,
    stop: StopFlag | None = None,
    log_every: int | None = None,
    evaluate_each_epoch: bool = True,
    cuda_graphs: bool = True,
    init_state: dict[str, torch.Tensor] | None = None,
    watch: Watch | None = None,
    calibration_holdout: int | None = None,
) -> Iterator[Start | Step | EpochEnd | End | Snapshot]:
    """Train `recipe.model` on `data` with `recipe`, yielding events (see the module docstring).
    init_state: weights to start from (part of the model's state dict, cnn.transfer), loaded right
    after the model is built; what it lacks keeps its fresh initialisation. watch: also yield
    Snapshot events (cnn.training.watch): after Start, after a Step when due, after each EpochEnd.
    calibration_holdout: training images held out to fit the temperature on at the end
    (cnn.training.calibrate): None, the default, min(5,000, 10%); 0 trains on every image and fits
    none (as before calibration was added)."""
    run = Trainer(
        recipe,
        data,
        seed=seed,
        stop=stop,
        evaluate_each_epoch=evaluate_each_epoch,
        init_state=init_state,
        calibration_holdout=calibration_holdout,
    )
    try:
        yield from _events(run, device, log_every, cuda_graphs, watch)
    finally:  # the caller's thread count back, also when the caller drops the generator half way
        run.close()


def _events(
    run: Trainer, device, log_every: int | None, cuda_graphs: bool, watch: Watch | None
) -> Iterator[Start | Step | EpochEnd | End | Snapshot]:
    """train()'s loop over the run's phases."""
    yield run.prepare(device, log_every, cuda_graphs)
    run.start_clock()
    watching = watch is not None and run.ctx.is_main
    if watching:
        yield watch.take(run)
    for epoch in range(run.epochs):
        for b in run.begin_epoch(epoch):
            if run.stop_requested():
                break
            run.step(b)
            if run.log_due():
                event = run.log_window()
                if event is None:  # diverged: the last good weights are back
                    break
                yield event
                if watching and watch.due():
                    yield watch.take(run)
                if run.stop_agreed():
                    break
        if run.status is not RunStatus.FINISHED:
            break
        yield run.end_epoch(epoch)
        if watching:
            yield watch.take(run)
    yield run_end.finish(run)
