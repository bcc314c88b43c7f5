"""The app's scheduler of training runs (`RunManager`): every run of the process (Train, Teach,
continue training, the /train API) goes through it. It decides what is fair (the queue, the places,
one run per person, who may stop what, the limits) and hands each run whose turn has come to its
executor (cnn.runs.executor: what a run does), in a thread of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, deque
from pathlib import Path

from ..cpu_share import thread_share
from ..errors import CnnError
from ..owners import owner_folder
from ..training import RunStatus
from .access import admit, check_dataset
from .config import RunConfig
from .estimates import estimated_length, wait_before
from .executor import LocalExecutor
from .limits import NO_LIMITS, RunLimits
from .run import Run

DEFAULT_RUNS_DIR = Path("checkpoints") / "runs"
MAX_WAITING = 64  # runs waiting at once, all people together; one more is refused with a message
LATEST_KEPT = 256  # people whose last ended run a page can still show (the oldest go first)
TEACH_THREADS = 1  # a Teach run's CPU threads: batches of 16 small images gain nothing from more,
# and on a busy CPU more were 10x slower (the Teach tab's own thread measured it before the scheduler)
TRAINING_STATES = (RunStatus.LOADING, RunStatus.WARMING_UP, RunStatus.TRAINING)  # the time limit counts these


class RunBusy(CnnError):
    """This person already has a run waiting or training, or the queue is full."""


class RunManager:
    """The scheduler of every training run in this process: up to `max_runs` train at once, the
    rest wait in the order they were asked for and start by themselves at their turn. One person
    (a session, or a login `owner`) has at most one run waiting or training; only that person can
    cancel or stop it. `executor` trains each run (default: cnn.runs.executor.LocalExecutor)."""

    def __init__(
        self,
        runs_dir: str | Path = DEFAULT_RUNS_DIR,
        data_dir: str | Path | None = None,
        allow_any_path: bool = False,
        device: str | None = None,
        protected: tuple = (),
        stop_unwatched_after: float | None = None,
        max_runs: int = 1,
        executor=None,
        limits: RunLimits = NO_LIMITS,
    ):
        """stop_unwatched_after: a run that a page started (one started with a session) and no page
        has looked at (Run.viewed) for this many seconds leaves the queue if it waits, or stops,
        keeping its weights, if it trains; None: runs go on until they end or are stopped.
        max_runs: how many runs train at once (the others wait)."""
        if int(max_runs) < 1:
            raise ValueError("max_runs must be at least 1")
        self.runs_dir = Path(runs_dir)
        self.data_dir, self.allow_any_path = data_dir, allow_any_path
        self.executor = executor or LocalExecutor(data_dir, allow_any_path, device, protected)
        self.stop_unwatched_after, self.max_runs, self.limits = stop_unwatched_after, int(max_runs), limits
        self._lock = threading.Lock()
        self._current: Run | None = None  # the run asked for last (any person's)
        self._training: list[Run] = []
        self._waiting: deque[tuple[Run, object]] = deque()  # (run, its checked recipe), first come first
        self._latest: OrderedDict[tuple, Run] = OrderedDict()  # (kind, who, teach?) -> their latest run
        self._rates: dict[str, float] = {}  # model -> images/s its last finished run trained at here

    def warm_up_in_background(self) -> None:
        """Let the executor pay its device's one-time costs while nobody waits."""
        self.executor.warm_up_in_background(self.max_runs)

    @property
    def current(self) -> Run | None:
        """The run asked for last, whoever asked (a page shows `run_for` its own person instead)."""
        return self._current

    def device_name(self) -> str:
        return self.executor.device_name()

    def device_type(self) -> str:
        return self.executor.device_type()

    def runs_dir_for(self, owner: str | None) -> Path:
        """Where owner's runs are kept: <runs_dir>/users/<owner>/ with logins, runs_dir without."""
        return owner_folder(self.runs_dir, owner)

    # ------------------------------------------------------------ asking, cancelling, stopping

    def start(
        self, config: RunConfig, session: str | None = None, owner: str | None = None, person: str | None = None
    ) -> Run:
        """Queue a run for the person on `session` (a page or API client) or login `owner`: it
        trains at once when fewer than max_runs train, else it waits (RunStatus.QUEUED) and starts
        by itself at its turn. Bad settings, or settings beyond the limits, raise ConfigError or
        DataError before anything is queued; a second run of the same person, or a full queue,
        raises RunBusy. person: who holds the place beyond the session or owner (a client address:
        one address, one run, however many sessions it opens)."""
        recipe = config.checked()  # bad settings are refused before anything starts
        admit(config, owner, self.limits, self.data_dir, self.allow_any_path, self.runs_dir)
        self.limits.check_kept(len(list(self.runs_dir_for(owner).glob("*.safetensors"))))
        with self._lock:
            mine = self._active_of(session, owner) or self._active_of_person(person)
            if mine is not None:
                raise RunBusy(_busy_message(mine, self._place(mine)))
            if len(self._training) >= self.max_runs and len(self._waiting) >= MAX_WAITING:
                raise RunBusy(f"{MAX_WAITING} runs are already waiting; try again when some have ended.")
            device = self.executor.device_name(self._threads_of(config))
            run = Run(uuid.uuid4().hex[:8], config, session, device, recipe=recipe, owner=owner, person=person)
            if self._current is not None and self._current.done:
                _release(self._current)
            self._current = run
            self._remember(run)
            begin = len(self._training) < self.max_runs
            if begin:
                self._begin(run)
            else:
                run.status = RunStatus.QUEUED
                self._waiting.append((run, recipe))
        if begin:
            self._launch(run, recipe)
        threading.Thread(target=self._watch, args=(run,), name=f"watch-{run.id}", daemon=True).start()
        return run

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
            return self.stop_run(None, "Cancelled: the app stopped every run.")
        with self._lock:
            run = self._active_of(session, owner)
        return run is not None and self.stop_run(run)

    def stop_run(self, run: Run | None, message: str = "Cancelled: it left the queue before its turn.") -> bool:
        """Stop one run whoever it belongs to (a teacher's panel, the process), or every run (None):
        a waiting one leaves the queue with `message`, a training one stops, keeping its weights."""
        with self._lock:
            waiting = [r for r, _ in self._waiting if run is None or r is run]
            for r in waiting:
                self._drop(r, message)
            training = [r for r in self._training if (run is None or r is run) and not r.done]
        for r in training:
            r.stop()
        return bool(waiting or training)

    def run_for(self, session: str | None = None, owner: str | None = None, teach: bool | None = None) -> Run | None:
        """The run a page of this person shows: the one waiting or training, else their latest;
        teach False or True: of the Train tab's runs or the Teach tab's only (None: either)."""
        with self._lock:
            mine = self._active_of(session, owner)
            if mine is not None and (teach is None or _is_teach(mine) == teach):
                return mine
            who = ("owner", owner) if owner is not None else ("session", session)
            kinds = (False, True) if teach is None else (teach,)
            latest = [self._latest.get((*who, t)) for t in kinds] if who[1] is not None else []
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
        """Seconds until this run starts, about (cnn.runs.estimates); 0 once it trains."""
        with self._lock:
            if run.status != RunStatus.QUEUED:
                return 0.0
            ahead = [r for r, _ in self._waiting]
            ahead = ahead[: ahead.index(run)] if run in ahead else ahead
            remaining = [self._remaining(r) for r in self._training]
            return wait_before(remaining, [self.estimated_length(r.config) for r in ahead], self.max_runs)

    def estimated_length(self, config: RunConfig) -> float:
        """Seconds a run of these settings trains for here, about."""
        return estimated_length(config, self._rates.get(config.model), self.device_type())

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

    def check_readable(self, dataset: str, owner: str | None) -> None:
        """Refuse a data set a run or checkpoint names that this owner may not train on either
        (another user's folder, in the words of one that is not there)."""
        check_dataset(dataset, owner, self.data_dir, self.allow_any_path, self.runs_dir)

    def _remember(self, run: Run) -> None:
        """The person's latest run of its tab (Train or Teach), for their page; the oldest people's
        go past LATEST_KEPT (hold the lock)."""
        who = ("owner", run.owner) if run.owner is not None else ("session", run.session)
        if who[1] is None:
            return
        key = (*who, _is_teach(run))
        self._latest.pop(key, None)
        self._latest[key] = run
        while len(self._latest) > LATEST_KEPT:
            self._latest.popitem(last=False)

    def _active_of(self, session: str | None, owner: str | None) -> Run | None:
        for run in [*self._training, *(r for r, _ in self._waiting)]:
            if not run.done and run.belongs_to(session, owner):  # (an ended run leaves _training next)
                return run
        return None

    def _active_of_person(self, person: str | None) -> Run | None:
        if person is None:
            return None
        runs = [*self._training, *(r for r, _ in self._waiting)]
        return next((r for r in runs if r.person == person and not r.done), None)

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

    def _begin(self, run: Run) -> None:
        """The run's turn (hold the lock): training from now on, so a cancel finds it there and stops
        it (its executor then ends it before training) instead of missing it between two states."""
        self._training.append(run)
        run.status, run.started_at = RunStatus.LOADING, time.time()
        run.viewed()  # its wait does not count as unwatched time

    def _launch(self, run: Run, recipe) -> None:
        """The run trains in a thread of its own (its executor), then the next one starts."""
        run._touch()
        threading.Thread(target=self._train, args=(run, recipe), name=f"train-{run.id}", daemon=True).start()

    def _threads_of(self, config: RunConfig) -> int:
        """The CPU threads a run trains on: its share of the cores (a Teach run: TEACH_THREADS)."""
        return TEACH_THREADS if config.project is not None else thread_share(self.max_runs)

    def _train(self, run: Run, recipe) -> None:
        """The run's own thread (it ends with the run)."""
        try:
            self.executor.execute(run, recipe, self.runs_dir_for(run.owner), self._threads_of(run.config))
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
                self._begin(nxt)
                begin.append((nxt, recipe))
            for r, _ in self._waiting:
                r._touch()  # their place changed
        for nxt, recipe in begin:
            self._launch(nxt, recipe)

    def _watch(self, run: Run) -> None:
        """Until the run ends: stopped at the time limit (limits.max_seconds), and, for a run a page
        started, out of the queue or stopped once no page has looked at it for stop_unwatched_after
        seconds (read each time: it may change while the run goes)."""
        if run.session is None and self.limits.max_seconds is None:
            return  # nothing to watch for (a limit set later applies to the runs started after)
        while not run.done and not run.stop_event.is_set():
            limit, cap = self.stop_unwatched_after, self.limits.max_seconds
            if run.session is not None and limit is not None and time.monotonic() - run.last_viewed > limit:
                with self._lock:
                    if run.status == RunStatus.QUEUED:
                        self._drop(run, f"No page showed the waiting run for {limit:g} s, so it left the queue.")
                        return
                run.note = f"No page showed the run for {limit:g} s, so it stopped."
                run.stop()
                return
            if cap is not None and run.status in TRAINING_STATES and time.time() - run.started_at > cap:
                run.note = f"It reached this app's limit of {cap / 60:g} min a run (--max-run-minutes), so it stopped."
                run.stop()
                return
            time.sleep(0.25 if limit is None else min(1.0, limit / 4))


def _is_teach(run: Run) -> bool:
    return run.config.project is not None


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
