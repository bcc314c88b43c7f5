"""Every run as a table (cnn/run_index.py) and the Runs tab's handlers (ui/runs_tab.py), called
directly: damaged and missing files, delete, import of uploads, overlaid curves, load into a tab."""

from __future__ import annotations

import shutil

import gradio as gr
import pandas as pd
import pytest
import torch
from app_helpers import checkpoint

from cnn.checkpoint import save_checkpoint
from cnn.errors import CheckpointError
from cnn.models import get_spec
from cnn.run_index import RunIndexError, delete_run, import_checkpoint, list_runs, recipe_overrides
from cnn.runlog import RunLog, read_log, run_header
from cnn.runs import RunManager
from cnn.training import End, EpochEnd, RunStatus, Start, Step, get_recipe
from ui import outputs, runs_compare, runs_tab, runs_table
from ui.common import AppContext

MNIST_META = {
    "architecture": "mnist_fast",
    "dataset": "mnist",
    "classes": [str(i) for i in range(10)],
    "input_shape": [1, 28, 28],
    "normalization": {"mean": [0.13], "std": [0.31]},
    "epochs_completed": 2.0,
    "status": "finished",
    "train_seconds": 3.5,
    "device": "cpu (2 threads)",
    "date": "2026-11-26T10:00:00+00:00",
}


