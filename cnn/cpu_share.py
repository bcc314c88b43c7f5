"""Sharing the CPU: how many threads a CPU training run uses, and predictions before training.

One place decides a CPU run's thread count (`TrainingThreads`, one per run):

- **A container.** torch counts the host's cores; the process starts on the CPUs it may use
  (`cnn.cpu_count.usable_cpus`: its CPU set, capped by a cgroup quota) instead.
- **Other processes.** OpenMP's threads wait for each other at every operation, so a run with as
  many threads as cores, beside another busy process (a software-rendered browser), loses a core's
  timeslices at every barrier: on the 2-core VM, mnist_fast trained in 25 s on 2 threads against
  12 s on 1 beside one busy-looping process (7 s on 2 threads on a quiet machine). So, over windows
  of about a second, the run reads how much CPU other processes used (/proc/stat's busy time minus
  this process's own, `read_sample`) and trains on the cores left (`next_threads`): at least one,
  never more than the caller's torch.get_num_threads(), with hysteresis so it does not flap.
- **Predictions in this process.** Serving code runs inside `serving()`; between two steps a
  training run checks `SERVING.busy()` and, while predictions are in flight, waits for them
  (up to YIELD_SECONDS per step: "yield") and/or trains on one thread ("threads", the default; a run
  already on one thread, as when N runs share the cores, waits instead) (PRIORITIES).

- **Other runs in this process.** N CPU runs at once (the app's --max-runs) each train on an equal
  share of the cores (`thread_share`), set in the run's own thread (`run_threads`). torch's thread
  count is per OS thread, but a thread started later begins with the last count any thread set, so
  a run puts the process's count back when it ends: nothing it set reaches another run, the next
  thread Gradio starts, or a prediction.

- **The operating system's scheduler.** A CPU run's own thread (and the threads its operations start)
  runs at a lower priority (`background_priority`: nice RUN_NICE), so that the threads answering
  requests, and the rest of the machine, get a core first, at any time in a request (upload, queue,
  answer), not only while its model runs. Alone on the machine a run still takes every idle core.

$CNN_ADAPT_THREADS=0 turns the first off (a fixed thread count, for comparisons); $CNN_SERVING_PRIORITY
picks the second; $CNN_RUN_NICE sets the last (0: off). CUDA runs are left alone."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from dataclasses import dataclass

import torch

from .cpu_count import usable_cpus

DROP_BELOW = 0.5  # fewer threads when the free cores are this far below the thread count ...
RAISE_ABOVE = 0.75  # ... more when they are this far above it (the band between is the hysteresis)
RAISE_WINDOWS = 2  # and more only after this many windows in a row say so (one says fewer: a run
# on too many threads loses more than one on too few)
WINDOW_SECONDS = 0.8  # the shortest window the decision is made on (the ticks are 10 ms)
SETTLE_SECONDS = 0.15  # the shortest window for the first decision, before the run's first step
YIELD_SECONDS = 0.05  # the longest a step waits for predictions in flight, so training still moves
PROCESS_THREADS = min(torch.get_num_threads(), usable_cpus())  # the process's count, before any run set its own
if torch.get_num_threads() > PROCESS_THREADS:  # a container's CPU set or quota: no more threads than may run
    torch.set_num_threads(PROCESS_THREADS)
PRIORITIES = ("both", "yield", "threads", "none")  # what a run does while predictions are in flight
# bench/serving_under_training.py: the same p95 for 16 clients as the others (within noise), and
# about twice "yield"'s training while they are served (docs/performance-load.md)
DEFAULT_PRIORITY = "threads"
RUN_NICE = 10  # a CPU run's thread's niceness (0-19; higher yields more; bench/train_api_load.py --nice)


@dataclass(frozen=True)
class CpuSample:
    """A reading of the machine's CPU time: all cores' busy seconds and this process's own."""

    wall: float  # time.monotonic()
    busy: float  # CPU-seconds the machine's cores were busy (user, nice, system, irq, softirq)
    own: float  # CPU-seconds this process used (all its threads)
    cores: int


