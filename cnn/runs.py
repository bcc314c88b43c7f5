"""The app's training runs: one at a time across all sessions, in a background thread.

`RunManager.start` refuses a second run while one is going (whoever started it), trains with
`cnn.training.train` in a thread, records every event as data (ui.run_view presents it), and
saves the result under the runs directory (never over a shipped checkpoint). `stop` ends a run
between two steps, keeping the weights so far; `stop_session` does that for a browser session
that went away, so no run is left holding the device. Out of memory and every other failure end
the run with a message, and the next run can start. Never imports Gradio.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import save_checkpoint
from .data import Dataset, load_dataset
from .errors import CnnError, ConfigError, DataError
from .hardware import describe, pick_device
from .models import get_spec
from .training import End, EpochEnd, RunStatus, Start, Step, get_recipe, train
from .training.warmup import warm_up

log = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = Path("checkpoints") / "runs"
_THREADS = torch.get_num_threads()  # the process default, before any thread changed its own


class RunBusy(CnnError):
    """A training run is already going."""


@dataclass
class RunConfig:
    dataset: str                    # 'mnist', 'fashion-mnist', 'cifar10' or a folder path
    model: str
    recipe: str
    epochs: float
    batch_size: int
    lr: float
    optimizer: str
    train_subset: int | None = None  # train on a fixed sample of this many images (None: all)
    test_subset: int | None = None
    seed: int = 0

    def checked(self):
        """The recipe these settings make, refused with a clear message when out of range."""
        get_spec(self.model)
        for name, v in (("Epochs", self.epochs), ("Batch size", self.batch_size), ("Learning rate", self.lr)):
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                raise ConfigError(f"{name} must be a number.")
        for name, v in (("Training subset", self.train_subset), ("Test subset", self.test_subset)):
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be at least 1 image (or empty for all).")
        if not str(self.dataset or "").strip():
            raise ConfigError("Choose a data set, or give the path of an image folder.")
        recipe = get_recipe(self.recipe).replace(
            model=self.model, dataset=self.dataset, epochs=float(self.epochs),
            batch_size=int(self.batch_size) if float(self.batch_size).is_integer() else self.batch_size,
            lr=float(self.lr), optimizer=self.optimizer)
        recipe.validate()
        return recipe


@dataclass
class Run:
    id: str
    config: RunConfig
    session: str | None
    device: str
    status: RunStatus = RunStatus.LOADING
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    start: Start | None = None
    steps: list[Step] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    end: End | None = None
    checkpoint: Path | None = None
    data: Dataset | None = None
    started_at: float = field(default_factory=time.time)
    version: int = 0
    stop_event: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def done(self) -> bool:
        return self.status.done

    def _touch(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, seen_version: int, timeout: float) -> int:
        """Block until something changed since seen_version (or timeout); return the version."""
        with self._changed:
            if self.version == seen_version and not self.done:
                self._changed.wait(timeout)
            return self.version

    def stop(self) -> None:
        self.stop_event.set()

    # ------------------------------------------------------------ as data (ui.run_view shows it)

    def loss_points(self) -> list[dict]:
        return [{"epoch": round(s.epoch, 4), "step": s.step, "loss": s.loss} for s in list(self.steps)]

    def accuracy_points(self) -> list[dict]:
        out = []
        for e in list(self.epochs):
            out.append({"epoch": e.epoch, "accuracy": e.train_accuracy, "split": "train"})
            if e.test_accuracy is not None:
                out.append({"epoch": e.epoch, "accuracy": e.test_accuracy, "split": "test"})
        return out

    def progress(self) -> dict:
        """step, total, fraction, eta (s), images_per_s, elapsed (s), epoch."""
        last = self.steps[-1] if self.steps else None
        total = self.start.total_steps if self.start else 0
        if last is None:
            return {"step": 0, "total": total, "fraction": 0.0, "eta": None, "images_per_s": None,
                    "elapsed": time.time() - self.started_at, "epoch": 0.0}
        return {"step": last.step, "total": total, "fraction": last.step / max(1, total),
                "eta": 0.0 if self.done else last.eta, "images_per_s": last.images_per_s,
                "elapsed": last.elapsed, "epoch": last.epoch}

    def misclassified(self, limit: int = 24) -> list[tuple[torch.Tensor, str, str]]:
        """(uint8 C x H x W image, true class, predicted class), most confidently wrong first."""
        if self.end is None or self.end.evaluation is None or self.data is None:
            return []
        ev, test, classes = self.end.evaluation, self.data.test, self.data.classes
        return [(test.images[i], classes[int(test.labels[i])], classes[int(ev.predictions[i])])
                for i in ev.misclassified(test.labels, limit)]


class RunManager:
    """Holds the one training run of this process."""

    def __init__(self, runs_dir: str | Path = DEFAULT_RUNS_DIR, data_dir: str | Path | None = None,
                 allow_any_path: bool = False, device: str | None = None, protected: tuple = ()):
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.allow_any_path = allow_any_path
        self.device = device
        self.protected = tuple(Path(p).resolve() for p in protected)  # shipped checkpoints
        self._lock = threading.Lock()
        self._current: Run | None = None
        self._device_ready = threading.Event()
        self._device_ready.set()
        self._warm_up_stop = threading.Event()  # set by a run that would otherwise wait for the warm-up

    def warm_up_in_background(self, recipes: tuple[str, ...] = ("cifar10_fast", "mnist_fast"),
                              device_types: tuple[str, ...] = ("cuda",)) -> None:
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
                log.info("device warm-up %s after %.1f s", "cut short" if self._warm_up_stop.is_set()
                         else "done", seconds)
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

    def start(self, config: RunConfig, session: str | None = None) -> Run:
        recipe = config.checked()  # bad settings are refused before anything starts
        with self._lock:
            cur = self._current
            if cur is not None and not cur.done:
                who = "this page" if session is not None and cur.session == session else "another session"
                raise RunBusy(
                    f"A training run is already going ({cur.config.model} on {cur.config.dataset}, "
                    f"started by {who}). Only one run at a time: stop it first or wait for it to end.")
            run = Run(uuid.uuid4().hex[:8], config, session, self.device_name())
            self._current = run
        threading.Thread(target=self._work, args=(run, recipe), name=f"train-{run.id}", daemon=True).start()
        return run

    def stop(self, session: str | None = None) -> bool:
        """Stop the current run (only the given session's, when a session is named)."""
        run = self._current
        if run is None or run.done or (session is not None and run.session != session):
            return False
        run.stop()
        return True

    def stop_session(self, session: str | None) -> bool:
        """A browser session closed: stop its run, if it has one."""
        return session is not None and self.stop(session)

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
        try:
            data = load_dataset(run.config.dataset, self.data_dir, allow_any_path=self.allow_any_path)
            if data.skipped:
                shown = ", ".join(Path(p).name for p in data.skipped[:5])
                run.warnings.append(f"Skipped {len(data.skipped)} unreadable file(s): {shown}"
                                    f"{' ...' if len(data.skipped) > 5 else ''}. The readable ones are used.")
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
            for ev in train(recipe, data, device=self.device, seed=run.config.seed, stop=run.stop_event):
                if isinstance(ev, Start):
                    run.start = ev
                elif isinstance(ev, Step):
                    run.steps.append(ev)
                elif isinstance(ev, EpochEnd):
                    run.epochs.append(ev)
                elif isinstance(ev, End):
                    run.end = ev
                run._touch()
            end = run.end
            run.checkpoint = self._save(run, end)
            run.message = (end.message or end.status.value.capitalize()) + f" Saved {run.checkpoint}."
            run.status = end.status
        except torch.cuda.OutOfMemoryError:
            self._fail(run, _oom_message(run))
        except CnnError as exc:
            self._fail(run, str(exc))
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                self._fail(run, _oom_message(run))
            else:
                traceback.print_exc()
                self._fail(run, f"Training failed: {type(exc).__name__}: {str(exc)[:300]}")
        except Exception as exc:  # noqa: BLE001 - the app must keep serving
            traceback.print_exc()
            self._fail(run, f"Training failed: {type(exc).__name__}: {str(exc)[:300]}")
        finally:
            if not run.done:
                run.status = RunStatus.FAILED
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            run._touch()

    def _fail(self, run: Run, message: str) -> None:
        run.message, run.status = message, RunStatus.FAILED
        run.end = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _save(self, run: Run, end: End) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(run.config.dataset)).name.lower())[:40] or "data"
        name = f"{run.config.model}-{slug}-{dt.datetime.now():%Y%m%d-%H%M%S}-{run.id}.safetensors"
        path = self.runs_dir / name
        if path.resolve() in self.protected:  # cannot happen with these names; belt and braces
            raise DataError(f"Refusing to overwrite the shipped checkpoint {path}.")
        return save_checkpoint(end.model, end.metadata, path)


def _oom_message(run: Run) -> str:
    b = run.config.batch_size
    return (f"The device ran out of memory with batch size {b}. Try a smaller batch size "
            f"(for example {max(1, int(b) // 2)}) or a smaller model. Nothing else was affected; "
            f"you can start a new run.")
