"""The one training engine. The CLI, the app, the benchmarks and the tests all call `train`.

`train` is a generator: it yields a Start event, Step events every few steps (the live loss
curve), an EpochEnd event with train and test accuracy after each epoch, and always an End event
last, which carries the trained model and the metadata for its checkpoint. It stops cleanly
between two steps when `stop.is_set()`. The whole training split lives on the training device as
uint8 and is augmented there, batch by batch. Under torchrun it trains with DistributedDataParallel.
"""
from __future__ import annotations

import datetime as dt
import math
import time
from typing import Iterator

import torch
# torch.optim imports torch._dynamo the first time an optimizer is made (1-2 s of Python imports).
# Importing it here, with torch, pays that when the app or CLI starts, not when Start is pressed.
import torch._dynamo  # noqa: F401
import torch.nn.functional as F

from ..data import Dataset
from ..data.augment import random_flip, random_translate
from ..data.normalize import Normalizer
from ..errors import ConfigError
from ..evaluation import EvalResult, evaluate
from ..hardware import autocast, describe, pick_device
from ..models import build_model, count_parameters
from . import distributed
from .cpu_mode import DEFAULT as DEFAULT_CPU_MODE, fastest_cpu_mode
from .events import End, EpochEnd, RunStatus, Start, Step, StopFlag
from .graphed import CapturableSGD, GraphedStep
from .lookahead import Lookahead
from .optim import lr_factor, make_optimizer, set_lr_scale
from .recipes import Recipe


CHECKPOINT_FORMAT = 1


def normalization(recipe: Recipe, data: Dataset) -> tuple[list[float], list[float]]:
    if recipe.normalize is not None:
        return list(recipe.normalize[0]), list(recipe.normalize[1])
    return (data.train or data.test).subset(10_000).mean_std()


