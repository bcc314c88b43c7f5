"""Command-line trainer: python -m cnn.train --dataset mnist [--model NAME] [--recipe NAME] [--epochs N] --out PATH

With neither --model nor --recipe it trains the data set's fast default (cnn.training.defaults.fast_default)
and says which one it picked.

Runs unchanged under torchrun (torchrun --nproc_per_node=N -m cnn.train ...): only rank 0 prints,
evaluates and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
from pathlib import Path

from tqdm import tqdm

from ..checkpoint import save_checkpoint
from ..data.augment_spec import parse as parse_augment
from ..evaluation import format_confusion
from ..hardware import pick_device
from ..models import DESIGN, MODELS
from ..projects import load_training_data
from ..runlog import RunRecorder, run_header
from ..training import RECIPES, RunStatus, default_recipe, distributed, get_recipe, train
from ..training.defaults import fast_default
from ..training.recipe import OPTIMIZERS
from .common import add_data_flags, friendly_errors
from .design import checked_design, design_flag
from .fine_tune import fine_tune, init_image_size, init_name, teach_default


def _what_to_train(p: argparse.ArgumentParser) -> None:
    """The data, model and recipe, and the settings that change the recipe's."""
    p.add_argument("--dataset", help="mnist, fashion-mnist, cifar10 or an image folder (default: the recipe's)")
    p.add_argument(
        "--model",
        choices=list(MODELS),
        help="architecture (default: the recipe's; with no --recipe either, the data set's fast default)",
    )
    p.add_argument(
        "--layers",
        metavar="DESIGN.json",
        help="train your own network: a JSON list of torch.nn layers (docs/design.md); default recipe 'design'",
    )
    p.add_argument("--recipe", choices=list(RECIPES), help="training preset (default: the model's own)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-subset", type=int, help="train on a fixed random sample of this many images")
    p.add_argument("--test-subset", type=int, help="evaluate on a fixed random sample of this many images")


