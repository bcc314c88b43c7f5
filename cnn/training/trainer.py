"""One training run, in phases: prepare, begin an epoch, step, log a window, end an epoch, finish.

`Trainer` holds the run's state (data on the device, model, optimizer, precision, clock) and each
phase returns the event it produced; cnn.training.engine.train is the loop over the phases that
yields those events. The step itself is cnn.training.step; the arithmetic (layout, autocast, loss
scale) is cnn.training.precision; the CPU thread count is cnn.cpu_share.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import torch

# torch.optim imports torch._dynamo the first time an optimizer is made (1-2 s of Python imports).
# Importing it here, with torch, pays that when the app or CLI starts, not when Start is pressed.
import torch._dynamo

from ..cpu_share import TrainingThreads
from ..data import Dataset
from ..data.augment import graph_safe
from ..data.normalize import Normalizer
from ..errors import ConfigError
from ..evaluation import Augmentation, EvalPlan, EvalResult, EvaluationStopped, evaluate
from ..hardware import describe, pick_device
from ..models import DESIGN, build_model, count_parameters, load_partial_state, parse
from .calibrate import split_holdout
from .cpu_mode import CpuMode, fastest_cpu_mode
from .distributed import all_sum, from_env
from .distributed import setup as join_ranks
from .events import EpochEnd, RunStatus, Start, Step, StopFlag
from .graphed import GraphedStep
from .lookahead import Lookahead
from .optim import HeadOnly, capturable_sgd, lr_factor, make_optimizer, set_lr, set_lr_scale
from .precision import Precision, configure_backends, cpu_mode_for
from .recipe import Recipe
from .step import StepState, Totals, WeightGuard, loss_function, train_step


def normalization(recipe: Recipe, data: Dataset) -> tuple[list[float], list[float]]:
    if recipe.normalize is not None:
        return list(recipe.normalize[0]), list(recipe.normalize[1])
    return (data.train or data.test).subset(10_000).mean_std()


class Trainer:
    """One training run: what it trains with, built by `prepare`, and its state between phases."""

    def __init__(
        self,
        recipe: Recipe,
        data: Dataset,
        *,
        seed: int,
        stop: StopFlag | None,
        evaluate_each_epoch: bool,
        init_state: dict[str, torch.Tensor] | None = None,
        calibration_holdout: int | None = None,
    ):
        if data.train is None:
            raise ValueError("train() needs a data set loaded with its training split")
        self.holdout = split_holdout(data.train, data.test, calibration_holdout)
        data = dataclasses.replace(data, train=self.holdout.train)  # what it trains on, held-out slice left out
        recipe.validate(len(data.train))
        self.recipe, self.data, self.seed, self.stop = recipe, data, seed, stop
        self.evaluate_each_epoch, self.init_state = evaluate_each_epoch, init_state
        self.ctx = from_env()
        self.status, self.message = RunStatus.FINISHED, ""
        self.steps_done, self.seen, self.lr, self.stop_all = 0, 0, 0.0, False
        self.history: list[EpochEnd] = []
        self.last_eval: EvalResult | None = None
        self.eval_seconds = 0.0
        self.cpu: TrainingThreads | None = None

    def close(self) -> None:
        """The caller's thread count back (cnn.cpu_share)."""
        if self.cpu is not None:
            self.cpu.close()

    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    # --- prepare: everything the steps use, in the order that keeps the random draws unchanged ---

    def prepare(self, device: str | torch.device | None, log_every: int | None, cuda_graphs: bool) -> Start:
        self._place_data(device)
        self._build_model()
        self.optimizer = make_optimizer(self.recipe, self.model)
        self.head_only = HeadOnly(self.model) if self.recipe.head_only_epochs else None
        self.lookahead = Lookahead(self.model) if self.recipe.lookahead else None
        r, n_train = self.recipe, len(self.train_y)
        self.steps_per_epoch = n_train // r.batch_size if r.drop_last else math.ceil(n_train / r.batch_size)
        self.total_steps = max(1, math.ceil(r.epochs * self.steps_per_epoch))
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.log_every = log_every or self.precision.default_log_every(self.steps_per_epoch)
        self.order = torch.Generator().manual_seed(self.seed)  # the same batch order on every rank
        # airbench's alternating flip: a fixed random half of the images is mirrored in even epochs,
        # the other half in odd ones, so every image is seen both ways in any two epochs.
        self.flip_base = torch.rand(n_train, device=self.device) < 0.5 if r.flip and r.alternate_flip else None
        self._build_step(cuda_graphs)
        return Start(
            describe(self.device),
            r.model,
            count_parameters(self.model),
            n_train,
            len(self.data.test),
            r.epochs,
            r.batch_size,
            self.steps_per_epoch,
            self.total_steps,
            self.precision.label,
        )

    def _place_data(self, device: str | torch.device | None) -> None:
        device = torch.device(device) if device is not None else pick_device()
        self.device = join_ranks(self.ctx, device.type) or device
        torch.manual_seed(self.seed)
        configure_backends(self.device)
        self.cpu = TrainingThreads(self.device)  # starts watching the CPU other processes use
        self.mean, self.std = normalization(self.recipe, self.data)
        self.normalize = Normalizer(self.mean, self.std, self.device, self.data.input_shape[0])
        self.train_x = self.data.train.images.to(self.device)
        self.train_y = self.data.train.labels.to(self.device)
        self.loss_fn = loss_function(self.recipe)

    def _build_model(self) -> None:
        r, (c, h, _) = self.recipe, self.data.input_shape
        if r.model == DESIGN:  # refused before anything trains: a broken design, or one too big for this batch
            design = parse(r.design, self.data.input_shape, len(self.data.classes), r.batch_size)
            self.recipe = r = r.replace(design=design.layers)  # normalised: what the checkpoint keeps
        model = build_model(r.model, c, len(self.data.classes), h, design=r.design)
        if self.init_state:  # no random draws: a run without it is unchanged
            load_partial_state(model, self.init_state)
        model = model.to(self.device)
        self.cpu.settle()  # the CPU modes are timed at the thread count training starts with
        cpu_mode, self.choice_seconds = cpu_mode_for(
            self.device, r, self.ctx, functools.partial(self._time_cpu_modes, model)
        )
        self.precision = Precision.choose(self.device, r, cpu_mode)
        # the test pass: the recipe's test-time augmentation, on CUDA its training arithmetic and batch shape
        self.test_plan = EvalPlan.test_pass(Augmentation(r.flip, r.tta_translate), r.as_dict(), self.device)
        model = self.precision.prepare_model(model)
        if r.whiten:
            if not hasattr(model, "init_whitening"):
                raise ConfigError(
                    f"The recipe {r.name} whitens the stem of a FastNet model; "
                    f"{r.model} has none. Pick cifar10_fast or turn whitening off."
                )
            model.init_whitening(self.normalize(self.train_x[:5000]))  # before DDP, which then copies rank 0's
        self.model, self.ddp_model = model, model
        if self.ctx.enabled:
            cuda = self.device.type == "cuda"
            if cuda:  # BN statistics over the global batch, as in one process (CUDA only)
                self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(  # a frozen body has no gradients
                self.model,
                device_ids=[self.device.index] if cuda else None,
                find_unused_parameters=bool(r.head_only_epochs),
            )

    def _time_cpu_modes(self, model: torch.nn.Module) -> tuple[CpuMode, float]:
        x, y = self.normalize(self.train_x[: self.recipe.batch_size]), self.train_y[: self.recipe.batch_size]
        r = self.recipe  # a design's layers are part of what its timing is for
        key = (r.model, repr(r.design), self.data.input_shape[0], len(self.data.classes))
        return fastest_cpu_mode(key, model, x, y, self.loss_fn, should_stop=self.stopping)

    def _build_step(self, cuda_graphs: bool) -> None:
        """The step's inputs, complete before any step runs, and the CUDA graph that replays it."""
        r, device = self.recipe, self.device
        # not with head_only_epochs: a recorded graph would keep training the body it freezes
        use_graph = (
            cuda_graphs
            and device.type == "cuda"
            and not self.ctx.enabled
            and r.optimizer == "sgd"
            and not r.head_only_epochs
            and graph_safe(r)
        )
        if use_graph:  # the torch optimizer reads the rate as a Python number, which a graph would freeze
            self.optimizer = capturable_sgd(r, self.optimizer, self.total_steps, device)
        self.totals = Totals(device)
        self.state = StepState(
            r,
            self.ctx,
            self.precision,
            self.normalize,
            self.model,
            self.ddp_model,
            self.loss_fn,
            self.optimizer,
            [p for p in self.model.parameters() if p.requires_grad],
            self.totals,
        )
        self.graphed: GraphedStep | None = None
        if use_graph:
            self.graphed = GraphedStep(
                functools.partial(train_step, self.state, in_graph=True),
                self.optimizer.zero_grad,
                self.train_x[: r.batch_size],
                self.train_y[: r.batch_size],
                with_flip=self.flip_base is not None,
            )

    def start_clock(self) -> None:
        """After Start is delivered: the weight copies, the clock, training mode."""
        self.weights = WeightGuard(self.model)
        self.t_log, self.step_log = time.perf_counter(), 0
        self.t0 = (
            self.t_log - self.choice_seconds
        )  # choosing the CPU mode counts as training time, as cuDNN's tuning does
        self.model.train()

    # --- the epoch loop ---

    def begin_epoch(self, epoch: int) -> range:
        """Shuffle, reset the epoch's totals; the batch numbers of this epoch."""
        r = self.recipe
        self.perm = torch.randperm(len(self.train_y), generator=self.order).to(self.device)
        if self.head_only is not None:
            self.head_only.freeze(epoch < r.head_only_epochs)
        if r.whiten and r.whiten_bias_epochs and epoch == math.ceil(r.whiten_bias_epochs):
            set_lr_scale(self.optimizer, "stem_bias", 0.0)  # frozen from here on (DDP's buckets stay intact)
        self.totals.new_epoch(epoch)
        self.seen = 0
        return range(min(self.steps_per_epoch, self.total_steps - self.steps_done))

    def stop_requested(self) -> bool:
        """A Stop request before the next step (single process; under torchrun the ranks agree at
        the next log step instead)."""
        if self.stopping() and not self.ctx.enabled:
            self._stopped()
            return True
        return False

    def _stopped(self) -> None:
        self.status = RunStatus.STOPPED
        self.message = f"Stopped at step {self.steps_done} of {self.total_steps}; kept the weights so far."

    def step(self, b: int) -> None:
        r = self.recipe
        self.cpu.before_step()  # predictions first; the thread count for this step
        idx = self.perm[b * r.batch_size : (b + 1) * r.batch_size]
        flip = self.flip_base[idx] if self.flip_base is not None else None
        self.lr = r.lr * lr_factor(r, self.steps_done, self.total_steps)
        if self.graphed is not None:  # the graph reads the rate from its schedule on the device
            self.graphed(self.train_x[idx], self.train_y[idx], flip)
        else:
            set_lr(self.optimizer, self.lr)
            train_step(self.state, self.train_x[idx], self.train_y[idx], flip, in_graph=False)
        self.steps_done += 1
        self.seen += len(self.ctx.shard(idx))
        if self.lookahead is not None:
            self.lookahead.after_step(self.steps_done, self.total_steps)

    def log_due(self) -> bool:
        return self.steps_done % self.log_every == 0 or self.steps_done == self.total_steps

    def log_window(self) -> Step | None:
        """The Step event for the steps since the last one; None, with the last good weights
        restored, when their mean loss is not finite."""
        loss_sum, ctx, step = self.totals.loss_sum, self.ctx, self.steps_done
        self.stop_all = False
        if ctx.enabled:  # all ranks see the same mean loss and Stop request, so take the same branch
            agreed = all_sum(ctx, torch.stack([loss_sum, loss_sum.new_tensor(float(self.stopping()))]))
            loss_sum.copy_(agreed[0] / ctx.world_size)
            self.stop_all = agreed[1].item() > 0
        mean_loss = loss_sum.item() / (step - self.step_log)
        loss_sum.zero_()
        if not math.isfinite(mean_loss):
            self.weights.restore()
            self.status = RunStatus.DIVERGED
            self.message = (
                f"The training loss became {mean_loss} at step {step}: the learning rate "
                f"({self.recipe.lr}) is probably too high. Kept the last good weights; try a "
                f"learning rate about 10 times smaller."
            )
            return None
        self.weights.confirm()
        now = time.perf_counter()
        ips = (step - self.step_log) * self.recipe.batch_size / max(now - self.t_log, 1e-9)
        elapsed = now - self.t0
        self.t_log, self.step_log = now, step
        threads = self.cpu.threads  # the count these steps ran on, then the next window's
        self.cpu.window()
        return Step(
            step,
            self.total_steps,
            step / self.steps_per_epoch,
            mean_loss,
            self.lr,
            ips,
            elapsed,
            elapsed / step * (self.total_steps - step),
            threads,
        )

    def stop_agreed(self) -> bool:
        """Under torchrun: whether the ranks agreed at this log step to stop."""
        if self.stop_all and self.steps_done < self.total_steps:
            self._stopped()
            return True
        return False

    def end_epoch(self, epoch: int) -> EpochEnd:
        """End of an epoch (or of the fractional last one): train and test accuracy."""
        t = self.totals
        loss_total, correct_total, seen = t.epoch_loss, t.epoch_correct, self.seen
        if self.ctx.enabled:  # train loss and accuracy over all ranks' shards
            totals = all_sum(
                self.ctx,
                torch.stack([t.epoch_loss.float(), t.epoch_correct.float(), t.epoch_loss.new_tensor(float(seen))]),
            )
            loss_total, correct_total, seen = totals[0], totals[1], int(totals[2].item())
        self.precision.synchronize()  # the GPU's queued steps belong to training time, not to the evaluation's
        t_eval = time.perf_counter()
        test = None
        if self.ctx.is_main and (self.evaluate_each_epoch or self.steps_done == self.total_steps):
            try:
                test = evaluate(
                    self.model,
                    self.data.test,
                    self.normalize,
                    len(self.data.classes),
                    self.test_plan,
                    should_stop=self.stopping,
                )
            except EvaluationStopped:
                test = None
        self.last_eval = test if test is not None else self.last_eval
        self.eval_seconds += time.perf_counter() - t_eval
        self.t_log += time.perf_counter() - t_eval  # keep evaluation out of the next images/s figure
        ev = EpochEnd(
            epoch + 1,
            loss_total.item() / max(1, seen),
            correct_total.item() / max(1, seen),
            test.loss if test else None,
            test.accuracy if test else None,
            time.perf_counter() - self.t0,
            time.perf_counter() - self.t0 - self.eval_seconds,
        )
        self.history.append(ev)
        return ev