def train(recipe: Recipe, data: Dataset, *, device: str | torch.device | None = None, seed: int = 0,
          stop: StopFlag | None = None, log_every: int | None = None,
          evaluate_each_epoch: bool = True, cuda_graphs: bool = True) -> Iterator[Start | Step | EpochEnd | End]:
    """Train `recipe.model` on `data` with `recipe`, yielding events (see the module docstring)."""
    if data.train is None:
        raise ValueError("train() needs a data set loaded with its training split")
    recipe.validate(len(data.train))
    ctx = distributed.from_env()
    device = torch.device(device) if device is not None else pick_device()
    device = distributed.setup(ctx, device.type) or device
    torch.manual_seed(seed)

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one batch shape throughout: pick the fastest kernels
    elif device.type == "cpu":
        torch.set_flush_denormal(True)  # tiny activations early in a run are many times slower otherwise

    c, h, w = data.input_shape
    num_classes = len(data.classes)
    mean, std = normalization(recipe, data)
    normalize = Normalizer(mean, std, device, c)
    train_x = data.train.images.to(device)
    train_y = data.train.labels.to(device)
    n_train = len(train_y)

    def loss_fn(out, y):
        if recipe.loss == "nll":
            return F.nll_loss(out, y)
        return F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)

    def stopping() -> bool:
        return stop is not None and stop.is_set()

    model = build_model(recipe.model, c, num_classes, h).to(device)
    # A recipe that allows mixed precision trains on the CPU in whichever of fp32 and bf16,
    # channels-last or not, is fastest here (timed; every rank of a torchrun job takes the default).
    cpu_mode, choice_seconds = None, 0.0
    if device.type == "cpu" and recipe.mixed_precision:
        cpu_mode = DEFAULT_CPU_MODE
        if not ctx.enabled:
            cpu_mode, choice_seconds = fastest_cpu_mode(
                (recipe.model, c, num_classes), model, normalize(train_x[:recipe.batch_size]),
                train_y[:recipe.batch_size], loss_fn, should_stop=stopping)
    use_channels_last = device.type == "cuda" or (cpu_mode is not None and cpu_mode.channels_last)
    mixed_precision = recipe.mixed_precision and (cpu_mode is None or cpu_mode.bf16)
    if device.type == "cuda":
        precision = recipe.cuda_dtype if recipe.mixed_precision else "fp32"
    else:
        precision = str(cpu_mode) if cpu_mode is not None else "fp32"
    if use_channels_last:
        model = model.to(memory_format=torch.channels_last)
    if recipe.whiten:
        if not hasattr(model, "init_whitening"):
            raise ConfigError(f"The recipe {recipe.name} whitens the stem of a FastNet model; "
                              f"{recipe.model} has none. Pick cifar10_fast or turn whitening off.")
        model.init_whitening(normalize(train_x[:5000]))  # before DDP, which then copies rank 0's
    ddp_model = model
    if ctx.enabled:
        if device.type == "cuda":  # BN statistics over the global batch, as in one process (CUDA only)
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(recipe, model)
    lookahead = Lookahead(model) if recipe.lookahead else None

    steps_per_epoch = n_train // recipe.batch_size if recipe.drop_last else math.ceil(n_train / recipe.batch_size)
    total_steps = max(1, math.ceil(recipe.epochs * steps_per_epoch))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    # Each Step event waits for the device (it reads the loss); on a GPU that stall costs more.
    log_every = log_every or max(12 if device.type == "cuda" else 1, min(50, steps_per_epoch // 25))
    order = torch.Generator().manual_seed(seed)  # the same batch order on every rank
    # airbench's alternating flip: a fixed random half of the images is mirrored in even epochs,
    # the other half in odd ones, so every image is seen both ways in any two epochs.
    flip_base = torch.rand(n_train, device=device) < 0.5 if recipe.flip and recipe.alternate_flip else None

    def stopped_message(at: int) -> str:
        return f"Stopped at step {at} of {total_steps}; kept the weights so far."

    def metadata(status: RunStatus, test_acc: float | None, elapsed: float, epochs_done: float) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "architecture": recipe.model, "dataset": data.name,
            "classes": list(data.classes), "input_shape": [c, h, w],
            "normalization": {"mean": mean, "std": std}, "test_accuracy": test_acc,
            "tta_flip": recipe.flip, "tta_translate": recipe.tta_translate, "recipe": recipe.as_dict(), "seed": seed,
            "epochs_completed": round(epochs_done, 3), "status": status.value,
            "train_seconds": round(elapsed, 2), "device": describe(device), "precision": precision,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }

    yield Start(describe(device), recipe.model, count_parameters(model), n_train, len(data.test),
                recipe.epochs, recipe.batch_size, steps_per_epoch, total_steps, precision)

    history: list[EpochEnd] = []
    last_eval: EvalResult | None = None
    # good_state: weights known to give a finite loss. The weights saved at a log step are only
    # known good once the next window's loss (computed with them first) is finite too.
    # Two preallocated copies, refreshed with one multi-tensor copy (a few kernels, not one per tensor).
    live_state = list(model.state_dict().values())
    good_state = [v.detach().clone() for v in live_state]
    pending_state = [v.clone() for v in good_state]
    t_log, step_log = time.perf_counter(), 0
    t0 = t_log - choice_seconds  # choosing the CPU mode counts as training time, as cuDNN's tuning does
    step, status, message = 0, RunStatus.FINISHED, ""
    eval_seconds = 0.0
    # Running totals live on the device and are read only at log steps and epoch ends.
    loss_sum = torch.zeros((), device=device)
    epoch_loss = torch.zeros((), device=device)
    epoch_correct = torch.zeros((), device=device, dtype=torch.long)
    odd_epoch = torch.zeros((), dtype=torch.bool, device=device)
    model.train()

    def step_body(x: torch.Tensor, y: torch.Tensor, flip: torch.Tensor | None) -> None:
        """One training step on a uint8 batch: augment, forward, backward, update, totals. The
        same code runs eagerly or recorded in a CUDA graph (no Python numbers from the device)."""
        x = random_translate(x, recipe.crop_pad)
        if flip is not None:
            x = torch.where((flip ^ odd_epoch).view(-1, 1, 1, 1), x.flip(3), x)
        elif recipe.flip:
            x = random_flip(x)
        if ctx.enabled:  # every rank drew the same augmentation for the global batch; keep its shard
            keep = ctx.shard(torch.arange(len(y), device=device))
            x, y = x[keep], y[keep]
        x = normalize(x)
        if use_channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, mixed_precision, cache=graphed is None, cuda_dtype=recipe.cuda_dtype):
            out = ddp_model(x)
            loss = loss_fn(out.float(), y)
        if graphed is None:
            optimizer.zero_grad(set_to_none=True)
        if loss_scale is None:
            loss.backward()
        else:  # fp16: scale the loss up so small gradients do not flush to zero, then back down
            (loss * loss_scale).backward()
            torch._foreach_mul_([p.grad for p in trainable if p.grad is not None], 1.0 / loss_scale)
        optimizer.step()
        loss_sum.add_(loss.detach())
        epoch_loss.add_(loss.detach() * len(y))
        epoch_correct.add_((out.detach().argmax(1) == y).sum())

    # A fixed scale, as airbench's summed loss over a batch of 1024 amounts to; no overflow check.
    loss_scale = 1024.0 if recipe.mixed_precision and recipe.cuda_dtype == "fp16" and device.type == "cuda" else None
    trainable = [p for p in model.parameters() if p.requires_grad]
    # On CUDA, evaluate in the training batch's shape and dtype (kernels already chosen); on the CPU in fp32.
    eval_shape = (dict(batch_size=recipe.batch_size, cuda_dtype=recipe.cuda_dtype, pad_last=True)
                  if device.type == "cuda" else {})
    graphed = None
    if cuda_graphs and device.type == "cuda" and not ctx.enabled and recipe.optimizer == "sgd":
        schedule = torch.tensor([recipe.lr * lr_factor(recipe, s, total_steps) for s in range(total_steps)],
                                device=device)
        optimizer = CapturableSGD(optimizer.param_groups, schedule, recipe.momentum,
                                  recipe.nesterov and recipe.momentum > 0)
        x_like = train_x[:recipe.batch_size]
        graphed = GraphedStep(step_body, optimizer.zero_grad, x_like, train_y[:recipe.batch_size],
                              with_flip=flip_base is not None)

    for epoch in range(math.ceil(total_steps / steps_per_epoch)):
        perm = torch.randperm(n_train, generator=order).to(device)
        if recipe.whiten and recipe.whiten_bias_epochs and epoch == math.ceil(recipe.whiten_bias_epochs):
            set_lr_scale(optimizer, "stem_bias", 0.0)  # frozen from here on (DDP's buckets stay intact)
        odd_epoch.fill_(epoch % 2 == 1)
        epoch_loss.zero_()
        epoch_correct.zero_()
        seen = 0
        for b in range(min(steps_per_epoch, total_steps - step)):
            if stopping() and not ctx.enabled:  # under torchrun the ranks agree at the next log step
                status, message = RunStatus.STOPPED, stopped_message(step)
                break
            idx = perm[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            flip = flip_base[idx] if flip_base is not None else None
            lr = recipe.lr * lr_factor(recipe, step, total_steps)
            if graphed is not None:
                graphed(train_x[idx], train_y[idx], flip)
            else:
                for group in optimizer.param_groups:
                    group["lr"] = lr * group["lr_scale"]
                step_body(train_x[idx], train_y[idx], flip)
            step += 1
            seen += len(ctx.shard(idx))
            if lookahead is not None:
                lookahead.after_step(step, total_steps)

            if step % log_every == 0 or step == total_steps:
                stop_all = False
                if ctx.enabled:  # all ranks see the same mean loss and Stop request, so take the same branch
                    agreed = distributed.all_sum(ctx, torch.stack([loss_sum, loss_sum.new_tensor(float(stopping()))]))
                    loss_sum.copy_(agreed[0] / ctx.world_size)
                    stop_all = agreed[1].item() > 0
                mean_loss = loss_sum.item() / (step - step_log)
                loss_sum.zero_()
                if not math.isfinite(mean_loss):
                    torch._foreach_copy_(live_state, good_state)
                    status = RunStatus.DIVERGED
                    message = (f"The training loss became {mean_loss} at step {step}: the learning rate "
                               f"({recipe.lr}) is probably too high. Kept the last good weights; try a "
                               f"learning rate about 10 times smaller.")
                    break
                good_state, pending_state = pending_state, good_state
                torch._foreach_copy_(pending_state, live_state)
                now = time.perf_counter()
                ips = (step - step_log) * recipe.batch_size / max(now - t_log, 1e-9)
                elapsed = now - t0
                t_log, step_log = now, step
                yield Step(step, total_steps, step / steps_per_epoch, mean_loss, lr, ips, elapsed,
                           elapsed / step * (total_steps - step))
                if stop_all and step < total_steps:
                    status, message = RunStatus.STOPPED, stopped_message(step)
                    break
        if status != RunStatus.FINISHED:
            break
        loss_total, correct_total = epoch_loss, epoch_correct
        if ctx.enabled:  # train loss and accuracy over all ranks' shards
            totals = distributed.all_sum(ctx, torch.stack([epoch_loss.float(), epoch_correct.float(),
                                                           epoch_loss.new_tensor(float(seen))]))
            loss_total, correct_total, seen = totals[0], totals[1], int(totals[2].item())
        # End of an epoch (or of the fractional last one): train and test accuracy.
        sync()  # the GPU's queued steps belong to training time, not to the evaluation's
        t_eval = time.perf_counter()
        test = None
        if ctx.is_main and (evaluate_each_epoch or step == total_steps):
            test = evaluate(model, data.test, normalize, num_classes, device, tta_flip=recipe.flip,
                            tta_translate=recipe.tta_translate, should_stop=stopping, **eval_shape)
        if test is not None:
            last_eval = test
        eval_seconds += time.perf_counter() - t_eval
        t_log += time.perf_counter() - t_eval  # keep evaluation out of the next images/s figure
        ev = EpochEnd(epoch + 1, loss_total.item() / max(1, seen), correct_total.item() / max(1, seen),
                      test.loss if test else None, test.accuracy if test else None,
                      time.perf_counter() - t0, time.perf_counter() - t0 - eval_seconds)
        history.append(ev)
        yield ev

    sync()
    elapsed = time.perf_counter() - t0
    final = last_eval if status == RunStatus.FINISHED else None
    test_acc = history[-1].test_accuracy if history and history[-1].test_accuracy is not None else None
    if status == RunStatus.FINISHED and test_acc is not None:
        message = f"Finished: test accuracy {test_acc:.4f} in {elapsed:.1f} s on {describe(device)}."
    epochs_done = step / steps_per_epoch
    if use_channels_last:  # hand back plain contiguous weights: what safetensors and inference expect
        model = model.to(memory_format=torch.contiguous_format)
    distributed.barrier(ctx)
    yield End(status, message, model, metadata(status, test_acc, elapsed, epochs_done), test_acc,
              elapsed, history, final)
