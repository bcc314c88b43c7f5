"""cnn.cpu_share: the thread count of a CPU training run follows the CPU other processes leave
free, and predictions in flight come before training steps. The decisions are tested on real
/proc/stat readings (only the reading itself is replaced, to play a busy or a quiet machine); one
test starts a real busy-looping process beside a real run."""

import os
import subprocess
import sys
import threading
import time

import pytest
import torch
from app_helpers import missing

from cnn import cpu_share
from cnn.cpu_share import (
    CpuSample,
    ServingGate,
    TrainingThreads,
    next_threads,
    others_cores,
    parse_proc_stat,
    read_sample,
    run_threads,
)
from cnn.data import Dataset
from cnn.runs import Run, RunConfig
from cnn.training import train
from cnn.training.recipes import get_recipe
from ui import run_view

TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat_plus(text: str, busy_ticks: int) -> str:
    """/proc/stat's text with `busy_ticks` more user time on the all-cores line."""
    lines = text.splitlines()
    f = lines[0].split()
    f[1] = str(int(f[1]) + busy_ticks)
    return "\n".join([" ".join(f), *lines[1:]])


class Machine:
    """Plays the machine to TrainingThreads: real /proc/stat text and this process's real CPU time,
    advanced by hand (wall seconds, other processes' busy cores)."""

    def __init__(self):
        self.text = open("/proc/stat").read()
        self.busy, self.cores = parse_proc_stat(self.text)
        self.own = sum(os.times()[:2])
        self.wall = time.monotonic()

    def advance(self, seconds: float, others: float, own: float = 1.0) -> None:
        """`seconds` pass; other processes keep `others` cores busy, this one `own` cores."""
        self.text = proc_stat_plus(self.text, round((others + own) * seconds * TICKS))
        self.busy, _ = parse_proc_stat(self.text)
        self.wall += seconds
        self.own += own * seconds

    def __call__(self) -> CpuSample:
        return CpuSample(self.wall, self.busy, self.own, self.cores)


@pytest.fixture()
def threads_2():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_proc_stat_is_read_from_the_real_file():
    busy, cores = parse_proc_stat(open("/proc/stat").read())
    assert cores == os.cpu_count() and busy > 0
    a = read_sample()
    deadline = time.monotonic() + 10
    while sum(os.times()[:2]) - a.own < 0.3 and time.monotonic() < deadline:  # 0.3 CPU-s of this process
        pass
    b = read_sample()
    assert b.own - a.own >= 0.3 and b.busy - a.busy >= 0.25  # all cores' busy time holds this one's
    assert 0 <= others_cores(a, b) <= cores
    assert parse_proc_stat(proc_stat_plus(open("/proc/stat").read(), 2 * TICKS))[0] >= busy + 2


def test_fewer_threads_at_once_more_only_after_two_quiet_windows():
    # 2 cores, 2 threads: one busy core elsewhere drops to 1; 0.6 of a core (inside the band) stays
    assert next_threads(2, 2, 2, others=1.0, raise_streak=0) == (1, 0)
    assert next_threads(2, 2, 2, others=0.4, raise_streak=0) == (2, 0)
    assert next_threads(1, 2, 2, others=0.6, raise_streak=0) == (1, 0)
    assert next_threads(1, 2, 2, others=0.1, raise_streak=0) == (1, 1)  # one quiet window: not yet
    assert next_threads(1, 2, 2, others=0.1, raise_streak=1) == (2, 0)
    assert next_threads(8, 8, 8, others=3.2, raise_streak=0) == (5, 0)
    assert next_threads(2, 2, 8, others=0.0, raise_streak=5) == (2, 0)  # never above the caller's count
    assert next_threads(1, 1, 2, others=2.0, raise_streak=0) == (1, 0)  # never below one


def test_a_run_follows_the_machine_and_restores_its_threads(threads_2):
    machine = Machine()
    t = TrainingThreads(torch.device("cpu"), adapt=True, reader=machine)
    assert t.threads == 2 and t.adapt
    machine.advance(0.2, others=1.1)
    assert t.settle() == 1 and torch.get_num_threads() == 1  # busy before the first step
    machine.advance(0.3, others=0.0)
    t.window()
    assert t.threads == 1  # a window shorter than WINDOW_SECONDS decides nothing
    machine.advance(1.0, others=0.05)
    t.window()
    assert t.threads == 1 and torch.get_num_threads() == 1  # the first quiet window
    machine.advance(1.0, others=0.05)
    t.window()
    assert t.threads == 2 and torch.get_num_threads() == 2  # the second
    machine.advance(1.0, others=0.9)
    t.window()
    assert t.threads == 1
    t.close()
    assert torch.get_num_threads() == 2


