"""What one run may ask of a shared server, and runs that never hang or lose their weights
(cnn.runs.limits, the scheduler and the executor; issue 31): each limit refuses with a message that
names it and its flag, before anything is queued; a run at the time limit stops and keeps its
weights; a stopped run is saved before its test; finished runs leave no model in memory; a cancel
and a start cannot race."""

from __future__ import annotations

import gc
import shutil
import threading
import time

import pytest
import torch
from app_helpers import checkpoint
from test_runs import finish, quick

import cnn.runs.executor as executor
from cnn.errors import ConfigError
from cnn.runs import RunLimits, RunManager
from cnn.training import RunStatus

LONG = dict(epochs=50, train_subset=2000)  # a run that goes on until something stops it


def test_a_run_beyond_the_images_limit_is_refused_naming_the_flag(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", limits=RunLimits(max_train_images=2_000_000))
    with pytest.raises(ConfigError, match="--max-train-images") as err:
        m.start(quick(epochs=10**6), session="troublemaker")
    assert "--max-train-images" in str(err.value) and "1e+06 epochs x 1,000 images" in str(err.value)
    assert m.active() == [] and m.current is None  # nothing queued, nothing made
    assert m.start(quick(epochs=0.1, train_subset=600), session="fine") is not None  # within it: trains
    assert m.wait_idle(60)


def test_a_batch_too_big_for_a_ready_made_model_is_refused_before_anything_is_allocated(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu")
    with pytest.raises(ConfigError, match="Batch size 1000000 is too big for cifar10_fast"):
        m.start(quick("cifar10", model="cifar10_fast", recipe="cifar10_fast", batch=1_000_000), session="s")
    assert m.active() == []


def test_a_person_keeping_too_many_runs_is_told_to_delete_some(tmp_path, data_dir):
    runs = tmp_path / "runs"
    runs.mkdir()
    for i in range(2):
        shutil.copyfile(checkpoint("mnist"), runs / f"kept-{i}.safetensors")
    m = RunManager(runs, data_dir, device="cpu", limits=RunLimits(max_kept=2))
    with pytest.raises(ConfigError, match=r"You keep 2 runs; .* 2 a person \(--max-kept-runs\)"):
        m.start(quick(), session="s")


def test_a_run_at_the_time_limit_stops_keeps_its_weights_and_says_why(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", limits=RunLimits(max_seconds=2.0))
    run = finish(m.start(quick(**LONG), session="s"), 120)
    assert run.status == RunStatus.STOPPED and run.checkpoint.is_file()
    assert "limit of" in run.message and "--max-run-minutes" in run.message, run.message


def test_a_stopped_run_is_saved_before_its_test_and_a_failed_test_keeps_the_weights(tmp_path, data_dir, monkeypatch):
    def broken(run, end):
        raise RuntimeError("the test pass broke")

    monkeypatch.setattr(executor, "evaluate_kept", broken)
    m = RunManager(tmp_path / "runs", data_dir, device="cpu")
    run = m.start(quick(**LONG), session="s")
    end = time.time() + 120
    while len(run.steps) < 3 and time.time() < end:
        time.sleep(0.05)
    m.stop("s")
    finish(run, 120)
    assert run.status == RunStatus.STOPPED and run.checkpoint.is_file(), run.message
    assert any("Testing the kept weights failed" in w for w in run.warnings), run.warnings


def _models_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.nn.Module) and type(o).__name__ == "MnistFastNet")


def test_finished_runs_keep_no_model_in_memory(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu")
    before = _models_alive()
    runs = [
        finish(m.start(quick(epochs=0.05, train_subset=600, test_subset=100), session=f"p{i}"), 60) for i in range(6)
    ]
    assert all(r.status == RunStatus.FINISHED and r.end.model is None for r in runs)
    assert _models_alive() == before  # each run's model went once its checkpoint was saved


def test_cancels_and_starts_cannot_race(tmp_path, data_dir):
    """Twelve people each ask for a long run and at once take it back while the place comes free:
    every run ends cancelled or stopped (one that slipped through would train for minutes)."""
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", max_runs=1)
    holder = m.start(quick(**LONG), session="holder")
    runs, go = {}, threading.Barrier(13)

    def person(i):
        runs[i] = m.start(quick(**LONG), session=f"p{i}")
        go.wait()
        for _ in range(200):  # until its run has ended, whatever state it was in
            m.stop(f"p{i}")
            if runs[i].done:
                return
            time.sleep(0.01)

    threads = [threading.Thread(target=person, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    go.wait()
    m.stop("holder")  # the place comes free while the cancels go on
    for t in threads:
        t.join(60)
    assert m.wait_idle(90), [r.status for r in runs.values()]
    assert {r.status for r in runs.values()} <= {RunStatus.CANCELLED, RunStatus.STOPPED}
    assert holder.status == RunStatus.STOPPED