def parse_proc_stat(text: str) -> tuple[float, int]:
    """(busy CPU-seconds of all cores, number of cores) from the text of /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    lines = text.splitlines()
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in lines[0].split()[1:8])
    cores = sum(1 for line in lines[1:] if line.startswith("cpu") and line[3:4].isdigit())
    return (user + nice + system + irq + softirq) / ticks, max(1, cores)


def read_sample() -> CpuSample | None:
    """The machine's CPU time now; None where there is no /proc/stat (not Linux)."""
    try:
        with open("/proc/stat") as f:
            busy, cores = parse_proc_stat(f.read())
    except (OSError, ValueError, IndexError):
        return None
    t = os.times()
    return CpuSample(time.monotonic(), busy, t.user + t.system, cores)


def others_cores(a: CpuSample, b: CpuSample) -> float:
    """How many cores other processes kept busy, on average, between two samples."""
    wall = b.wall - a.wall
    return max(0.0, (b.busy - a.busy) - (b.own - a.own)) / wall if wall > 0 else 0.0


def next_threads(threads: int, ceiling: int, cores: int, others: float, raise_streak: int) -> tuple[int, int]:
    """(the thread count for the next window, the updated count of windows in a row that asked for
    more). Fewer at once when the free cores fall DROP_BELOW under the thread count; more after
    RAISE_WINDOWS windows RAISE_ABOVE over it; never under 1 or over `ceiling`."""
    free = cores - others
    if threads > 1 and free < threads - DROP_BELOW:
        return max(1, min(ceiling, math.floor(free + 0.5))), 0
    if threads < ceiling and free > threads + RAISE_ABOVE:
        if raise_streak + 1 >= RAISE_WINDOWS:
            return max(1, min(ceiling, math.floor(free + 0.25))), 0
        return threads, raise_streak + 1
    return threads, 0


class ServingGate:
    """How many predictions this process is serving now; a training run waits on it."""

    def __init__(self) -> None:
        self._n = 0
        self._clear = threading.Condition()

    @contextlib.contextmanager
    def serving(self):
        with self._clear:
            self._n += 1
        try:
            yield
        finally:
            with self._clear:
                self._n -= 1
                if self._n == 0:
                    self._clear.notify_all()

    def busy(self) -> bool:
        return self._n > 0

    def wait_clear(self, timeout: float) -> None:
        """Until no prediction is in flight, or `timeout` seconds."""
        with self._clear:
            self._clear.wait_for(lambda: self._n == 0, timeout)


SERVING = ServingGate()
serving = SERVING.serving  # `with serving(): ...` around the work of one prediction


def adapt_default() -> bool:
    return os.environ.get("CNN_ADAPT_THREADS", "1").strip().lower() not in ("0", "false", "no", "off")


def priority_default() -> str:
    p = os.environ.get("CNN_SERVING_PRIORITY", DEFAULT_PRIORITY).strip().lower()
    return p if p in PRIORITIES else DEFAULT_PRIORITY