def test_left_alone_on_cuda_one_thread_or_when_turned_off(threads_2, monkeypatch):
    assert TrainingThreads(torch.device("cuda")).threads is None
    assert not TrainingThreads(torch.device("cuda")).adapt
    monkeypatch.setenv("CNN_ADAPT_THREADS", "0")
    assert not TrainingThreads(torch.device("cpu")).adapt
    torch.set_num_threads(1)
    monkeypatch.delenv("CNN_ADAPT_THREADS")
    assert not TrainingThreads(torch.device("cpu")).adapt  # nothing to take away from one thread


def serve_for(gate: ServingGate, seconds: float) -> threading.Thread:
    inside = threading.Event()

    def work():
        with gate.serving():
            inside.set()
            time.sleep(seconds)

    th = threading.Thread(target=work)
    th.start()
    inside.wait()
    return th


def test_a_step_waits_for_predictions_in_flight(threads_2, monkeypatch):
    monkeypatch.setattr(cpu_share, "YIELD_SECONDS", 5.0)
    gate = ServingGate()
    t = TrainingThreads(torch.device("cpu"), adapt=False, priority="yield", gate=gate)
    th = serve_for(gate, 0.3)
    t0 = time.perf_counter()
    t.before_step()
    assert 0.2 < time.perf_counter() - t0 < 3 and not gate.busy()
    th.join()
    t0 = time.perf_counter()
    t.before_step()  # nothing in flight: no wait
    assert time.perf_counter() - t0 < 0.05


def test_by_default_a_step_goes_on_at_once_on_one_thread_while_predictions_run(threads_2, monkeypatch):
    monkeypatch.delenv("CNN_SERVING_PRIORITY", raising=False)
    gate = ServingGate()
    t = TrainingThreads(torch.device("cpu"), adapt=False, gate=gate)
    assert t.priority == "threads"
    th = serve_for(gate, 0.5)
    t0 = time.perf_counter()
    t.before_step()
    assert time.perf_counter() - t0 < 0.05 and gate.busy() and torch.get_num_threads() == 1
    th.join()
    t.before_step()
    assert torch.get_num_threads() == 2 and t.steps_on == {1: 1, 2: 1}
    t.close()


def test_a_run_already_on_one_thread_waits_for_predictions_by_default(monkeypatch):
    """N runs sharing the cores each train on one thread: the default cannot take a thread away,
    so the step waits for the predictions in flight instead (at most YIELD_SECONDS)."""
    monkeypatch.delenv("CNN_SERVING_PRIORITY", raising=False)
    monkeypatch.setattr(cpu_share, "YIELD_SECONDS", 5.0)
    gate = ServingGate()
    with run_threads(1):
        t = TrainingThreads(torch.device("cpu"), adapt=False, gate=gate)
        assert t.priority == "threads" and t.threads == 1
        th = serve_for(gate, 0.3)
        t0 = time.perf_counter()
        t.before_step()
        assert 0.2 < time.perf_counter() - t0 < 3 and not gate.busy()
        th.join()
        t.close()


def test_one_thread_while_predictions_run_then_back(threads_2):
    gate = ServingGate()
    t = TrainingThreads(torch.device("cpu"), adapt=False, priority="both", gate=gate)
    th = serve_for(gate, 0.5)  # longer than YIELD_SECONDS: the step goes on, on one thread
    t.before_step()
    assert gate.busy() and torch.get_num_threads() == 1
    th.join()
    t.before_step()
    assert torch.get_num_threads() == 2
    t.close()


def test_a_busy_process_beside_a_cpu_run_takes_its_threads(mnist, threads_2):
    """A real run with a busy-looping process beside it trains on fewer threads, says so in its
    Step events, and gives the caller's thread count back at its end."""
    if len(os.sched_getaffinity(0)) < 2:
        missing("needs two cores")  # CI's machine has them: there, a skip would hide the test
    data = Dataset("mnist", mnist.classes, mnist.train.subset(10_000), mnist.test.subset(500))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        events = list(train(get_recipe("mnist_fast").replace(epochs=1), data, device="cpu"))
    finally:
        busy.kill()
        busy.wait()
    steps = [e for e in events if e.kind == "step"]
    assert events[-1].status == "finished"
    assert all(s.threads in (1, 2) for s in steps)
    assert steps[0].threads == 1, [s.threads for s in steps]
    assert torch.get_num_threads() == 2
    assert events[-1].metadata["cpu_threads"].get("1", 0) > 0
    # the app's progress line says why the speed changed
    run = Run(
        "busy",
        RunConfig("mnist", "mnist_fast", "mnist_fast", 1, 64, 0.1, "sgd"),
        None,
        "cpu",
        recipe=get_recipe("mnist_fast"),
    )
    run.start, run.steps = events[0], steps[:1]
    assert "images/s on 1 CPU thread<" in run_view.progress_html(run)
