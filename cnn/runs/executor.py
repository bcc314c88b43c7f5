"""What a run does once its turn has come: prepare its data, train, save its weights, test them, and
keep its log. One executor for every run, whether the app's own thread trains it (`LocalExecutor`)
or a Ray worker does (cnn.runs.ray_executor calls the same `LocalExecutor` on the worker). How every
run that fails ends is one function, `end_failed`.

The scheduler (cnn.runs.scheduler) decides when a run starts and on how many threads; the executor
applies that thread count, and the lower OS priority of a CPU run, in the thread that trains."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import traceback
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..cpu_share import PROCESS_THREADS, background_priority, run_threads
from ..data import Dataset, load_dataset
from ..data.normalize import Normalizer
from ..errors import CnnError, DataError
from ..evaluation import Augmentation, EvalPlan, evaluate
from ..hardware import describe, pick_device
from ..projects import plan, project_folder
from ..training import End, EpochEnd, RunStatus, Snapshot, Start, Step, Watch, train
from ..training.warmup import warm_up
from .keeping import checkpoint_path, continued_from, open_record, panel
from .run import Run

log = logging.getLogger(__name__)

WATCH_EVERY_S = 3.0  # the live panel's snapshot, between epoch ends (bench/watch_overhead.py: its cost)


class LocalExecutor:
    """Trains runs in the calling thread on this machine's device (`execute`)."""

    def __init__(self, data_dir=None, allow_any_path: bool = False, device: str | None = None, protected=()):
        self.data_dir, self.allow_any_path, self.device = data_dir, allow_any_path, device
        self.protected = tuple(Path(p).resolve() for p in protected)  # shipped checkpoints
        self._device_ready = threading.Event()
        self._device_ready.set()
        self._warm_up_stop = threading.Event()  # set by a run that would otherwise wait for the warm-up

    def device_type(self) -> str:
        """'cuda', 'mps' or 'cpu': the kind of device runs train on."""
        return pick_device(self.device).type

    def device_name(self, threads: int = PROCESS_THREADS) -> str:
        """The training device in words (on the CPU, with a run's thread count)."""
        if self.device_type() == "cpu":
            return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
        return describe(pick_device(self.device))

    def warm_up_in_background(
        self, max_runs: int = 1, recipes=("cifar10_fast", "mnist_fast"), device_types=("cuda",)
    ) -> None:
        """On a GPU, pay its one-time costs (CUDA, cuDNN's kernel choice, the CUDA graph machinery)
        while nobody is waiting (cnn.training.warmup). A run started meanwhile stops it at its next
        step and starts as soon as it has."""
        if self.device_type() not in device_types:
            return
        self._device_ready.clear()
        self._warm_up_stop.clear()

        def work():
            try:
                seconds = warm_up(self.device, recipes, stop=self._warm_up_stop)
                log.info(
                    "device warm-up %s after %.1f s", "cut short" if self._warm_up_stop.is_set() else "done", seconds
                )
            except Exception:  # a warm-up problem must not stop the app; the first run pays instead
                log.exception("device warm-up failed")
            finally:
                self._device_ready.set()

        threading.Thread(target=work, name="device-warm-up", daemon=True).start()

    def execute(self, run: Run, recipe, folder: Path, threads: int) -> None:
        """Train one run to its end in this thread, on `threads` CPU threads at a lower priority on
        the CPU: its checkpoint and log land in `folder`. Every failure ends it FAILED with a message."""
        cpu = self.device_type() == "cpu"
        if cpu:
            background_priority()  # requests are answered first (cnn.cpu_share)
        with run_threads(threads) if cpu else contextlib.nullcontext():
            self._execute(run, recipe, Path(folder))

    def _execute(self, run: Run, recipe, folder: Path) -> None:
        path, record = checkpoint_path(folder, run), None
        try:
            refuse_protected(path, self.protected)
            record = open_record(run, path, folder / "tensorboard", recipe)
            data, recipe, init_state, extra = self._prepare(run, recipe)
            run.recipe = recipe
            run.panel_images, run.panel_labels = panel(data.test, len(data.classes))
            watch = Watch(run.panel_images, WATCH_EVERY_S) if run.config.project is None else None
            events = train(
                recipe,
                data,
                device=self.device,
                seed=run.config.seed,
                stop=run.stop_event,
                init_state=init_state,
                watch=watch,
            )
            for ev in events:
                keep_event(run, ev, record)
            finish(run, path, record, extra)
        except Exception as exc:
            end_failed(run, exc, record)
        finally:
            if not run.done:
                run.status = RunStatus.FAILED
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            run._touch()

    def _prepare(self, run: Run, recipe) -> tuple:
        """(data, recipe, starting weights or None, metadata to add to the checkpoint's) for a run:
        a Teach run's project with its preset scaled to it (cnn.projects.plan), else the data set
        (its subsets), continued from a checkpoint when its config says so."""
        c = run.config
        if c.project is not None:
            p = plan(project_folder(c.dataset, self.data_dir, self.allow_any_path), c.init_from)
            run.data = p.data
            self._ready(run)
            meta = {"project": {"name": p.project_name, "kind": p.kind}}
            meta["init_from"] = Path(p.init.path).name if p.init is not None else None
            return p.data, p.recipe.with_augment(c.augment), p.init_state, meta  # the panel's augmentation
        data = self._load(run, recipe)
        init_state = None
        if c.init_from:
            recipe, init_state = continued_from(c.init_from, recipe, data)
        meta = dict(init_from=Path(c.init_from).name if c.init_from else None, parent=c.parent)
        return data, recipe, init_state, meta

    def _load(self, run: Run, recipe) -> Dataset:
        """The run's data (its subsets), once the device is free of the launch warm-up."""
        data = load_dataset(run.config.dataset, self.data_dir, allow_any_path=self.allow_any_path)
        if data.skipped:
            shown = ", ".join(Path(p).name for p in data.skipped[:5])
            more = " ..." if len(data.skipped) > 5 else ""
            run.warnings.append(
                f"Skipped {len(data.skipped)} unreadable file(s): {shown}{more}. The readable ones are used."
            )
        data.train = data.train.subset(run.config.train_subset, seed=run.config.seed)
        data.test = data.test.subset(run.config.test_subset, seed=run.config.seed)
        recipe.validate(len(data.train))
        run.data = data
        self._ready(run)
        return data

    def _ready(self, run: Run) -> None:
        """Once the device is free of the launch warm-up (stopped at its next step), TRAINING."""
        if not self._device_ready.is_set():
            run.status = RunStatus.WARMING_UP
            run._touch()
            self._warm_up_stop.set()
            self._device_ready.wait()
        run.status = RunStatus.TRAINING
        run._touch()


