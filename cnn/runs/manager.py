"""The one training run of this process, in a background thread (see cnn.runs)."""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
import uuid
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..data import Dataset, load_dataset, resolve_data_dir
from ..data.normalize import Normalizer
from ..data.sources import checked_folder, named_source
from ..errors import CnnError, DataError
from ..evaluation import Augmentation, EvalPlan, evaluate
from ..hardware import describe, pick_device
from ..training import End, EpochEnd, RunStatus, Snapshot, Start, Step, Watch, train
from ..training.warmup import warm_up
from .config import RunConfig
from .keeping import checkpoint_path, continued_from, open_record, panel
from .run import Run

log = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = Path("checkpoints") / "runs"
WATCH_EVERY_S = 3.0  # the live panel's snapshot, between epoch ends (bench/watch_overhead.py: its cost)
_THREADS = torch.get_num_threads()  # the process default, before any thread changed its own


class RunBusy(CnnError):
    """A training run is already going."""


class RunManager:
    """Holds the one training run of this process."""

    def __init__(
        self,
        runs_dir: str | Path = DEFAULT_RUNS_DIR,
        data_dir: str | Path | None = None,
        allow_any_path: bool = False,
        device: str | None = None,
        protected: tuple = (),
        stop_unwatched_after: float | None = None,
    ):
        """stop_unwatched_after: stop a run that a page started (one started with a session) when no
        page has looked at it (Run.viewed) for this many seconds, keeping its weights; None: runs go
        on until they end or are stopped."""
        self.runs_dir = Path(runs_dir)
        self.tensorboard_dir = self.runs_dir / "tensorboard"  # a run with config.tensorboard writes here
        self.stop_unwatched_after = stop_unwatched_after
        self.data_dir = data_dir
        self.allow_any_path = allow_any_path
        self.device = device
        self.protected = tuple(Path(p).resolve() for p in protected)  # shipped checkpoints
        self._lock = threading.Lock()
        self._current: Run | None = None
        self._device_ready = threading.Event()
        self._device_ready.set()
        self._warm_up_stop = threading.Event()  # set by a run that would otherwise wait for the warm-up

    def warm_up_in_background(
        self, recipes: tuple[str, ...] = ("cifar10_fast", "mnist_fast"), device_types: tuple[str, ...] = ("cuda",)
    ) -> None:
        """On a GPU (a device of one of `device_types`), pay its one-time costs (CUDA, cuDNN's
        kernel choice, the CUDA graph machinery) while nobody is waiting (cnn.device.warm_up).
        A run started meanwhile stops it at its next step and starts as soon as it has."""
        if pick_device(self.device).type not in device_types:
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

    @property
    def current(self) -> Run | None:
        return self._current

    def device_name(self) -> str:
        return describe(pick_device(self.device))

    def device_type(self) -> str:
        """'cuda', 'mps' or 'cpu': the kind of device runs train on."""
        return pick_device(self.device).type

    def start(self, config: RunConfig, session: str | None = None) -> Run:
        recipe = config.checked()  # bad settings are refused before anything starts
        if named_source(config.dataset) is None:  # a folder that is not there, or not allowed
            checked_folder(str(config.dataset).strip(), resolve_data_dir(self.data_dir), self.allow_any_path)
        with self._lock:
            cur = self._current
            if cur is not None and not cur.done:
                who = "this browser" if session is not None and cur.session == session else "another browser"
                raise RunBusy(
                    f"A training run is already going ({cur.config.model} on {cur.config.dataset}, "
                    f"started from {who}). Only one run at a time: stop it first or wait for it to end."
                )
            run = Run(uuid.uuid4().hex[:8], config, session, self.device_name(), recipe=recipe)
            self._current = run
        threading.Thread(target=self._work, args=(run, recipe), name=f"train-{run.id}", daemon=True).start()
        if self.stop_unwatched_after is not None and session is not None:  # a run a page started
            threading.Thread(target=self._watch, args=(run,), name=f"watch-{run.id}", daemon=True).start()
        return run

    def stop(self, session: str | None = None) -> bool:
        """Stop the current run (only the given session's, when a session is named)."""
        run = self._current
        if run is None or run.done or (session is not None and run.session != session):
            return False
        run.stop()
        return True

    def _watch(self, run: Run) -> None:
        """Stop the run once no page has looked at it for stop_unwatched_after seconds (read each
        time: it may change while the run goes; None stops the watch)."""
        while not run.done and not run.stop_event.is_set():
            limit = self.stop_unwatched_after
            if limit is None:
                return
            if time.monotonic() - run.last_viewed > limit:
                run.note = f"No page showed the run for {limit:g} s, so it stopped."
                run.stop()
                return
            time.sleep(min(1.0, limit / 4))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            run = self._current
            if run is None or run.done:
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------ the training thread

    def _work(self, run: Run, recipe) -> None:
        torch.set_num_threads(_THREADS)  # a new thread starts with the last value any thread set
        path, record = checkpoint_path(self.runs_dir, run), None
        try:
            if path.resolve() in self.protected:  # cannot happen with these names; belt and braces
                raise DataError(f"Refusing to overwrite the shipped checkpoint {path}.")
            record = open_record(run, path, self.tensorboard_dir, recipe)
            data = self._load(run, recipe)
            init_state = None
            if run.config.init_from:
                recipe, init_state = continued_from(run.config.init_from, recipe, data)
                run.recipe = recipe
            run.panel_images, run.panel_labels = panel(data.test, len(data.classes))
            watch = Watch(run.panel_images, WATCH_EVERY_S)
            for ev in train(
                recipe,
                data,
                device=self.device,
                seed=run.config.seed,
                stop=run.stop_event,
                init_state=init_state,
                watch=watch,
            ):
                self._keep(run, ev, record)
            end = run.end
            run.final_step = _end_step(run, end)
            if end.status == RunStatus.STOPPED:
                self._evaluate_kept(run, end)
            end.metadata.update(
                init_from=Path(run.config.init_from).name if run.config.init_from else None, parent=run.config.parent
            )
            record.write(end)  # after the kept weights' test: the log's End is the checkpoint's
            run.checkpoint = save_checkpoint(end.model, end.metadata, path)
            record.close()
            note = f" {run.note}" if end.status == RunStatus.STOPPED and run.note else ""
            run.message = (end.message or end.status.value.capitalize()) + f"{note} Saved {run.checkpoint}."
            run.status = end.status
        except Exception as exc:
            self._fail(run, _failure_message(run, exc))
            if record is not None:
                record.fail(run.message)
        finally:
            if not run.done:
                run.status = RunStatus.FAILED
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            run._touch()

    @staticmethod
    def _keep(run: Run, ev, record) -> None:
        """One engine event: into the run (the page shows it) and its log (End waits: see _work)."""
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

    def _load(self, run: Run, recipe) -> Dataset:
        """The run's data (its subsets), once the device is free of the launch warm-up."""
        data = load_dataset(run.config.dataset, self.data_dir, allow_any_path=self.allow_any_path)
        if data.skipped:
            shown = ", ".join(Path(p).name for p in data.skipped[:5])
            run.warnings.append(
                f"Skipped {len(data.skipped)} unreadable file(s): {shown}"
                f"{' ...' if len(data.skipped) > 5 else ''}. The readable ones are used."
            )
        data.train = data.train.subset(run.config.train_subset, seed=run.config.seed)
        data.test = data.test.subset(run.config.test_subset, seed=run.config.seed)
        recipe.validate(len(data.train))
        run.data = data
        if not self._device_ready.is_set():  # the launch warm-up is still going: stop it, then start
            run.status = RunStatus.WARMING_UP
            run._touch()
            self._warm_up_stop.set()
            self._device_ready.wait()
        run.status = RunStatus.TRAINING
        run._touch()
        return data

    def _evaluate_kept(self, run: Run, end: End) -> None:
        """A stopped run's kept weights, on the test set: its accuracy, confusion and mistakes."""
        run.note, note = "Evaluating the kept weights on the test set ...", run.note
        run._touch()
        meta, device = end.metadata, next(end.model.parameters()).device
        normalize = Normalizer(
            meta["normalization"]["mean"], meta["normalization"]["std"], device, run.data.input_shape[0]
        )
        plan = EvalPlan.test_pass(
            Augmentation.of_checkpoint(meta), meta.get("recipe") or {}, device
        )  # as a finished run's
        ev = evaluate(end.model, run.data.test, normalize, len(run.data.classes), plan)
        end.evaluation, end.test_accuracy = ev, ev.accuracy
        meta["test_accuracy"] = ev.accuracy
        run.note = note

    def _fail(self, run: Run, message: str) -> None:
        run.message, run.status = message, RunStatus.FAILED
        run.end = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _end_step(run: Run, end: End) -> int:
    """The step the run ended at: every step when it finished, else the one its End names."""
    total = run.start.total_steps if run.start else 0
    if end.status == RunStatus.FINISHED:
        return total
    m = re.search(r"at step (\d+)", end.message or "")
    if m:
        return int(m.group(1))
    per_epoch = run.start.steps_per_epoch if run.start else 0
    return min(total, round(float(end.metadata.get("epochs_completed", 0)) * per_epoch))


def _failure_message(run: Run, exc: Exception) -> str:
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