def _how_to_train(p: argparse.ArgumentParser) -> None:
    """Evaluation, where the checkpoint and logs go, fine-tuning, calibration and augmentation."""
    p.add_argument(
        "--final-eval-only",
        action="store_true",
        help="evaluate on the test split only at the end, not after every epoch (saves time on a CPU)",
    )
    p.add_argument("--out", help="checkpoint path (default: checkpoints/runs/<model>-<date>.safetensors)")
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write TensorBoard scalars, under DIR/<checkpoint name> (a log of every event is "
        "always written beside the checkpoint, as <checkpoint name>.jsonl)",
    )
    p.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="fine-tune: start from this checkpoint's convolutional features (same architecture and "
        "input channels), with a new classifier for the data set's classes",
    )
    p.add_argument(
        "--calibration-holdout",
        type=int,
        metavar="N",
        help="training images held out to fit the temperature on after training (default: "
        "min(5000, 10%%); a training set under 1,000 images uses its test split); 0: train on "
        "every image and fit none",
    )
    p.add_argument(
        "--augment",
        metavar="SPEC",
        help="the run's whole augmentation as name=value pairs, e.g. rotate=15,zoom=0.1,stroke=1,elastic=0.3,"
        "erase=0.25 (names left out are off; 'none': all off; default: the recipe's own; docs/augmentation.md)",
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cnn.train", description=__doc__.split("\n")[0])
    _what_to_train(p)
    _how_to_train(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_flags(p)
    args = p.parse_args(argv)
    if not (args.model or args.recipe or args.dataset or args.layers):
        p.error("name a --dataset (its fast default is trained), a --model or a --recipe")
    if args.layers and args.model:
        p.error("--layers trains the network it describes; leave out --model")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    ctx = distributed.from_env()
    with friendly_errors():
        data = None
        design = design_flag(args)  # a bad design ends the program before any data loads
        if args.augment is not None:
            parse_augment(args.augment)  # so does a bad augmentation
        if design is not None:
            recipe = get_recipe(args.recipe or DESIGN).replace(model=DESIGN, design=design)
        elif args.recipe or args.model:
            recipe = get_recipe(args.recipe) if args.recipe else default_recipe(args.model)
        else:
            recipe, data = _data_default(args, ctx)
        recipe = recipe.replace(
            model=args.model,
            dataset=args.dataset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
        ).with_augment(args.augment)
        recipe.validate()
        if data is None:
            data = load_training_data(
                recipe.dataset, args.data_dir, allow_any_path=True, image_size=init_image_size(args)
            )
        if design is not None:  # the data's own shape and classes
            recipe = recipe.replace(design=checked_design(recipe, data))
        data.train = data.train.subset(args.train_subset, seed=args.seed)
        data.test = data.test.subset(args.test_subset, seed=args.seed)
        if data.skipped and ctx.is_main:
            print(
                f"warning: skipped {len(data.skipped)} unreadable file(s): {', '.join(data.skipped[:5])}",
                file=sys.stderr,
            )
        recipe, args.init_state, line = fine_tune(args, recipe, data)  # --init-from: its weights to start from
        if line and ctx.is_main:
            print(line, flush=True)
        out = Path(args.out or f"checkpoints/runs/{recipe.model}-{dt.datetime.now():%Y%m%d-%H%M%S}.safetensors")
        return _run(recipe, data, args, out, ctx)


def _data_default(args, ctx):
    """(recipe, data) with no --model or --recipe: a project's or fine-tuning's teach recipe, else the
    data set's fast default for this device, said on the console."""
    data = load_training_data(
        args.dataset,
        args.data_dir,
        allow_any_path=True,  # a folder's shape picks
        image_size=init_image_size(args),
    )
    device_type = pick_device(args.device).type
    teach = teach_default(args, data)  # a project folder, or a folder to fine-tune on
    if teach is not None:
        recipe = teach[0]
        if ctx.is_main:
            print(f"no --model or --recipe given: training recipe {recipe.name}, {teach[1]}", flush=True)
    else:
        recipe = fast_default(args.dataset, device_type, data.input_shape)
    on = "" if recipe.name == fast_default(args.dataset, "cuda", data.input_shape).name else f" on {device_type}"
    if ctx.is_main and teach is None:
        print(
            f"no --model or --recipe given: training {recipe.model} (recipe {recipe.name}), "
            f"the fast default for {args.dataset}{on}",
            flush=True,
        )
    return recipe, data


def _run(recipe, data, args, out: Path, ctx) -> int:
    record = None
    if ctx.is_main:  # only rank 0 keeps the run
        header = run_header(
            recipe.as_dict(),
            data.name,
            "cli",
            checkpoint=out.name,
            seed=args.seed,
            train_subset=args.train_subset,
            test_subset=args.test_subset,
        )
        record = RunRecorder.open(out, header, tensorboard=args.tensorboard)
    try:
        end = _train(recipe, data, args, ctx, record)
    except BaseException as exc:
        if record is not None:
            record.fail(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        raise
    if record is not None:
        record.close()
    return _finish(end, data, out, ctx)


def _train(recipe, data, args, ctx, record):
    """Train, showing progress; every event goes to the run's record (rank 0). Returns the End."""
    show = ctx.is_main and not args.quiet
    stop = threading.Event()
    _stop_on_ctrl_c(stop)
    bar = None
    end = None
    for ev in train(
        recipe,
        data,
        device=args.device,
        seed=args.seed,
        stop=stop,
        evaluate_each_epoch=not args.final_eval_only,
        init_state=getattr(args, "init_state", None),
        calibration_holdout=args.calibration_holdout,
    ):
        if ev.kind == "start" and ctx.is_main:
            print(
                f"training {ev.model} ({ev.parameters:,} parameters) on {data.name}: {ev.n_train} train / "
                f"{ev.n_test} test images, recipe {recipe.name}, augmentation {recipe.augment}, "
                f"device {ev.device} in {ev.precision}" + (f", {ctx.world_size} processes" if ctx.enabled else ""),
                flush=True,
            )
            bar = tqdm(total=ev.total_steps, unit="step", disable=not show, dynamic_ncols=True)
        elif ev.kind == "step" and bar is not None:
            bar.update(ev.step - bar.n)
            threads = {} if ev.threads is None else {"threads": ev.threads}  # fewer while the CPU is busy
            bar.set_postfix(loss=f"{ev.loss:.4f}", lr=f"{ev.lr:.3g}", img_s=f"{ev.images_per_s:,.0f}", **threads)
        elif ev.kind == "epoch" and ctx.is_main:
            test = (
                f", test loss {ev.test_loss:.4f}, test accuracy {ev.test_accuracy:.4f}"
                if ev.test_accuracy is not None
                else ""
            )
            line = (
                f"epoch {ev.epoch}: train loss {ev.train_loss:.4f}, train accuracy "
                f"{ev.train_accuracy:.4f}{test} ({ev.elapsed:.1f} s)"
            )
            tqdm.write(line) if bar is not None and show else print(line, flush=True)
        elif ev.kind == "end":
            end = ev
            end.metadata["init_from"] = init_name(args)  # None: trained from scratch
        if record is not None:
            record.write(ev)  # after the lines above: End's metadata is the checkpoint's, in full
    if bar is not None:
        bar.close()
    return end


def _finish(end, data, out: Path, ctx) -> int:
    if not ctx.is_main:
        distributed.teardown(ctx)
        return 0
    if end.evaluation is not None:
        print(format_confusion(end.evaluation.confusion, data.classes))
    if end.message:
        print(end.message)
    save_checkpoint(end.model, end.metadata, out)
    print(f"saved {out}")
    if end.test_accuracy is not None:
        print(f"test accuracy: {end.test_accuracy:.4f}")
    distributed.teardown(ctx)
    return 1 if end.status == RunStatus.DIVERGED else 0


def _stop_on_ctrl_c(stop: threading.Event) -> None:
    """The first Ctrl-C stops training cleanly (the weights so far are saved); a second one aborts."""

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
