"""Issue 6: the CLI trainer under torchrun, 2 CPU processes with Gloo, against a single process."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from cnn.checkpoint import load_checkpoint
from cnn.training.distributed import DistContext

ROOT = Path(__file__).resolve().parents[1]
# 8,000 images for 2 epochs: long enough (125 steps) for both runs to settle near 97%, so the
# 1-point bound tests the sharding, not the noise of a run cut short in its warm-up.
SETTINGS = [
    "--recipe",
    "mnist_fast",
    "--seed",
    "0",
    "--train-subset",
    "8000",
    "--test-subset",
    "2000",
    "--epochs",
    "2",
    "--batch-size",
    "128",
    "--lr",
    "0.05",
    "--quiet",
    "--device",
    "cpu",  # Gloo on the CPU: on a machine with GPUs, both ranks would otherwise pick CUDA
]


def _env(data_dir):
    env = dict(os.environ, CNN_DATA_DIR=str(data_dir), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _torchrun(nproc=2):
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--standalone",
        "-m",
        "cnn.train",
    ]


def test_shard_splits_every_global_batch_without_overlap():
    batch = torch.arange(10)
    shards = [DistContext(r, 3).shard(batch) for r in range(3)]
    assert [s.tolist() for s in shards] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert DistContext(0, 1).shard(batch) is batch
    # a last batch smaller than the number of ranks: one item each, never an empty shard
    assert [DistContext(r, 4).shard(torch.arange(2)).tolist() for r in range(4)] == [[0], [1], [0], [1]]


def test_two_cpu_processes_match_one(tmp_path, data_dir):
    env = _env(data_dir)
    one_dir, two_dir = tmp_path / "one", tmp_path / "two"
    single = subprocess.run(
        [sys.executable, "-m", "cnn.train", *SETTINGS, "--out", str(one_dir / "m.safetensors")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run(
        [*_torchrun(2), *SETTINGS, "--out", str(two_dir / "m.safetensors")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, (ddp.stdout + ddp.stderr)[-3000:]

    # only rank 0 prints, evaluates and saves: one start line, one final line, one checkpoint and its
    # event log, no temp files
    assert ddp.stdout.count("training mnist_fast") == 1
    assert "7200 train / 2000 test images, recipe mnist_fast, augmentation " in ddp.stdout
    assert "device cpu (1 thread) in fp32 channels-last, 2 processes" in ddp.stdout
    assert ddp.stdout.count("test accuracy:") == 1 and ddp.stdout.count("saved ") == 1
    assert sorted(p.name for p in two_dir.iterdir()) == ["m.jsonl", "m.safetensors"]

    _, m1 = load_checkpoint(one_dir / "m.safetensors", expect_architecture="mnist_fast")
    _, m2 = load_checkpoint(two_dir / "m.safetensors", expect_architecture="mnist_fast")
    # the same global batch and schedule: the same number of steps over the same data
    assert m2["recipe"] == m1["recipe"] and m2["recipe"]["batch_size"] == 128
    assert m1["epochs_completed"] == m2["epochs_completed"] == 2.0
    assert m1["status"] == m2["status"] == "finished"
    # both held out the same 800 training images (10%) and rank 0 fitted the temperature on them
    c1, c2 = m1["calibration"], m2["calibration"]
    assert c1["fitted_on"] == c2["fitted_on"] and c1["ece_images"] == c2["ece_images"] == 800
    assert c2["nll_after"] <= c2["nll_before"] and m2["temperature"] == pytest.approx(m1["temperature"], rel=0.25)
    assert ddp.stdout.count("Temperature") == 1
    assert m1["test_accuracy"] > 0.93, m1["test_accuracy"]
    assert abs(m2["test_accuracy"] - m1["test_accuracy"]) <= 0.01, (m1["test_accuracy"], m2["test_accuracy"])
    assert ddp.stdout.strip().splitlines()[-1] == f"test accuracy: {m2['test_accuracy']:.4f}"


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rank_of(pid):
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((int(e[5:]) for e in env if e.startswith(b"RANK=")), None)


@pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform != "linux", reason="needs Linux /proc")
def test_a_failing_rank_ends_the_whole_run_with_a_message(tmp_path, data_dir):
    out = tmp_path / "run" / "m.safetensors"
    cmd = [
        *_torchrun(2),
        "--recipe",
        "mnist_fast",
        "--train-subset",
        "8000",
        "--test-subset",
        "500",
        "--epochs",
        "50",
        "--quiet",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines, started = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("training mnist_fast"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(120), "".join(lines)[-3000:]
        time.sleep(1.0)  # both ranks are in the training loop now
        workers = {_rank_of(p): p for p in _children(proc.pid)}
        assert set(workers) == {0, 1}, workers
        os.kill(workers[1], signal.SIGKILL)
        rc = proc.wait(timeout=90)  # rank 0 must not hang in a collective waiting for rank 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    text = "".join(lines)
    assert rc != 0
    assert "cnn.train FAILED" in text
    root_cause = text.split("Root Cause (first observed failure):", 1)[1]
    assert "rank      : 1 (local_rank: 1)" in root_cause
    assert "Signal 9 (SIGKILL) received by PID" in root_cause
    for pid in workers.values():  # no rank is left running
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert not out.exists()
    # no checkpoint and no temporary file; only the event log of what the run did before it died
    left = sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []
    assert left in ([], ["m.jsonl"]), left
