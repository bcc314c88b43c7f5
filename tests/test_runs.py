"""cnn.runs: a training run (the queue of runs: test_queue), their stop (asked for, or because no page
looks at them), failures and bad settings. (How a run looks on the page: test_train_tab.)"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from PIL import Image

import cnn.runs.executor as runs_mod
from cnn.checkpoint import load_checkpoint
from cnn.errors import ConfigError, DataError
from cnn.runs import RunConfig, RunManager


def quick(dataset="mnist", epochs=0.5, batch=64, lr=0.05, **kw) -> RunConfig:
    kw.setdefault("train_subset", 1000)
    kw.setdefault("test_subset", 200)
    return RunConfig(
        dataset,
        kw.pop("model", "mnist_fast"),
        kw.pop("recipe", "mnist_fast"),
        epochs,
        batch,
        lr,
        kw.pop("optimizer", "sgd"),
        **kw,
    )


def finish(run, timeout=120):
    t = time.time()
    while not run.done and time.time() - t < timeout:
        run.wait(run.version, 0.5)
    assert run.done, "the run did not end in time"
    return run


def test_a_run_streams_events_and_saves_a_loadable_checkpoint(manager, tmp_path):
    run = finish(manager.start(quick(epochs=1), session="s1"))
    assert run.status == "finished", run.message
    assert len(run.loss_points()) >= 5  # every few steps, not only at the end
    assert [p["split"] for p in run.accuracy_points()] == ["train", "test"]
    p = run.progress()
    # 1,000 images, 100 held out for the temperature: 900 in batches of 64
    assert p["step"] == p["total"] == 15 and p["images_per_s"] > 0
    # 15 steps from scratch: 67.5% on the 200 test images in two runs here; chance is 10%
    assert run.end is not None and 0.45 < run.end.test_accuracy < 0.9, run.end.test_accuracy
    assert run.checkpoint.parent == tmp_path / "runs" and run.checkpoint.suffix == ".safetensors"
    model, meta = load_checkpoint(run.checkpoint)
    assert meta["architecture"] == "mnist_fast" and meta["status"] == "finished"
    assert meta["calibration"]["ece_images"] == 100 and meta["temperature"] > 0  # the app's runs fit theirs
    wrong = run.misclassified(limit=5)
    assert wrong and wrong[0][0].shape == (1, 28, 28) and wrong[0][1] != wrong[0][2]


def test_stop_within_a_second_keeps_the_weights_and_tests_them(manager):
    run = manager.start(quick(epochs=20, train_subset=5000), session="s1")
    while len(run.steps) < 3:
        run.wait(run.version, 1)
        assert not run.done, run.message
    t = time.time()
    manager.stop("s1")
    finish(run)
    assert time.time() - t < 1.5 + 1.5  # and a test pass over the 200 test images
    assert run.status == "stopped" and "kept the weights" in run.message
    _, meta = load_checkpoint(run.checkpoint)
    assert meta["status"] == "stopped" and 0 < meta["epochs_completed"] < 20
    # the kept weights were tested: accuracy, confusion matrix, mistakes; saved with the checkpoint
    ev = run.end.evaluation
    assert ev is not None and run.end.test_accuracy == ev.accuracy == meta["test_accuracy"]
    assert int(ev.confusion.sum()) == 200 and run.misclassified(3)
    # the progress says the step it stopped at, as its message does
    step = int(re.search(r"Stopped at step (\d+) of", run.message).group(1))
    assert run.final_step == step == run.progress()["step"] >= run.steps[-1].step


def test_a_run_no_page_looks_at_stops_and_keeps_its_weights(tmp_path, data_dir):
    m = RunManager(tmp_path / "runs", data_dir, device="cpu", stop_unwatched_after=1.0)
    watched = m.start(quick(epochs=20, train_subset=5000), session="s1")
    t_end = time.time() + 3
    while time.time() < t_end:  # a page asks about it (a reload only changes which page)
        watched.viewed()
        time.sleep(0.2)
    assert not watched.done and not watched.stop_event.is_set()
    t0 = time.time()  # then nobody does
    finish(watched)
    assert watched.status == "stopped" and time.time() - t0 < 1.0 + 1.0 + 3
    assert "No page showed the run for 1 s, so it stopped." in watched.message and watched.checkpoint.is_file()
    off = RunManager(tmp_path / "runs", data_dir, device="cpu")  # the option is off unless asked for
    assert off.stop_unwatched_after is None


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(lr=0), "Learning rate must be a number above zero"),
        (dict(lr=-1), "Learning rate must be a number above zero"),
        (dict(epochs=0), "Epochs must be above zero"),
        (dict(batch=0), "Batch size must be a whole number"),
        (dict(batch=2.5), "Batch size must be a whole number"),
        (dict(optimizer="rmsprop"), "Unknown optimizer"),
        (dict(model="resnet1000"), "Unknown model"),
        (dict(recipe="nope"), "Unknown recipe"),
        (dict(train_subset=0), "at least 1 image"),
        (dict(dataset=""), "Choose a data set"),
        (dict(dataset="cifar10"), "The model mnist_fast is written for grey 28x28 images, and cifar10 has colour"),
        (dict(dataset="cifar-10", model="seed002_net", recipe="seed002"), "written for grey 28x28 images"),
        (dict(model="cifar10_small", recipe="cifar10_small"), "written for colour 32x32 images, and mnist has grey"),
    ],
)
def test_bad_settings_are_refused_before_starting(manager, changes, message):
    with pytest.raises(ConfigError, match=message):
        manager.start(quick(**changes))
    assert manager.current is None


def test_batch_larger_than_the_data_set(manager):
    run = finish(manager.start(quick(batch=500, train_subset=300)))
    assert run.status == "failed"
    assert "Batch size 500 is larger than the training set (300 images)" in run.message


def make_folder(root, classes=("cat", "dog"), n=6, size=16, bad=()):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    for name in bad:
        (root / classes[0] / name).write_bytes(b"this is not an image")
    return root


def test_image_folders(tmp_path):
    data = tmp_path / "data"
    make_folder(data / "pets", bad=("broken.png",))
    make_folder(data / "lonely", classes=("only",))
    (data / "empty").mkdir()
    make_folder(tmp_path / "elsewhere")
    m = RunManager(tmp_path / "runs", data, device="cpu")

    def run(folder, **kw):
        return finish(
            m.start(
                quick(
                    folder,
                    recipe="seed002",
                    model="seed002_net",
                    lr=0.01,
                    optimizer="adam",
                    epochs=1,
                    batch=4,
                    train_subset=None,
                    test_subset=None,
                    **kw,
                )
            )
        )

    ok = run("pets")
    assert ok.status == "finished", ok.message
    assert any("Skipped 1 unreadable file(s): broken.png" in w for w in ok.warnings)
    assert "has 1 class sub-folder(s) (only)" in run("lonely").message
    assert "has 0 class sub-folder(s)" in run("empty").message
    # refused at start, before any run begins: a folder that is not there, or outside the data directory
    with pytest.raises(DataError, match=re.escape(f"no folder {data.resolve() / 'missing'}")):
        run("missing")
    with pytest.raises(DataError, match=re.escape(f"The folder {tmp_path / 'nowhere'} does not exist.")):
        run(str(tmp_path / "nowhere"))  # outside, and not there: that it is not there is what counts
    with pytest.raises(DataError, match="outside the data directory .*--allow-any-path"):
        run(str(tmp_path / "elsewhere"))
    assert m.current.config.dataset == "empty"  # the last run that started
    m = RunManager(tmp_path / "runs", data, allow_any_path=True, device="cpu")  # (run() uses the new one)
    assert run(str(tmp_path / "elsewhere")).status == "finished"
    with pytest.raises(DataError, match="does not exist"):
        run(str(tmp_path / "nowhere"))


def test_data_set_not_present_offline(tmp_path):
    m = RunManager(tmp_path / "runs", tmp_path / "nodata", device="cpu")
    r = finish(m.start(quick("fashion-mnist")))
    assert r.status == "failed" and "Fashion-MNIST is not in the data directory" in r.message


def test_out_of_memory_says_use_a_smaller_batch_and_the_next_run_starts(manager, monkeypatch):
    def oom(*a, **k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, like the engine's train

    monkeypatch.setattr(runs_mod, "train", oom)
    r = finish(manager.start(quick(batch=64)))
    assert r.status == "failed"
    assert "ran out of memory with batch size 64" in r.message and "smaller batch size (for example 32)" in r.message
    monkeypatch.undo()
    assert finish(manager.start(quick(epochs=0.1))).status == "finished"


def test_non_finite_loss_stops_the_run_with_a_message(manager):
    r = finish(manager.start(quick(lr=1e6, epochs=1, recipe="seed000", model="seed000_net", optimizer="sgd")))
    assert r.status == "diverged", r.message
    assert "learning rate" in r.message and "smaller" in r.message


def test_shipped_checkpoints_are_never_overwritten(tmp_path, data_dir):
    shipped = tmp_path / "checkpoints" / "mnist.safetensors"
    shipped.parent.mkdir()
    shipped.write_bytes(b"shipped")
    m = RunManager(tmp_path / "checkpoints", data_dir, device="cpu", protected=(shipped,))
    r = finish(m.start(quick(epochs=0.1)))
    assert r.status == "finished" and r.checkpoint != shipped
    assert shipped.read_bytes() == b"shipped"


def test_a_run_started_during_the_warm_up_stops_it_and_starts_at_once(manager):
    """The launch warm-up (real, on the CPU here: cifar10_fast and mnist_fast on random data, about
    15 s on two cores if left alone) gives way to a run: the run stops it at its next step."""
    ex = manager.executor
    ex.warm_up_in_background(1, ("cifar10_fast", "mnist_fast"), device_types=("cpu",))
    time.sleep(0.5)
    assert not ex._device_ready.is_set()  # still warming up
    t0 = time.perf_counter()
    run = finish(manager.start(quick(epochs=0.5), session="s1"))
    assert run.status == "finished", run.message
    assert ex._warm_up_stop.is_set() and ex._device_ready.is_set()
    assert time.perf_counter() - t0 < 8, "the run waited for the whole warm-up"
