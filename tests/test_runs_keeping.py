"""The app's runs kept like the CLI's (cnn/runs/keeping.py): every event in a JSON-lines log beside
the checkpoint (finished, stopped and failed runs), TensorBoard scalars when asked (an unwritable
folder warns and training goes on), the live panel's snapshots, and a run continued from a kept one."""

from __future__ import annotations

import time

import pytest
import torch
from test_runlog import f32, scalars
from test_runs import finish, quick

from cnn.run_index import list_runs
from cnn.runlog import log_path, read_log
from cnn.runs.keeping import panel_indices
from ui import outputs, run_view, train_continue, train_tab, train_view


def by_key(entries):
    return {e.key: e for e in entries}


def test_an_app_run_keeps_its_log_tensorboard_and_live_panel(manager):
    run = finish(manager.start(quick(epochs=1, tensorboard=True), session="s1"))
    assert run.status == "finished", run.message
    h = read_log(log_path(run.checkpoint))
    assert h.skipped == 0 and h.problems() == [] and h.header["source"] == "app"
    assert (h.header["train_subset"], h.header["test_subset"], h.header["parent"]) == (1000, 200, None)
    # 1,000 images, 100 held out for the temperature: 900 in batches of 64, 15 steps
    assert [s.step for s in h.steps] == [s.step for s in run.steps] and h.steps[-1].step == 15
    assert [e.epoch for e in h.epochs] == [1] and h.end["status"] == "finished"
    assert h.end["test_accuracy"] == pytest.approx(run.end.test_accuracy)
    entry = by_key(list_runs(manager.runs_dir))[run.checkpoint.stem]
    assert entry.problems == [] and entry.status == "finished" and entry.n_train == 900  # images trained on
    got = scalars((manager.runs_dir / "tensorboard") / run.checkpoint.stem)  # TensorBoard's own reader
    assert got["train/loss"] == [(s.step, f32(s.loss)) for s in h.steps]
    assert got["accuracy/test"] == [(1, f32(h.epochs[0].test_accuracy))]
    # the live panel: one snapshot after Start and one at the epoch end (more on a slow machine)
    assert run.snapshots >= 2 and run.snapshot.step == 15
    assert len(run.panel_labels) == 16 and set(run.panel_labels) == set(range(10))
    assert run.panel_images.shape == (16, 1, 28, 28)
    assert torch.equal(run.data.test.images[panel_indices(run.data.test.labels, 10)], run.panel_images)
    assert len(run.snapshot.predictions) == 16 and all(0 < p <= 1 for p in run.snapshot.probabilities)
    assert run.snapshot.filters.shape[:2] == (16, 1)  # mnist_fast's first convolution
    html = run_view.live_panel_html(run)
    right = sum(int(a == b) for a, b in zip(run.panel_labels, run.snapshot.predictions))
    assert html.count("live-cell right") == right and html.count("live-cell wrong") == 16 - right
    assert f"{right} of 16 right" in html and html.count("data:image/png;base64,") == 16
    assert run_view.filters_image(run).size == (8 * 50, 2 * 50)


def test_the_page_gets_the_panel_when_a_snapshot_is_new(manager):
    run = finish(manager.start(quick(epochs=1), session="s1"))
    first = train_view.changes(run, None)
    assert "right</div>" in first["live_panel"] and first["filters"] is not None
    seen = first["shown"]  # what the page's gr.State now holds
    assert isinstance(seen, train_view.Shown) and seen.run == run.id
    again = train_view.changes(run, seen)
    assert "live_panel" not in again and "filters" not in again  # nothing new: nothing sent


