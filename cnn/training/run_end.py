"""The end of a training run: its End event and what its checkpoint keeps beside the weights (the
architecture, data, normalization, recipe, where and how it trained, and the temperature)."""

from __future__ import annotations

import datetime as dt
import time

from ..hardware import describe
from .calibrate import calibration_line, fit_on_holdout
from .distributed import barrier
from .events import End, RunStatus

CHECKPOINT_FORMAT = 1


def finish(run) -> End:
    """A Trainer's run ended (finished, stopped or diverged): its End event, with the checkpoint's
    metadata and, unless it diverged, the temperature fitted on the held-out slice."""
    run.precision.synchronize()
    elapsed = time.perf_counter() - run.t0
    finished = run.status is RunStatus.FINISHED
    final = run.last_eval if finished else None
    test_acc = run.history[-1].test_accuracy if run.history else None
    if finished and test_acc is not None:
        run.message = f"Finished: test accuracy {test_acc:.4f} in {elapsed:.1f} s on {describe(run.device)}."
    meta = metadata(run, test_acc, elapsed)
    # the temperature, on images it never trained on; not for a diverged run (its kept weights are
    # the last good ones of a run gone wrong, and a fit on them says nothing)
    if run.ctx.is_main and run.steps_done > 0 and run.status is not RunStatus.DIVERGED:
        meta.update(
            fit_on_holdout(
                run.model,
                run.holdout,
                run.normalize,
                len(run.data.classes),
                tta_flip=run.recipe.flip,
            )
            or {}
        )
        run.message = " ".join(filter(None, [run.message, calibration_line(meta)]))
    run.model = run.precision.release(run.model)
    barrier(run.ctx)
    return End(run.status, run.message, run.model, meta, test_acc, elapsed, run.history, final)


def metadata(run, test_acc: float | None, elapsed: float) -> dict:
    """What a Trainer's checkpoint keeps beside its weights (cnn.checkpoint)."""
    r, data = run.recipe, run.data
    return {
        "format": CHECKPOINT_FORMAT,
        "architecture": r.model,
        **({"design": r.design} if r.design is not None else {}),
        "dataset": data.name,
        "classes": list(data.classes),
        "input_shape": list(data.input_shape),
        "preparation": data.preparation,  # how the app (and the ONNX export) prepares an image for it
        "normalization": {"mean": run.mean, "std": run.std},
        "test_accuracy": test_acc,
        "tta_flip": r.flip,
        "tta_translate": r.tta_translate,
        "recipe": r.as_dict(),
        "augment": r.augment,  # the recipe's augmentation as a spec (cnn.data.augment_spec)
        "seed": run.seed,
        "epochs_completed": round(run.steps_done / run.steps_per_epoch, 3),
        "status": run.status.value,
        "train_seconds": round(elapsed, 2),
        "device": describe(run.device),
        "precision": run.precision.label,
        "cpu_threads": {str(k): v for k, v in sorted(run.cpu.steps_on.items())},  # threads -> steps
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
