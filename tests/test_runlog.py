"""Every run kept (cnn/runlog.py): the JSON-lines log a run writes beside its checkpoint, read back
(also after a kill), and its TensorBoard scalars read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from cnn.checkpoint import read_metadata
from cnn.evaluation import EvalResult
from cnn.runlog import RunLog, RunLogError, RunRecorder, TensorBoardLog, event_record, log_path, read_log, run_header
from cnn.training import End, EpochEnd, RunStatus, Start, Step, get_recipe

QUICK = ["--dataset", "mnist", "--train-subset", "2000", "--test-subset", "500", "--epochs", "0.3", "--quiet"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cnn.train", *args], capture_output=True, text=True, timeout=600)


def scalars(logdir) -> dict[str, list]:
    """{tag: [(step, value)]} as TensorBoard reads the event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    out = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    out["_hparams"] = list(acc.PluginTagToContent("hparams"))
    return out


def f32(x) -> float:
    return float(np.float32(x))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, data_dir):
    """A real short CPU run through the CLI, with TensorBoard on."""
    tmp = tmp_path_factory.mktemp("cli")
    out = tmp / "x.safetensors"
    r = cli(*QUICK, "--data-dir", str(data_dir), "--out", str(out), "--tensorboard", str(tmp / "tb"))
    assert r.returncode == 0, r.stderr
    return out, tmp / "tb", r


def test_the_cli_keeps_every_event_of_its_run(cli_run):
    out, _, r = cli_run
    log = out.with_suffix(".jsonl")
    assert log_path(out) == log and log.is_file()
    h = read_log(log)
    assert h.skipped == 0 and h.complete and h.problems() == []
    assert h.header["source"] == "cli" and h.header["recipe"]["name"] == "mnist_fast"
    assert h.header["recipe"]["epochs"] == 0.3 and h.header["train_subset"] == 2000
    # 2,000 images: 200 (10%) held out to fit the temperature on, 1,800 trained on
    assert (h.start.model, h.start.n_train, h.start.n_test) == ("mnist_fast", 1800, 500)
    steps = [s.step for s in h.steps]
    assert steps == sorted(set(steps)) and steps[-1] == h.start.total_steps and len(steps) >= 2
    assert all(s.loss > 0 and s.lr >= 0 and s.images_per_s > 0 for s in h.steps)
    assert [e.epoch for e in h.epochs] == [1] and h.epochs[0].test_accuracy is not None
    meta = read_metadata(out)
    assert h.end["metadata"] == meta  # End's metadata is the checkpoint's, without the model
    assert h.end["status"] == "finished" and "model" not in h.end
    assert h.end["test_accuracy"] == pytest.approx(meta["test_accuracy"]) == pytest.approx(h.epochs[0].test_accuracy)
    assert sum(map(sum, h.end["evaluation"]["confusion"])) == 500
    assert f"test accuracy: {meta['test_accuracy']:.4f}" in r.stdout
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[:2] == ["run", "start"] and kinds[-1] == "end" and kinds.count("epoch") == 1


def test_tensorboard_scalars_equal_the_events(cli_run):
    out, tb, _ = cli_run
    h = read_log(out.with_suffix(".jsonl"))
    got = scalars(tb / out.stem)  # one sub-folder per run, named as its checkpoint
    assert got["train/loss"] == [(s.step, f32(s.loss)) for s in h.steps]
    assert got["train/lr"] == [(s.step, f32(s.lr)) for s in h.steps]
    assert got["train/images_per_s"] == [(s.step, f32(s.images_per_s)) for s in h.steps]
    assert got["accuracy/train"] == [(e.epoch, f32(e.train_accuracy)) for e in h.epochs]
    assert got["accuracy/test"] == [(e.epoch, f32(e.test_accuracy)) for e in h.epochs]
    assert got["hparam/test_accuracy"] == [(0, f32(h.end["test_accuracy"]))]
    assert "_hparams_/experiment" in got["_hparams"]


