"""cnn.runs.RunManager as the scheduler of every run: the queue's order and places, max_runs, one run
per person, cancel and stop only one's own, a waiting run no page looks at dropped, each CPU run on its
share of the threads (put back afterwards) at a lower priority than the requests, and Teach runs
through the same queue. Real MNIST runs, stopped as soon as the test has seen what it checks."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
import torch
from test_projects import stroke
from test_runs import finish, quick

from cnn.checkpoint import read_metadata
from cnn.cpu_share import PROCESS_THREADS, RUN_NICE, thread_share
from cnn.projects import Project
from cnn.runs import RunBusy, RunConfig, RunManager
from cnn.training import RunStatus

LONG = dict(epochs=50, train_subset=2000)  # a run that goes on until the test stops it


def until(cond, timeout=60.0, what="the condition"):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def training(run) -> bool:
    return run.status == RunStatus.TRAINING and bool(run.steps)


def thread_count_of_a_new_thread() -> int:
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    return seen[0]


@pytest.fixture()
def one(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", max_runs=1)
    yield m
    m.stop()
    assert m.wait_idle(60)


def test_runs_beyond_max_wait_in_order_with_place_and_wait_then_start_by_themselves(one):
    a = one.start(quick(**LONG), session="a")
    b = one.start(quick(**LONG), session="b")
    assert b.status == RunStatus.QUEUED
    c = one.start(quick(epochs=0.2), session="c")
    assert (b.status, c.status) == (RunStatus.QUEUED, RunStatus.QUEUED) and a.status != RunStatus.QUEUED
    assert (one.place(a), one.place(b), one.place(c)) == (0, 1, 2)
    until(lambda: training(a), what="a trains")
    wait_b, wait_c = one.estimated_wait(b), one.estimated_wait(c)
    # b waits for a's ETA; c for that plus b's estimated length (50 epochs of 2,000 images)
    assert 0 < wait_b < wait_c and wait_c - wait_b >= one.estimated_length(b.config) - 1
    assert one.active() == [a, b, c]
    assert one.stop("a")  # a ends: b, first in line, starts by itself; c moves up
    until(lambda: b.status != RunStatus.QUEUED, what="b starts")
    assert c.status == RunStatus.QUEUED and one.place(c) == 1 and finish(a).status == RunStatus.STOPPED
    one.stop("b")
    assert finish(c).status == RunStatus.FINISHED and c.checkpoint.is_file()
    assert a.started_at < b.started_at < c.started_at


def test_one_run_per_person_and_a_flood_gets_messages(one):
    mine = one.start(quick(**LONG), session="s1", owner="ann")
    for _ in range(20):  # one page pressing Start again and again
        with pytest.raises(RunBusy, match="You already have a run training"):
            one.start(quick(), session="s1", owner="ann")
    with pytest.raises(RunBusy, match="You already have a run"):  # the same login on another page
        one.start(quick(), session="s9", owner="ann")
    other = one.start(quick(), session="s2")  # a person without a login: their page's session
    with pytest.raises(RunBusy, match="You already have a run waiting, 1 ahead of it"):
        one.start(quick(), session="s2")
    assert one.active() == [mine, other]  # the flood queued nothing
    assert one.run_for("s1", "ann") is mine and one.run_for("s2") is other and one.run_for("nobody") is None


def test_with_logins_a_run_is_the_logins_alone(one):
    """On a shared lab computer the browser's token stays while people log in and out: the next
    login neither sees, nor stops, nor is blocked by the last one's run (issue 31)."""
    ann = one.start(quick(**LONG), session="lab-pc", owner="ann")
    assert one.run_for("lab-pc", "bob") is None and not one.stop("lab-pc", "bob") and not ann.stop_event.is_set()
    assert one.run_for("lab-pc") is None  # nor a page without a login on that browser
    bob = one.start(quick(), session="lab-pc", owner="bob")  # not "you already have a run"
    assert bob.status == RunStatus.QUEUED and one.run_for("lab-pc", "bob") is bob
    assert one.stop("lab-pc", "ann") and finish(ann).status == RunStatus.STOPPED


def nice_of_threads() -> dict[str, list[int]]:
    """This process's threads' niceness, by thread name (/proc: the OS's own account)."""
    out: dict[str, list[int]] = {}
    names = {t.native_id: t.name for t in threading.enumerate()}
    for tid in os.listdir("/proc/self/task"):
        stat = open(f"/proc/self/task/{tid}/stat").read()
        nice = int(stat[stat.rindex(")") + 2 :].split()[16])
        out.setdefault(names.get(int(tid), "(not Python's: torch's workers)"), []).append(nice)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own niceness is Linux's")
def test_a_cpu_run_trains_at_a_lower_priority_than_the_rest_of_the_process(one):
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    run = one.start(quick(**LONG), session="a")
    until(lambda: training(run), what="a trains")
    nice = nice_of_threads()
    assert nice[f"train-{run.id}"] == [min(19, base + RUN_NICE)], nice  # the run's own thread
    assert nice[threading.current_thread().name] == [base]  # the rest (here: the caller) is as it was
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
    one.stop("a")
    assert finish(run).status == RunStatus.STOPPED