def test_an_unwritable_tensorboard_folder_warns_and_training_goes_on(manager):
    (manager.runs_dir / "tensorboard").parent.mkdir(parents=True, exist_ok=True)
    (manager.runs_dir / "tensorboard").write_text("a file where the folder should be")
    run = finish(manager.start(quick(tensorboard=True)))
    assert run.status == "finished" and run.checkpoint.is_file()
    assert any("cannot write TensorBoard logs" in w and "training goes on" in w for w in run.warnings)
    assert "⚠️ cannot write TensorBoard logs" in run_view.status_markdown(run)
    assert read_log(log_path(run.checkpoint)).end["status"] == "finished"


def test_stopped_and_failed_runs_are_kept(manager):
    run = manager.start(quick(epochs=30, train_subset=4000))
    while not run.steps:
        time.sleep(0.05)
    manager.stop()
    finish(run)
    h = read_log(log_path(run.checkpoint))
    assert run.status == "stopped" and h.end["status"] == "stopped" and h.steps
    assert h.end["test_accuracy"] == pytest.approx(run.end.test_accuracy)  # the kept weights' test
    failed = finish(manager.start(quick(batch=500, train_subset=300)))
    assert failed.status == "failed" and failed.checkpoint is None
    logs = [p for p in manager.runs_dir.glob("*.jsonl") if p != log_path(run.checkpoint)]
    assert len(logs) == 1 and "Batch size 500 is larger" in read_log(logs[0]).failure
    e = by_key(list_runs(manager.runs_dir))[logs[0].stem]
    assert e.status == "failed" and e.problems[-1].startswith("no checkpoint: the run failed (Batch size 500")


def test_panel_indices_take_each_class_in_turn():
    labels = torch.tensor([3, 1, 1, 0, 3, 2, 0])
    assert panel_indices(labels, 4, size=6) == [3, 1, 5, 0, 6, 2]
    assert panel_indices(labels, 4, size=50) == [3, 1, 5, 0, 6, 2, 4]


QUICK = dict(  # the shipped MNIST checkpoint's net, which "Continue training" keeps
    dataset_choice="MNIST",
    folder="",
    model="mnist_mid",
    recipe="mnist_fast",
    epochs=0.2,
    batch=64,
    lr=0.01,
    optimizer="sgd",
    train_n="2000",
    test_n="500",
)


def test_a_continued_run_starts_from_the_old_weights_and_names_its_parent(ctx):
    fill = outputs.named(train_continue.FILLED, train_continue.continue_settings(ctx, "shipped/mnist", 2))
    assert fill["folder"].visible is False and "tabs" not in fill  # (the page opens the Train tab)
    assert fill["tensorboard"] == train_tab.gr.skip()  # the TensorBoard box is left as it is
    assert {k: v for k, v in fill.items() if k not in ("folder", "tensorboard")} == dict(
        dataset="MNIST",
        model="mnist_mid",
        recipe="mnist_drawings",
        epochs=2.0,
        batch=128,
        lr=0.05,
        optimizer="sgd",
        train_n="",
        test_n="",
        continue_from="shipped/mnist",
    )
    results = {}
    for parent in ("shipped/mnist", ""):
        train_tab.start(ctx, **QUICK, continue_from=parent, owner="me")
        run = finish(ctx.runs.current)
        assert run.status == "finished", run.message
        results[parent] = run
    cont, scratch = results["shipped/mnist"], results[""]
    acc = cont.epochs[0].test_accuracy
    assert acc > 0.97 and scratch.epochs[0].test_accuracy < acc - 0.3, (acc, scratch.epochs[0].test_accuracy)
    h = read_log(log_path(cont.checkpoint))
    assert h.header["parent"] == "shipped/mnist" and h.end["metadata"]["init_from"] == "mnist.safetensors"
    assert read_log(log_path(scratch.checkpoint)).header["parent"] is None
    entry = by_key(list_runs(ctx.runs.runs_dir))[cont.checkpoint.stem]
    assert entry.parent == "shipped/mnist" and entry.problems == []
    with pytest.raises(train_tab.gr.Error, match="not there any more"):
        train_tab.start(ctx, **QUICK, continue_from="gone-run", owner="me")