class TrainingThreads:
    """The thread count of one CPU training run (see the module docstring). Made when the run
    starts, in the training thread; `close` restores the caller's count."""

    def __init__(
        self,
        device: torch.device,
        adapt: bool | None = None,
        priority: str | None = None,
        gate: ServingGate = SERVING,
        reader=read_sample,
    ):
        self.active = device.type == "cpu"
        self.ceiling = torch.get_num_threads()
        self.adapt = self.active and self.ceiling > 1 and (adapt_default() if adapt is None else adapt)
        self.priority = priority or priority_default()
        self.gate, self.reader = gate, reader
        self.governed = self.applied = self.ceiling  # the governor's count; the count in force
        self.others = 0.0  # other processes' cores in the last decided window
        self._streak = 0
        self.steps_on: dict[int, int] = {}  # thread count -> steps trained on it
        self._sample = reader() if self.adapt else None
        self.adapt = self._sample is not None

    @property
    def threads(self) -> int | None:
        """The governor's thread count (None off the CPU); one, while predictions are in flight,
        with the "both" and "threads" priorities."""
        return self.governed if self.active else None

    def settle(self) -> int:
        """The first decision, before the run's first step and the timing of its CPU modes (so
        they are timed at the count training starts with): over the time since the run began, or
        SETTLE_SECONDS if that was shorter."""
        if self.adapt:
            wait = SETTLE_SECONDS - (time.monotonic() - self._sample.wall)
            if wait > 0:
                time.sleep(wait)
            self.window(min_seconds=0.0)
        return self.applied

    def window(self, min_seconds: float = WINDOW_SECONDS) -> None:
        """At a log step: decide again once the window since the last decision is long enough."""
        if not self.adapt:
            return
        now = self.reader()
        if now is None or now.wall - self._sample.wall < min_seconds:
            return
        self.others = others_cores(self._sample, now)
        self.governed, self._streak = next_threads(self.governed, self.ceiling, now.cores, self.others, self._streak)
        self._sample = now
        self._apply(self.governed)

    def before_step(self) -> None:
        """Predictions first: while they are in flight, wait for them and/or use one thread."""
        if not self.active:
            return
        n = self.governed
        if self.gate.busy() and self.priority != "none":
            # "threads" yields too when the run is already on one thread (N runs sharing the cores):
            # one thread fewer is then not possible, and the predictions would wait for the step
            if self.priority in ("both", "yield") or (self.priority == "threads" and n == 1):
                self.gate.wait_clear(YIELD_SECONDS)
            if self.priority in ("both", "threads") and self.gate.busy():
                n = 1
        self._apply(n)
        self.steps_on[n] = self.steps_on.get(n, 0) + 1

    def _apply(self, n: int) -> None:
        if n != self.applied:
            torch.set_num_threads(n)
            self.applied = n

    def close(self) -> None:
        if self.active:
            self._apply(self.ceiling)


@contextlib.contextmanager
def free_threads(window: float = 0.1):
    """For a few seconds of serving work beyond one image (a probe: cnn.serving.feature_vis), the cores
    no other process used over a short window: at least one, at most the process's count; set in this
    thread and put back after. (Training in this process yields to it: call it inside `serving()`.)
    On the quiet 2-core VM two threads draw 16 channels 1.9x faster than one; beside busy processes,
    one is faster (bench/feature_vis_speed.py)."""
    a = read_sample()
    time.sleep(window)
    b = read_sample()
    free = PROCESS_THREADS - (others_cores(a, b) if a is not None and b is not None else 0.0)
    n = max(1, min(PROCESS_THREADS, int(free + 0.5)))
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(prev)


def thread_share(runs: int, cores: int = PROCESS_THREADS) -> int:
    """The threads of one CPU run while `runs` train at once: an equal share of the cores, at least one."""
    return max(1, cores // max(1, runs))


def run_nice_default() -> int:
    value = os.environ.get("CNN_RUN_NICE", "").strip()
    return max(0, min(19, int(value))) if value else RUN_NICE


def background_priority(nice: int | None = None) -> bool:
    """Lower the calling thread's scheduling priority by `nice` (default run_nice_default()): call it
    first in a thread of its own that ends with its work, since an unprivileged process cannot raise
    a priority again. On Linux a thread's niceness is its own and the threads it starts (torch's
    OpenMP pool) inherit it. True when it was lowered; elsewhere (or 0) nothing happens."""
    nice = run_nice_default() if nice is None else nice
    if nice <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:  # not allowed here: the run trains at the normal priority
        return False
    return True


@contextlib.contextmanager
def run_threads(n: int):
    """The calling thread trains on n threads; afterwards the process's count is the one a new
    thread starts with again (see the module docstring)."""
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(PROCESS_THREADS)
