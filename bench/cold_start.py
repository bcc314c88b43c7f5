"""Cold start: a fresh process trains a recipe, as a click on Start does in a freshly started app.

    python bench/cold_start.py [--recipe cifar10_fast] [--warm-up | --press-after S]

Prints the time of each phase: importing torch and the cnn package (done once when the app
starts), then from 'Start' on: loading the data (from the disk cache), setting up (CUDA context,
model, whitening), training (cuDNN autotuning and CUDA graph recording included) and the final
evaluation. 'from Start to a trained model' is the figure the speed issue bounds (10 s). With
--warm-up the process first does what the app does in the background at launch. With
--press-after S it goes the app's own way (cnn.runs.RunManager): the launch warm-up starts in
the background, Start is pressed S seconds later (0: at once), and the run stops what is left of
the warm-up, trains, evaluates and saves its checkpoint, as a click in the app does.
"""

import argparse
import tempfile
import time

t_process = time.perf_counter()
import common  # noqa: E402,F401
import torch  # noqa: E402,F401  (imported first: the import phase times it)

from cnn.data import load_dataset  # noqa: E402
from cnn.runs import RunConfig, RunManager  # noqa: E402
from cnn.training import train  # noqa: E402
from cnn.training.recipes import get_recipe  # noqa: E402
from cnn.training.warmup import warm_up  # noqa: E402


def press_start_after(name: str, seconds: float, t_process: float) -> None:
    """The app's path: RunManager's launch warm-up, then Start pressed `seconds` later."""
    recipe = get_recipe(name)
    with tempfile.TemporaryDirectory() as runs_dir:
        manager = RunManager(runs_dir)
        manager.warm_up_in_background()  # as app.py does at launch, with its default recipes
        time.sleep(seconds)
        t0 = time.perf_counter()
        run = manager.start(
            RunConfig(
                recipe.dataset, recipe.model, recipe.name, recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer
            )
        )
        while not run.done:
            run.wait(run.version, 0.5)
        total = time.perf_counter() - t0
    print(f"device: {run.device}; run {run.status}: {run.message}")
    print(
        f"Finished: from Start to a trained model {total:.2f} s ({name}, Start pressed {seconds:g} s "
        f"after the launch warm-up began; checkpoint saved; whole process {time.perf_counter() - t_process:.2f} s)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="cifar10_fast")
    p.add_argument(
        "--warm-up",
        action="store_true",
        help="first do what the app does at launch (cnn.training.warmup.warm_up), then press Start",
    )
    p.add_argument(
        "--press-after",
        type=float,
        metavar="S",
        help="the app's way: launch warm-up in the background, Start pressed S seconds later",
    )
    args = p.parse_args()
    if args.press_after is not None:
        press_start_after(args.recipe, args.press_after, t_process)
        return
    t_import = time.perf_counter() - t_process
    t_warm = warm_up(recipes=(args.recipe,)) if args.warm_up else 0.0
    t0 = time.perf_counter()
    recipe = get_recipe(args.recipe)
    data = load_dataset(recipe.dataset)
    t_data = time.perf_counter() - t0
    for ev in train(recipe, data, evaluate_each_epoch=False):
        if ev.kind == "start":
            t_setup = time.perf_counter() - t0 - t_data
            print(f"device: {ev.device}", flush=True)
        elif ev.kind == "end":
            end = ev
    total = time.perf_counter() - t0
    print(
        f"imports {t_import:.2f} s, launch warm-up {t_warm:.2f} s (once per app start); from Start: data {t_data:.2f} s, setup "  # noqa: E501
        f"{t_setup:.2f} s, training and final evaluation {end.elapsed:.2f} s; test accuracy "
        f"{end.test_accuracy:.4f}"
    )
    print(
        f"Finished: from Start to a trained model {total:.2f} s ({args.recipe}"
        f"{', after the launch warm-up' if args.warm_up else ', nothing warmed'}, whole process "
        f"{time.perf_counter() - t_process:.2f} s)"
    )


if __name__ == "__main__":
    main()
