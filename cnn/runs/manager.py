"""The app's scheduler of training runs: every run of the process (Train, Teach, continue training,
the /train API) goes through it (see cnn.runs)."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import traceback
import uuid
from collections import deque
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..cpu_share import PROCESS_THREADS, background_priority, run_threads, thread_share
from ..data import Dataset, load_dataset, resolve_data_dir
from ..data.normalize import Normalizer
from ..data.sources import NAMED_SOURCES, checked_folder, named_source
from ..errors import CnnError, DataError
from ..evaluation import Augmentation, EvalPlan, evaluate
from ..hardware import describe, pick_device
from ..owners import foreign, owner_folder
from ..projects import plan, project_folder
from ..projects.store import PROJECTS_FOLDER
from ..projects.teaching import TEACH
from ..training import End, EpochEnd, RunStatus, Snapshot, Start, Step, Watch, train
from ..training.warmup import warm_up
from .config import RunConfig
from .keeping import checkpoint_path, continued_from, open_record, panel
from .run import Run

log = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = Path("checkpoints") / "runs"
WATCH_EVERY_S = 3.0  # the live panel's snapshot, between epoch ends (bench/watch_overhead.py: its cost)
MAX_WAITING = 64  # runs waiting at once, all people together; one more is refused with a message
TEACH_THREADS = 1  # a Teach run's CPU threads: batches of 16 small images gain nothing from more,
# and on a busy CPU more were 10x slower (the Teach tab's own thread measured it before the scheduler)
# A waiting run's estimated length, before a run of its model has finished here: images/s by device
# type (mnist_fast on the 2-core VM trains at about 2,500 images/s; a GPU far faster), plus the
# seconds of loading its data. Once a run of a model finishes, its own rate is used instead.
GUESS_IMAGES_PER_S = {"cpu": 2000.0, "mps": 8000.0, "cuda": 20000.0}
LOAD_S = 3.0
TRAIN_IMAGES = {"mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000}  # a folder: FOLDER_IMAGES
FOLDER_IMAGES = 5000


class RunBusy(CnnError):
    """This person already has a run waiting or training, or the queue is full."""


class RunManager:
    """The scheduler of every training run in this process: up to `max_runs` train at once, the
    rest wait in the order they were asked for and start by themselves at their turn. One person
    (a session, or a login `owner`) has at most one run waiting or training; only that person can
    cancel or stop it. Each CPU run trains on its share of the cores (cnn.cpu_share.thread_share),
    set in its own thread and put back when it ends. `_execute(run, recipe)` trains one run."""

    def __init__(
        self,
        runs_dir: str | Path = DEFAULT_RUNS_DIR,
        data_dir: str | Path | None = None,
        allow_any_path: bool = False,
        device: str | None = None,
        protected: tuple = (),
        stop_unwatched_after: float | None = None,
        max_runs: int = 1,
    ):
        """stop_unwatched_after: a run that a page started (one started with a session) and no page
        has looked at (Run.viewed) for this many seconds leaves the queue if it waits, or stops,
        keeping its weights, if it trains; None: runs go on until they end or are stopped.
        max_runs: how many runs train at once (the others wait)."""
        if int(max_runs) < 1:
            raise ValueError("max_runs must be at least 1")
        self.runs_dir = Path(runs_dir)
        self.tensorboard_dir = self.runs_dir / "tensorboard"  # a run with config.tensorboard writes here
        self.stop_unwatched_after = stop_unwatched_after
        self.data_dir = data_dir
        self.allow_any_path = allow_any_path
        self.device = device
        self.max_runs = int(max_runs)
        self.protected = tuple(Path(p).resolve() for p in protected)  # shipped checkpoints
        self._lock = threading.Lock()
        self._current: Run | None = None  # the run asked for last (any person's)
        self._training: list[Run] = []
        self._waiting: deque[tuple[Run, object]] = deque()  # (run, its checked recipe), first come first
        self._latest: dict[tuple[str, str], Run] = {}  # ("session"|"owner", who) -> their latest run
        self._rates: dict[str, float] = {}  # model -> images/s its last finished run trained at here
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
        """The run asked for last, whoever asked (a page shows `run_for` its own person instead)."""
        return self._current

    def device_name(self) -> str:
        """The training device in words (on the CPU, with the process's thread count)."""
        device = pick_device(self.device)
        if device.type == "cpu":
            return f"cpu ({PROCESS_THREADS} thread{'s' if PROCESS_THREADS != 1 else ''})"
        return describe(device)

    def device_type(self) -> str:
        """'cuda', 'mps' or 'cpu': the kind of device runs train on."""
        return pick_device(self.device).type

    def runs_dir_for(self, owner: str | None) -> Path:
        """Where owner's runs are kept: <runs_dir>/users/<owner>/ with logins, runs_dir without."""
        return owner_folder(self.runs_dir, owner)

    # ------------------------------------------------------------ asking, cancelling, stopping

    def start(self, config: RunConfig, session: str | None = None, owner: str | None = None) -> Run:
        """Queue a run for the person on `session` (a page or API client) or login `owner`: it
        trains at once when fewer than max_runs train, else it waits (RunStatus.QUEUED) and starts
        by itself at its turn. Bad settings raise ConfigError/DataError before anything is queued;
        a second run of the same person, or a full queue, raises RunBusy."""
        recipe = config.checked()  # bad settings are refused before anything starts
        self._check_data(config, owner)
        with self._lock:
            mine = self._active_of(session, owner)
            if mine is not None:
                raise RunBusy(_busy_message(mine, self._place(mine)))
            if len(self._training) >= self.max_runs and len(self._waiting) >= MAX_WAITING:
                raise RunBusy(f"{MAX_WAITING} runs are already waiting; try again when some have ended.")
            run = Run(uuid.uuid4().hex[:8], config, session, self._device_of(config), recipe=recipe, owner=owner)
            if self._current is not None and self._current.done:
                _release(self._current)
            self._current = run
            for key in (("session", session), ("owner", owner)):
                if key[1] is not None:
                    self._latest[key] = run
            begin = len(self._training) < self.max_runs
            if begin:
                self._training.append(run)
            else:
                run.status = RunStatus.QUEUED
                self._waiting.append((run, recipe))
        if begin:
            self._launch(run, recipe)
        if self.stop_unwatched_after is not None and session is not None:  # a run a page started
            threading.Thread(target=self._watch, args=(run,), name=f"watch-{run.id}", daemon=True).start()
        return run

    def _foreign(self, folder: Path, owner: str | None) -> bool:
        """With logins, another user's projects and runs are no folder to train on (refused in the
        words of a folder that is not there, so that their names do not leak)."""
        roots = (resolve_data_dir(self.data_dir) / PROJECTS_FOLDER, self.runs_dir)
        return any(foreign(folder, root, owner) for root in roots)

    def cancel(self, session: str | None = None, owner: str | None = None) -> bool:
        """Take the waiting run of that person out of the queue (CANCELLED); False when they have none."""
        with self._lock:
            for run, _ in self._waiting:
                if run.belongs_to(session, owner):
                    self._drop(run, "Cancelled: it left the queue before its turn.")
                    return True
        return False

    def stop(self, session: str | None = None, owner: str | None = None) -> bool:
        """Stop the training run of that person (it ends after its current step, keeping its weights)
        or cancel their waiting one; False when they have neither. With nobody named (the process
        itself: tests, shutdown), stop every run and empty the queue."""
        if session is None and owner is None:
            with self._lock:
                for run, _ in list(self._waiting):
                    self._drop(run, "Cancelled: the app stopped every run.")
                training = list(self._training)
            for run in training:
                run.stop()
            return bool(training)
        if self.cancel(session, owner):
            return True
        with self._lock:
            run = next((r for r in self._training if r.belongs_to(session, owner)), None)
        if run is None or run.done:
            return False
        run.stop()
        return True

    def run_for(self, session: str | None = None, owner: str | None = None) -> Run | None:
        """The run a page of this person shows: the one waiting or training, else their latest."""
        with self._lock:
            mine = self._active_of(session, owner)
            if mine is not None:
                return mine
            latest = [self._latest.get(k) for k in (("session", session), ("owner", owner)) if k[1] is not None]
            latest = [r for r in latest if r is not None]
            return max(latest, key=lambda r: r.started_at) if latest else None

    def active(self) -> list[Run]:
        """The runs training, then those waiting in their order."""
        with self._lock:
            return list(self._training) + [r for r, _ in self._waiting]

    def place(self, run: Run) -> int:
        """How many runs must end before this one starts: 0 once it trains (or has ended); for a
        waiting run, the runs waiting before it plus one (the place that must come free)."""
        with self._lock:
            return self._place(run)

    def estimated_wait(self, run: Run) -> float:
        """Seconds until this run starts, about: the runs training end at their ETA, and each run
        waiting before it then trains for its estimated length (`estimated_length`). 0 once it trains."""
        with self._lock:
            if run.status != RunStatus.QUEUED:
                return 0.0
            free = sorted(self._remaining(r) for r in self._training)
            free = [0.0] * (self.max_runs - len(free)) + free
            for ahead, _ in self._waiting:
                t = free.pop(0)
                if ahead is run:
                    return t
                free = sorted([*free, t + self.estimated_length(ahead.config)])
            return 0.0

    def estimated_length(self, config: RunConfig) -> float:
        """Seconds a run of these settings trains for here, about (its images x epochs at the rate
        its model trained at here last, or GUESS_IMAGES_PER_S)."""
        if config.project is not None:
            kind = "photos" if "photo" in config.recipe else "drawings"
            images = TEACH[kind]["steps"] * config.batch_size
        else:
            n = config.train_subset or TRAIN_IMAGES.get(named_source(config.dataset) or "", FOLDER_IMAGES)
            images = float(config.epochs) * n
        rate = self._rates.get(config.model) or GUESS_IMAGES_PER_S.get(self.device_type(), 2000.0)
        return LOAD_S + images / rate

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until no run trains or waits (or timeout seconds): whether that happened."""
        end = time.time() + timeout
        while time.time() < end:
            with self._lock:
                if not self._training and not self._waiting:
                    return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------ the queue

    def _check_data(self, config: RunConfig, owner: str | None = None) -> None:
        """A folder that is not there, or not allowed (another user's: `_foreign`), is
        refused before the run is queued."""
        if named_source(config.dataset) is not None:
            return
        where = str(config.dataset).strip()
        if config.project is not None:
            folder = project_folder(where, self.data_dir, self.allow_any_path)
            if folder is None or self._foreign(folder, owner):
                raise DataError(f"There is no project at {where}.")
            return
        folder = checked_folder(where, resolve_data_dir(self.data_dir), self.allow_any_path)
        if self._foreign(folder, owner):
            raise DataError(
                f"The folder {folder} does not exist. Check the path, or use one of {', '.join(NAMED_SOURCES)}."
            )

    def _active_of(self, session: str | None, owner: str | None) -> Run | None:
        for run in [*self._training, *(r for r, _ in self._waiting)]:
            if not run.done and run.belongs_to(session, owner):  # (an ended run leaves _training next)
                return run
        return None

    def _place(self, run: Run) -> int:
        for i, (r, _) in enumerate(self._waiting):
            if r is run:
                return i + 1
        return 0

    def _remaining(self, run: Run) -> float:
        """Seconds a training run still needs, about: its ETA once it has one."""
        if run.steps:
            return max(0.0, run.steps[-1].eta)
        return max(0.0, self.estimated_length(run.config) - (time.time() - run.started_at))

    def _drop(self, run: Run, message: str) -> None:
        """Out of the queue, CANCELLED (hold the lock)."""
        self._waiting = deque((r, rec) for r, rec in self._waiting if r is not run)
        run.message, run.status = message, RunStatus.CANCELLED
        run._touch()
        for r, _ in self._waiting:
            r._touch()  # their place changed

    def _launch(self, run: Run, recipe) -> None:
        """The run's turn: it trains in a thread of its own (`_execute`), then the next one starts."""
        run.status, run.started_at = RunStatus.LOADING, time.time()
        run.viewed()  # its wait does not count as unwatched time
        run._touch()
        threading.Thread(target=self._train, args=(run, recipe), name=f"train-{run.id}", daemon=True).start()

    def _threads_of(self, config: RunConfig) -> int:
        """The CPU threads a run trains on: its share of the cores (a Teach run: TEACH_THREADS)."""
        return TEACH_THREADS if config.project is not None else thread_share(self.max_runs)

    def _device_of(self, config: RunConfig) -> str:
        """The device a run trains on, in words: 'cpu (1 thread)' with the run's own share."""
        if self.device_type() != "cpu":
            return self.device_name()
        n = self._threads_of(config)
        return f"cpu ({n} thread{'s' if n != 1 else ''})"

    def _train(self, run: Run, recipe) -> None:
        """The run's own thread (it ends with the run)."""
        threads, cpu = self._threads_of(run.config), self.device_type() == "cpu"
        if cpu:
            background_priority()  # requests are answered first (cnn.cpu_share)
        try:
            with run_threads(threads) if cpu else contextlib.nullcontext():
                self._execute(run, recipe)
        finally:
            self._finished(run)

    def _finished(self, run: Run) -> None:
        """A run ended: learn its rate, then the runs waiting take the places come free, in order."""
        if run.status == RunStatus.FINISHED and run.steps and run.steps[-1].images_per_s:
            self._rates[run.config.model] = run.steps[-1].images_per_s
        begin = []
        with self._lock:
            if run is not self._current:
                _release(run)
            if run in self._training:
                self._training.remove(run)
            while self._waiting and len(self._training) < self.max_runs:
                nxt, recipe = self._waiting.popleft()
                self._training.append(nxt)
                begin.append((nxt, recipe))
            for r, _ in self._waiting:
                r._touch()  # their place changed
        for nxt, recipe in begin:
            self._launch(nxt, recipe)

    def _watch(self, run: Run) -> None:
        """Once no page has looked at the run for stop_unwatched_after seconds: out of the queue if it
        waits, else stopped (read each time: it may change while the run goes; None stops the watch)."""
        while not run.done and not run.stop_event.is_set():
            limit = self.stop_unwatched_after
            if limit is None:
                return
            if time.monotonic() - run.last_viewed > limit:
                with self._lock:
                    if run.status == RunStatus.QUEUED:
                        self._drop(run, f"No page showed the waiting run for {limit:g} s, so it left the queue.")
                        return
                run.note = f"No page showed the run for {limit:g} s, so it stopped."
                run.stop()
                return
            time.sleep(min(1.0, limit / 4))

    # ------------------------------------------------------------ training one run

    def _execute(self, run: Run, recipe) -> None:
        """Train one run to its end (its turn has come): load its data, train, test kept weights,
        save the checkpoint and its log; every failure ends it FAILED with a message."""
        path, record = checkpoint_path(self.runs_dir_for(run.owner), run), None
        try:
            if path.resolve() in self.protected:  # cannot happen with these names; belt and braces
                raise DataError(f"Refusing to overwrite the shipped checkpoint {path}.")
            record = open_record(run, path, self.runs_dir_for(run.owner) / "tensorboard", recipe)
            data, recipe, init_state, extra = self._prepare(run, recipe)
            run.recipe = recipe
            run.panel_images, run.panel_labels = panel(data.test, len(data.classes))
            watch = Watch(run.panel_images, WATCH_EVERY_S) if run.config.project is None else None
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
            end.metadata.update(extra)
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


def _release(run: Run) -> None:
    """An ended run's training images go (every person's last run is kept, for their page: its test
    split, evaluation and curves stay); the run asked for last keeps them (benchmarks read them)."""
    if run.data is not None:
        run.data.train = None


def _busy_message(run: Run, place: int) -> str:
    what = (
        f"{run.config.model} on {Path(str(run.config.dataset)).name}"
        if run.config.project is None
        else (f"teaching {run.config.project}")
    )
    where = f"waiting, {place} ahead of it" if run.status == RunStatus.QUEUED else "training"
    return (
        f"You already have a run {where} ({what}). One run per person at a time: wait for it to end, "
        f"or stop it (Stop) first."
    )


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