def test_a_killed_runs_log_is_read_up_to_its_last_whole_line(cli_run, tmp_path):
    out, _, _ = cli_run
    whole = out.with_suffix(".jsonl").read_bytes()
    lines = whole.splitlines(keepends=True)
    cut = tmp_path / "killed.jsonl"
    cut.write_bytes(b"".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # killed mid-line
    h = read_log(cut)
    full = read_log(out.with_suffix(".jsonl"))
    assert h.skipped == 1 and h.lines == 6
    assert h.start == full.start and h.steps == full.steps[:3] and h.end is None and not h.complete
    assert any("1 of 6 line(s) unreadable" in p for p in h.problems())
    assert any("no end" in p for p in h.problems())
    cut.write_bytes(b"\x00\xff garbage\n{not json\n[1, 2]\n")
    h = read_log(cut)
    assert (h.skipped, h.lines, h.start) == (3, 3, None)
    assert "log: nothing readable in it" in h.problems()


def test_an_unwritable_tensorboard_dir_warns_and_the_run_finishes(tmp_path, data_dir):
    blocker = tmp_path / "tb"
    blocker.write_text("a file where the TensorBoard folder should go")
    out = tmp_path / "y.safetensors"
    r = cli(
        "--dataset",
        "mnist",
        "--train-subset",
        "500",
        "--test-subset",
        "100",
        "--epochs",
        "0.2",
        "--quiet",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--tensorboard",
        str(blocker),
    )
    assert r.returncode == 0, r.stderr
    assert "warning: cannot write TensorBoard logs to" in r.stderr and "Traceback" not in r.stderr
    assert out.is_file() and read_log(out.with_suffix(".jsonl")).end["status"] == "finished"


def events(model: torch.nn.Module) -> list:
    ev = EvalResult(0.5, 1.25, torch.tensor([[3, 1], [1, 3]]), torch.tensor([0, 1]), torch.rand(2, 2))
    epoch = EpochEnd(1, 0.7, 0.6, 0.8, 0.5, 2.0, 1.5)
    return [
        Start("cpu", "mnist_fast", 10, 100, 8, 1.0, 10, 10, 10),
        Step(5, 10, 0.5, 0.9, 0.1, 250.0, 1.0, 1.0),
        Step(10, 10, 1.0, 0.7, 0.0, 260.5, 2.0, 0.0),
        epoch,
        End(RunStatus.FINISHED, "done", model, {"architecture": "mnist_fast", "x": [1, 2]}, 0.5, 2.5, [epoch], ev),
    ]


def test_the_log_round_trips_every_event(tmp_path):
    model = torch.nn.Linear(2, 2)
    evs = events(model)
    path = tmp_path / "r.jsonl"
    log = RunLog.open(path, run_header(get_recipe("mnist_fast").as_dict(), "mnist", "test"))
    for ev in evs:
        log.write(ev)
    assert log.close() == path
    h = read_log(path)
    assert h.start == evs[0] and h.steps == evs[1:3] and h.epochs == [evs[3]] and h.skipped == 0
    assert (
        h.end
        == event_record(evs[4])
        == {
            "kind": "end",
            "status": "finished",
            "message": "done",
            "test_accuracy": 0.5,
            "elapsed": 2.5,
            "metadata": {"architecture": "mnist_fast", "x": [1, 2]},
            "evaluation": {"accuracy": 0.5, "loss": 1.25, "confusion": [[3, 1], [1, 3]]},
        }
    )
    assert h.header["recipe"] == json.loads(json.dumps(get_recipe("mnist_fast").as_dict()))


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path):
    log = RunLog.open(tmp_path / "r.jsonl", {"kind": "run"})
    log.write(events(torch.nn.Linear(2, 2))[0])
    assert read_log(tmp_path / "r.jsonl").start.model == "mnist_fast"  # before close
    log.fail("out of memory")
    log.close(checkpoint=tmp_path / "final.safetensors")  # the log takes the checkpoint's stem
    h = read_log(tmp_path / "final.jsonl")
    assert h.failure == "out of memory" and h.complete and not (tmp_path / "r.jsonl").exists()


def test_an_unwritable_log_is_refused_with_a_message(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunLogError, match="Cannot write the run log"):
        RunLog.open(tmp_path / "file" / "x.jsonl")


def test_recorder_writes_tensorboard_beside_the_log_and_survives_a_blocked_folder(tmp_path):
    warnings = []
    (tmp_path / "blocked").write_text("")
    rec = RunRecorder.open(tmp_path / "run.safetensors", None, tensorboard=tmp_path / "blocked", warn=warnings.append)
    assert rec.tensorboard.writer is None and "cannot write TensorBoard logs" in warnings[0]
    for ev in events(torch.nn.Linear(2, 2)):
        rec.write(ev)  # goes on without TensorBoard
    rec.close()
    assert read_log(tmp_path / "run.jsonl").end["status"] == "finished"
    tb = TensorBoardLog(tmp_path / "tb", warn=warnings.append)
    for ev in events(torch.nn.Linear(2, 2)):
        tb.write(ev)
    tb.close()
    got = scalars(tmp_path / "tb")
    assert got["train/loss"] == [(5, f32(0.9)), (10, f32(0.7))] and got["accuracy/test"] == [(1, 0.5)]
    assert len(warnings) == 1