def fake_run(
    runs_dir, stem, lr=0.1, accuracy=0.9, log=True, ckpt=True, date="2026-11-26T10:00:00+00:00", quick=False, **changed
):
    """A run as training leaves it: an (untrained) mnist_fast checkpoint and its log of two epochs
    (quick: a quick run's, on 1,000 training and 1,000 test images)."""
    recipe = get_recipe("mnist_fast").replace(lr=lr, epochs=2.0, **changed).as_dict()
    meta = {**MNIST_META, "recipe": recipe, "test_accuracy": accuracy, "date": date}
    path = runs_dir / f"{stem}.safetensors"
    if ckpt:
        save_checkpoint(get_spec("mnist_fast").build(1, 10, 28), meta, path)
    if log:
        subsets = dict(train_subset=1000, test_subset=1000) if quick else {}
        rl = RunLog.open(runs_dir / f"{stem}.jsonl", run_header(recipe, "mnist", "test", **subsets))
        rl.write(Start("cpu (2 threads)", "mnist_fast", 1000, 1000, 200, 2.0, 64, 16, 32))
        for i in range(1, 33):
            rl.write(Step(i, 32, i / 16, 2.0 / i, lr, 500.0, i * 0.1, 0.0))
            if i % 16 == 0:
                rl.write(EpochEnd(i // 16, 1.0 / i, accuracy - 0.1, 0.5, accuracy - 0.05 * (2 - i // 16), 1.0, 0.9))
        rl.write(End(RunStatus.FINISHED, "", None, meta, accuracy, 3.5))
        rl.close()
    return path


@pytest.fixture()
def runs_dir(tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    return d


@pytest.fixture()
def ctx(runs_dir):
    return AppContext(RunManager(runs_dir, device="cpu"), str(checkpoint("mnist")), str(checkpoint("cifar10")))


def by_key(entries):
    return {e.key: e for e in entries}


def test_the_index_shows_what_it_can_and_says_what_is_missing(runs_dir, monkeypatch):
    fake_run(runs_dir, "good", lr=0.05)
    fake_run(runs_dir, "nolog", log=False)
    fake_run(runs_dir, "nockpt", ckpt=False)
    fake_run(runs_dir, "corrupt")
    with open(runs_dir / "corrupt.jsonl", "ab") as f:
        f.write(b'{"kind": "step", "step": 33, "tot')  # a killed writer's half line
    (runs_dir / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    monkeypatch.setattr("safetensors.torch.load_file", lambda *a, **k: pytest.fail("the table read weights"))
    shipped = (checkpoint("mnist"), checkpoint("cifar10"))
    entries = list_runs(runs_dir, shipped)
    assert [e.key for e in entries[:2]] == ["shipped/mnist", "shipped/cifar10"]
    e = by_key(entries)
    assert e["shipped/mnist"].problems == [] and e["shipped/mnist"].recipe["name"] == "mnist_drawings"
    # (its second half: 6 epochs of mnist_drawings from its mnist_best half, whose normalisation a
    # fine-tuning keeps: docs/cli.md)
    assert set(e["shipped/mnist"].overrides) == {"epochs", "normalize"} and e["shipped/mnist"].overrides["epochs"] == 6
    assert e["shipped/cifar10"].channels == 3
    good = e["good"]
    assert (good.model, good.dataset, good.recipe["name"], good.status) == (
        "mnist_fast",
        "mnist",
        "mnist_fast",
        "finished",
    )
    assert good.overrides == {"lr": 0.05, "epochs": 2.0} and good.problems == []
    assert (good.epochs, good.test_accuracy, good.train_seconds, good.n_train) == (2.0, 0.9, 3.5, 1000)
    assert e["nolog"].problems == ["no log (its training history is missing)"] and e["nolog"].usable
    assert e["nockpt"].checkpoint is None and not e["nockpt"].usable
    assert e["nockpt"].problems == ["no checkpoint: its file is missing (deleted, or the save failed)"]
    assert e["nockpt"].test_accuracy == 0.9  # from its log
    assert e["corrupt"].problems == ["log: 1 of 38 line(s) unreadable, skipped"] and e["corrupt"].usable
    assert (
        "checkpoint unreadable" in e["junk"].problems[0]
        and "junk.safetensors is not a safetensors file" in e["junk"].problems[0]
    )
    assert "no log" in e["junk"].problems[1]


def test_a_killed_run_has_a_log_and_no_checkpoint(runs_dir):
    rl = RunLog.open(runs_dir / "killed.jsonl", run_header({"name": "mnist_fast"}, "mnist", "app"))
    rl.write(Start("cpu", "mnist_fast", 10, 100, 10, 1.0, 10, 10, 10))  # then the process died
    e = by_key(list_runs(runs_dir))["killed"]
    assert e.status == "incomplete" and e.model == "mnist_fast"
    assert e.problems == [
        "log: no end (the run was killed, or is still training)",
        "no checkpoint (the run was killed, or is still training)",
    ]


def test_overrides_are_the_settings_changed_from_the_preset():
    r = get_recipe("cifar10_fast").as_dict()
    assert recipe_overrides(r) == {}
    assert recipe_overrides({**r, "batch_size": 512, "notes": "x"}) == {"batch_size": 512}
    assert recipe_overrides({**r, "name": "gone"}) is None


def test_delete_twice_and_shipped_checkpoints_protected(runs_dir):
    fake_run(runs_dir, "a")
    removed = delete_run(runs_dir, "a")
    assert sorted(p.name for p in removed) == ["a.jsonl", "a.safetensors"] and not list(runs_dir.iterdir())
    with pytest.raises(RunIndexError, match="already gone"):
        delete_run(runs_dir, "a")  # a second page deleting the same run
    with pytest.raises(RunIndexError, match="shipped checkpoint; it cannot be deleted"):
        delete_run(runs_dir, "shipped/mnist")
    copy = shutil.copy(checkpoint("mnist"), runs_dir / "mnist.safetensors")
    with pytest.raises(RunIndexError, match="cannot be deleted"):
        delete_run(runs_dir, "mnist", protected=(copy,))
    assert copy.exists()
    with pytest.raises(RunIndexError, match="is not the name of a run"):
        delete_run(runs_dir, "../runs/mnist")


def test_imports_are_checked_like_any_checkpoint(runs_dir, tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    (up / "notes.safetensors").write_text("just some text, not a checkpoint")
    with pytest.raises(CheckpointError, match=r"^notes.safetensors is not a safetensors file"):
        import_checkpoint(up / "notes.safetensors", runs_dir)
    torch.save(get_spec("mnist_fast").build(1, 10, 28).state_dict(), up / "pickle.safetensors")
    with pytest.raises(CheckpointError, match="pickle.safetensors is a PyTorch pickle.*arbitrary code"):
        import_checkpoint(up / "pickle.safetensors", runs_dir)
    save_checkpoint(get_spec("seed003_cnn").build(1, 10, 28), MNIST_META, up / "wrong.safetensors")
    with pytest.raises(CheckpointError, match="does not match the mnist_fast architecture"):
        import_checkpoint(up / "wrong.safetensors", runs_dir)
    with pytest.raises(RunIndexError, match=r"is 0\.8 MB; checkpoints of up to 0 MB"):
        import_checkpoint(checkpoint("mnist"), runs_dir, max_bytes=100_000)
    assert not list(runs_dir.iterdir())  # nothing refused was kept
    odd = shutil.copy(checkpoint("mnist"), up / "my digits!.safetensors")
    first = import_checkpoint(odd, runs_dir, "../../my digits!.safetensors")
    second = import_checkpoint(odd, runs_dir, "../../my digits!.safetensors")
    assert (first.name, second.name) == ("my_digits.safetensors", "my_digits-2.safetensors")
    assert first.read_bytes() == checkpoint("mnist").read_bytes()
    assert sorted(p.name for p in runs_dir.iterdir()) == [
        "my_digits-2.jsonl",
        "my_digits-2.safetensors",
        "my_digits.jsonl",
        "my_digits.safetensors",
    ]
    e = by_key(list_runs(runs_dir))["my_digits"]
    assert e.problems == [] and e.status == "finished" and e.usable
    assert read_log(runs_dir / "my_digits.jsonl").header["imported_from"] == "../../my digits!.safetensors"


def test_the_table_and_its_refresh(ctx, runs_dir):
    fake_run(runs_dir, "old", date="2026-11-20T10:00:00+00:00")
    fake_run(runs_dir, "new", lr=0.02, accuracy=0.95, quick=True, normalize=((0.1308,), (0.3083,)))
    got = outputs.named(runs_tab.REFRESHED, runs_tab.refresh(ctx, ["new", "deleted-meanwhile"], "old"))
    frame, notes, compare, chosen = got["table"], got["notes"], got["compare"], got["chosen"]
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == runs_table.COLUMNS
    assert list(frame["Run"]) == ["shipped/mnist", "shipped/cifar10", "new", "old"]
    new = frame.set_index("Run").loc["new"]
    # the settings in words: a quick run's image counts, no raw normalize=[[0.1308]]
    assert (new["Test accuracy"], new["Changed settings"], new["Status"], new["Trained"]) == (
        "95.00%",
        "preset mnist_fast; learning rate 0.02, 2 epochs, normalized with mean 0.131, std 0.308, "
        "1,000 training images, 200 test images",
        "finished",
        "2 epochs · 3.5 s · cpu (2 threads)",
    )
    # model, data, accuracy, status and problems come first: they fit a 1280 px screen
    assert runs_table.COLUMNS[:6] == ["Run", "Model", "Data", "Test accuracy", "Status", "Problems"]
    assert "4 run(s)" in notes and "⚠️" not in notes
    assert compare.value == ["new"] and chosen.value == "old" and ("old", "old") in compare.choices


def test_use_a_run_in_the_draw_or_photo_tab(ctx, runs_dir):
    path = fake_run(runs_dir, "digits")
    used = outputs.named(runs_tab.USED, runs_tab.use_run(ctx, "digits"))
    assert used["draw_model"] == str(path) and "digits.safetensors" in used["draw_about"]
    assert used["tab"] == "draw" and used["photo_model"] == used["photo_about"] == gr.skip()
    used = outputs.named(runs_tab.USED, runs_tab.use_run(ctx, "shipped/cifar10"))
    assert used["photo_model"] == ctx.photo_checkpoint and used["tab"] == "photo"
    assert used["draw_model"] == used["draw_about"] == gr.skip()
    fake_run(runs_dir, "nockpt", ckpt=False)
    with pytest.raises(gr.Error, match="nockpt has no usable checkpoint"):
        runs_tab.use_run(ctx, "nockpt")
    button = runs_tab.download(ctx, "digits")
    assert button.value["orig_name"] == "digits.safetensors"
    assert open(button.value["path"], "rb").read() == path.read_bytes()
    assert runs_tab.download(ctx, None).value is None


def test_delete_needs_confirming_and_upload_adds_a_run(ctx, runs_dir):
    fake_run(runs_dir, "x")
    with pytest.raises(gr.Error, match="Tick 'Yes, delete it' first"):
        runs_tab.delete(ctx, "x", False)
    got = outputs.named(runs_tab.DELETED, runs_tab.delete(ctx, "x", True))
    assert "x" not in list(got["table"]["Run"]) and got["confirm"] is False and not list(runs_dir.iterdir())
    with pytest.raises(gr.Error, match="already gone"):
        runs_tab.delete(ctx, "x", True)
    with pytest.raises(gr.Error, match="shipped checkpoint"):
        runs_tab.delete(ctx, "shipped/mnist", True)
    got = outputs.named(runs_tab.UPLOADED, runs_tab.upload(ctx, str(checkpoint("cifar10"))))
    assert got["chosen"].value == "cifar10" and "cifar10" in list(got["table"]["Run"]) and got["uploaded"] is None
    assert outputs.named(runs_tab.USED, runs_tab.use_run(ctx, "cifar10"))["tab"] == "photo"


def handler(f):
    """The handler an event calls, bound to the context by functools.partial or ui.common.bind, and
    wrapped by ui.refusals.gentle."""
    fn = f.fn.__wrapped__ if getattr(f.fn, "__gentle__", False) else f.fn
    return getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)


def test_the_app_has_the_runs_tab_wired(runs_dir):
    from ui.app import build_app

    demo = build_app(checkpoint("mnist"), checkpoint("cifar10"), RunManager(runs_dir, device="cpu"))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {
        "runs-table",
        "runs-compare",
        "runs-chosen",
        "runs-use",
        "runs-delete",
        "runs-confirm",
        "runs-download",
        "runs-upload",
        "runs-refresh",
        "runs-continue",
        "runs-more-epochs",
        "runs-confusion",
        "runs-confusion-btn",
        "runs-cell-gallery",
    } <= ids
    by_fn = {handler(f): f for f in demo.fns.values()}
    use = by_fn[runs_tab.use_run]
    assert [type(o).__name__ for o in use.outputs] == [
        "State",
        "Markdown",
        "State",
        "Markdown",
        "Textbox",
    ]  # the tab to open
    assert len(by_fn[runs_tab.refresh].outputs) == len(runs_tab.REFRESHED)
    assert len(by_fn[runs_tab.delete].outputs) == len(runs_tab.DELETED)
    triggers = {t[1] for f in demo.fns.values() if handler(f) is runs_tab.refresh for t in f.targets}
    assert triggers == {"select", "click"}  # when the tab opens, and by the Refresh button
    from ui import train_continue

    cont = by_fn[train_continue.continue_settings]
    start = next(f for f in demo.fns.values() if f.name == "start")
    # every setting by its name (start also takes the owner, the design and the augmentation)
    filled = dict(zip(train_continue.FILLED, cont.outputs, strict=True))
    assert [filled[n]._id for n in train_continue.SETTINGS] == [i._id for i in start.inputs[:-3]]
    # no event outputs the page's Tabs (the page opens a tab itself: common.opens_tab, ui/static/page.js)
    assert not [f.name for f in demo.fns.values() if any(type(o).__name__ == "Tabs" for o in f.outputs)]


def test_a_run_deleted_from_disk_while_the_tab_is_open(ctx, runs_dir):
    from ui import confusion_view, train_continue

    fake_run(runs_dir, "gone")
    got = outputs.named(runs_tab.REFRESHED, runs_tab.refresh(ctx, ["gone"], "gone"))
    assert "gone" in list(got["table"]["Run"]) and got["chosen"].value == "gone"
    for f in list(runs_dir.iterdir()):  # another program (or page) removes its files
        f.unlink()
    message = "The run gone is not there any more (deleted from another page?). Refresh the table."
    for handler, args in (
        (runs_tab.use_run, ()),
        (runs_tab.download, ()),
        (confusion_view.runs_matrix, ()),
        (train_continue.continue_settings, (1,)),
    ):
        with pytest.raises(gr.Error) as err:
            handler(ctx, "gone", *args)
        assert err.value.message == message, handler.__name__
    _, _, text = runs_compare.compare(ctx, ["gone"])
    assert text.endswith("gone: not there any more (deleted?); press Refresh.")
    got = outputs.named(runs_tab.REFRESHED, runs_tab.refresh(ctx, ["gone"], "gone"))
    assert "gone" not in list(got["table"]["Run"]) and got["compare"].value == [] and got["chosen"].value is None


def test_two_sessions_deleting_the_same_run_at_once(ctx, runs_dir):
    import threading

    fake_run(runs_dir, "twice")
    barrier, results = threading.Barrier(2), []

    def session():
        barrier.wait()
        try:
            runs_tab.delete(ctx, "twice", True)
            results.append("deleted")
        except gr.Error as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=session) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [
        "The run twice is already gone (deleted from another page?). Refresh the table.",
        "deleted",
    ]
    assert not list(runs_dir.iterdir())