def test_a_person_cancels_or_stops_only_their_own_run(one):
    first = one.start(quick(**LONG), session="s1")
    waiting = one.start(quick(**LONG), session="s2")
    assert not one.cancel("s3") and not one.stop("s3") and not one.stop(owner="eve")  # nobody else's
    assert not one.cancel("s1")  # a training run is not cancelled, it is stopped
    assert one.cancel("s2") and waiting.status == RunStatus.CANCELLED and "left the queue" in waiting.message
    assert not first.stop_event.is_set() and first.status != RunStatus.CANCELLED
    again = one.start(quick(**LONG), session="s2")  # then s2 may ask again
    assert one.stop("s2") and again.status == RunStatus.CANCELLED  # Stop on a waiting run cancels it
    assert not first.stop_event.is_set()
    assert one.stop("s1") and finish(first).status == RunStatus.STOPPED and first.checkpoint.is_file()
    assert one.run_for("s1") is first  # after it ended, the page still shows it


def test_a_waiting_run_no_page_looks_at_leaves_the_queue(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", stop_unwatched_after=1.0)
    try:
        watched = m.start(quick(**LONG), session="s1")
        left = m.start(quick(**LONG), session="s2")
        t_end = time.time() + 4
        while time.time() < t_end:  # s1's page keeps asking; s2's page was closed
            watched.viewed()
            time.sleep(0.2)
        assert left.status == RunStatus.CANCELLED
        assert left.message == "No page showed the waiting run for 1 s, so it left the queue."
        assert not watched.done and not watched.stop_event.is_set() and m.active() == [watched]
    finally:
        m.stop()
        assert m.wait_idle(60)


def test_two_runs_at_once_each_on_its_share_of_the_threads_put_back_afterwards(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", max_runs=2)
    main_before = torch.get_num_threads()
    try:
        a = m.start(quick(**LONG), session="a")
        b = m.start(quick(**LONG), session="b")
        c = m.start(quick(**LONG), session="c")
        assert c.status == RunStatus.QUEUED and m.place(c) == 1
        until(lambda: len(a.steps) >= 3 and len(b.steps) >= 3, what="both train")
        share = thread_share(2)
        assert max(s.threads for s in a.steps + b.steps) <= share
        assert a.device == f"cpu ({share} thread{'s' * (share > 1)})"  # what the page says it trains on
        assert torch.get_num_threads() == main_before  # nothing a run set reached this thread
    finally:
        m.stop()
        assert m.wait_idle(60)
    assert thread_count_of_a_new_thread() == PROCESS_THREADS  # nor a thread started after them


def made_project(data_dir) -> Project:
    p = Project.create("Rings", "drawings", data_dir=data_dir)
    for name in ("ring", "bar"):
        p.add_class(name)
        for k in range(5):
            p.add_example(name, stroke(name, k))
    return p


def test_teach_runs_wait_in_the_same_queue(tmp_path, data_dir):
    from app_helpers import checkpoint

    # MNIST for the Train run; the project's folder (outside the data directory) is given in full
    m = RunManager(tmp_path / "runs", data_dir, allow_any_path=True, device="cpu", max_runs=1)
    project = made_project(tmp_path / "data")
    cfg = RunConfig.for_project(str(project.path), project.name, "drawings", str(checkpoint("mnist")))
    try:
        # one scheduler holds both: a Train run trains, the Teach run waits for it
        train_run = m.start(quick(**LONG), session="t")
        teach = m.start(cfg, session="p")
        assert teach.status == RunStatus.QUEUED and m.place(teach) == 1
        m.stop("t")
        assert finish(teach).status == RunStatus.FINISHED, teach.message
        assert teach.checkpoint.name.startswith("teach-rings-") and finish(train_run).status == RunStatus.STOPPED
        meta = read_metadata(teach.checkpoint)
        assert meta["project"] == {"name": "Rings", "kind": "drawings"} and meta["init_from"] == "mnist.safetensors"
        assert teach.end.evaluation is not None and len(teach.data.test) == 2  # the held-out share
        assert max(s.threads for s in teach.steps) == 1  # a Teach run's one thread
    finally:
        m.stop()
        assert m.wait_idle(60)
    assert thread_count_of_a_new_thread() == PROCESS_THREADS


def test_the_pages_timer_goes_only_while_its_persons_run_waits_or_trains(one):
    """The Train tab's timer (ui/train_tab.tick): kept going while the person's run waits or
    trains, stopped with none and once it ended, so an idle page sends no requests."""
    from ui import outputs, train_tab
    from ui.common import AppContext

    ctx = AppContext(one, "", "")  # one person's machine: no logins
    going = lambda owner: outputs.named(train_tab.TICKED, train_tab.tick(ctx, None, owner))["timer"].active
    assert going("a") is False  # nobody's run: the timer stops
    a = one.start(quick(**LONG), session="a")
    b = one.start(quick(**LONG), session="b")
    assert b.status == RunStatus.QUEUED
    until(lambda: training(a), what="a training")
    assert going("a") is True and going("b") is True  # training, and waiting its turn
    assert going("c") is False
    assert one.cancel(session="b") and going("b") is False  # taken out of the queue: ended
    assert one.stop(session="a")
    until(lambda: a.done, what="a stopped")
    assert going("a") is False
