"""Where a cold start's seconds go: each one-time cost of a fresh process, paid one by one.

    python bench/cold_profile.py [--recipe cifar10_fast] [--synthetic] [--no-autotune] [--no-graphs]

In a fresh process, times (each ended by a device sync): the CUDA context, cuBLAS, the CPU's
LAPACK (the whitening's eigensolver), cuDNN's first convolution, loading the data, the engine's
set-up up to its Start event, each training epoch (the first one pays cuDNN's kernel choice and
the CUDA graph's recording), and the final evaluation, then the same evaluation again, warm.
--synthetic trains on random images of the data set's shape (timings only: no data needed).
--no-autotune turns cuDNN's benchmark mode off once the engine has turned it on.
"""

import argparse
import time

t_process = time.perf_counter()
import common  # noqa: E402,F401
import torch  # noqa: E402

from cnn.data import load_dataset, random_dataset  # noqa: E402
from cnn.data.normalize import Normalizer  # noqa: E402
from cnn.evaluation import Augmentation, EvalPlan, evaluate  # noqa: E402
from cnn.hardware import pick_device  # noqa: E402
from cnn.models import get_spec  # noqa: E402
from cnn.training import train  # noqa: E402
from cnn.training.recipes import get_recipe  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", default="cifar10_fast")
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--no-autotune", action="store_true")
    p.add_argument("--no-graphs", action="store_true")
    p.add_argument(
        "--separate",
        action="store_true",
        help="pay the context, cuBLAS, LAPACK and cuDNN costs one by one before Start",
    )
    return p.parse_args()


def pay_one_by_one(phase) -> None:
    """The CUDA context, cuBLAS, LAPACK and cuDNN costs, each timed by `phase(name, fn)`."""
    phase("CUDA context", lambda: torch.empty(1, device="cuda"))
    a = torch.randn(64, 64, device="cuda")
    phase("cuBLAS (fp32 matmul)", lambda: a @ a)
    phase("cuBLAS (fp16 matmul)", lambda: a.half() @ a.half())
    phase("LAPACK (eigh)", lambda: torch.linalg.eigh(torch.eye(4, dtype=torch.float64)))
    conv = torch.nn.Conv2d(3, 8, 3).cuda()
    phase("cuDNN (first conv, no autotune)", lambda: conv(torch.randn(2, 3, 8, 8, device="cuda")))


def main() -> None:
    args = parse_args()
    times = {"imports": time.perf_counter() - t_process}

    def phase(name, fn):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times[name] = time.perf_counter() - t

    t_start = time.perf_counter()
    if args.separate:
        pay_one_by_one(phase)
    recipe = get_recipe(args.recipe)
    t = time.perf_counter()
    data = (
        random_dataset(recipe.dataset, get_spec(recipe.model).input_shape, 50_000, 10_000)
        if args.synthetic
        else load_dataset(recipe.dataset)
    )
    times["data"] = time.perf_counter() - t
    t = time.perf_counter()
    epochs = []
    for ev in train(recipe, data, evaluate_each_epoch=False, cuda_graphs=not args.no_graphs):
        if ev.kind == "start":
            times["engine set-up to Start"] = time.perf_counter() - t
            if args.no_autotune:
                torch.backends.cudnn.benchmark = False
        elif ev.kind == "epoch":
            epochs.append(ev)
        elif ev.kind == "end":
            end = ev
    prev = 0.0
    for ev in epochs:
        times[f"epoch {ev.epoch} training"] = ev.train_seconds - prev
        prev = ev.train_seconds
    times["final evaluation (cold)"] = epochs[-1].elapsed - epochs[-1].train_seconds
    times["from Start to a trained model"] = time.perf_counter() - t_start
    device = pick_device()
    model = end.model.to(device).to(memory_format=torch.channels_last)
    norm = Normalizer(
        end.metadata["normalization"]["mean"], end.metadata["normalization"]["std"], device, data.input_shape[0]
    )
    phase(
        "the same evaluation again (warm)",
        lambda: evaluate(
            model,
            data.test,
            norm,
            len(data.classes),
            EvalPlan.test_pass(Augmentation(recipe.flip, recipe.tta_translate), recipe.as_dict(), device),
        ),
    )  # as the engine evaluates
    flags = [f for f in ("synthetic", "no_autotune", "no_graphs", "separate") if getattr(args, f)]
    print(f"## {args.recipe} cold profile ({', '.join(flags) or 'defaults'}); accuracy {end.test_accuracy:.4f}")
    for name, s in times.items():
        print(f"{name:40s} {s:7.2f} s")


if __name__ == "__main__":
    main()