def refuse_protected(path: Path, protected: tuple) -> None:
    """Never over a shipped checkpoint (the runs' names cannot be one; belt and braces)."""
    if Path(path).resolve() in protected:
        raise DataError(f"Refusing to overwrite the shipped checkpoint {path}.")


def keep_event(run: Run, ev, record) -> None:
    """One engine event into the run (the page shows it) and its log (the End is logged by
    `finish`, once a stopped run's kept weights have their test accuracy)."""
    if isinstance(ev, Snapshot):
        run.snapshot, run.snapshots = ev, run.snapshots + 1
    elif isinstance(ev, End):
        run.end = ev
    else:
        if isinstance(ev, Start):
            run.start = ev
        elif isinstance(ev, Step):
            run.steps.append(ev)
        elif isinstance(ev, EpochEnd):
            run.epochs.append(ev)
        record.write(ev)
    run._touch()


def finish(run: Run, path: Path, record, extra: dict) -> None:
    """The run's weights saved first, then (a stopped run) tested and saved again with the test's
    accuracy: a test that fails leaves the weights kept and says so. The model then leaves memory."""
    end = run.end
    run.final_step = end_step(run, end)
    end.metadata.update(extra)
    run.checkpoint = save_checkpoint(end.model, end.metadata, path)
    if end.status == RunStatus.STOPPED:
        try:
            evaluate_kept(run, end)
            save_checkpoint(end.model, end.metadata, path)
        except Exception as exc:  # the weights are saved already; the run ends STOPPED without a test
            log.exception("testing the kept weights failed")
            run.warnings.append(
                f"Testing the kept weights failed ({type(exc).__name__}: {str(exc)[:200]}); they are saved."
            )
    record.write(end)  # the log's End is the checkpoint's
    record.close()
    note = f" {run.note}" if end.status == RunStatus.STOPPED and run.note else ""
    run.message = (end.message or end.status.value.capitalize()) + f"{note} Saved {run.checkpoint}."
    end.model = None  # saved: the weights are the checkpoint's now, not this process's memory
    run.status = end.status


def evaluate_kept(run: Run, end: End) -> None:
    """A stopped run's kept weights, on the test set: its accuracy, confusion and mistakes, with the
    checkpoint's test-time augmentation and its recipe's plan, as a finished run's."""
    run.note, note = "Evaluating the kept weights on the test set ...", run.note
    run._touch()
    meta, device = end.metadata, next(end.model.parameters()).device
    norm = meta["normalization"]
    normalize = Normalizer(norm["mean"], norm["std"], device, run.data.input_shape[0])
    plan_ = EvalPlan.test_pass(Augmentation.of_checkpoint(meta), meta.get("recipe") or {}, device)
    ev = evaluate(end.model, run.data.test, normalize, len(run.data.classes), plan_)
    end.evaluation, end.test_accuracy = ev, ev.accuracy
    meta["test_accuracy"] = ev.accuracy
    run.note = note


def end_failed(run: Run, exc: Exception, record=None, message: str | None = None) -> None:
    """How every run that failed ends, wherever it trained: FAILED with a message a person can act
    on (`failure_message`, or `message`), its log's last line saying so, its model let go."""
    run.message, run.end = message or failure_message(run, exc), None
    if record is not None:  # before the status: a Ray worker's app reads the log once the run is done
        record.fail(run.message)
    run.status = RunStatus.FAILED
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def end_step(run: Run, end: End) -> int:
    """The step the run ended at: every step when it finished, else the one its End names."""
    total = run.start.total_steps if run.start else 0
    if end.status == RunStatus.FINISHED:
        return total
    m = re.search(r"at step (\d+)", end.message or "")
    if m:
        return int(m.group(1))
    per_epoch = run.start.steps_per_epoch if run.start else 0
    return min(total, round(float(end.metadata.get("epochs_completed", 0)) * per_epoch))


def failure_message(run: Run, exc: Exception) -> str:
    """What a run that raised says: a CnnError's own message, what to do when the device ran out
    of memory, else the error in short (its traceback goes to the log)."""
    if isinstance(exc, CnnError):
        return str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        b = run.config.batch_size
        return (
            f"The device ran out of memory with batch size {b}. Try a smaller batch size "
            f"(for example {max(1, int(b) // 2)}) or a smaller model. Nothing else was affected; "
            f"you can start a new run."
        )
    traceback.print_exc()
    return f"Training failed: {type(exc).__name__}: {str(exc)[:300]}"
