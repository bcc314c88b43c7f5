"""Cold start: a fresh process trains a recipe, as a click on Start does in a freshly started app.

    python bench/cold_start.py [--recipe cifar10_fast]

Prints the time of each phase: importing torch and the cnn package (done once when the app
starts), then from 'Start' on: loading the data (from the disk cache), setting up (CUDA context,
model, whitening), training (cuDNN autotuning and CUDA graph recording included) and the final
evaluation. 'from Start to a trained model' is the figure the speed issue bounds (10 s). With
--warm-up the process first does what the app does in the background at launch.
"""
import argparse
import time

t_process = time.perf_counter()
import torch  # noqa: E402

import common  # noqa: E402,F401
from cnn.data import load_dataset  # noqa: E402
from cnn.device import warm_up  # noqa: E402
from cnn.engine import train  # noqa: E402
from cnn.recipes import get_recipe  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="cifar10_fast")
    p.add_argument("--warm-up", action="store_true",
                   help="first do what the app does at launch (cnn.device.warm_up), then press Start")
    args = p.parse_args()
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
    print(f"imports {t_import:.2f} s, launch warm-up {t_warm:.2f} s (once per app start); from Start: data {t_data:.2f} s, setup "
          f"{t_setup:.2f} s, training and final evaluation {end.elapsed:.2f} s; test accuracy "
          f"{end.test_accuracy:.4f}")
    print(f"Finished: from Start to a trained model {total:.2f} s ({args.recipe}"
          f"{', after the launch warm-up' if args.warm_up else ', nothing warmed'}, whole process "
          f"{time.perf_counter() - t_process:.2f} s)")


if __name__ == "__main__":
    main()
