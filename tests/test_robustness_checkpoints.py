"""Issue 5: unsafe or mismatched checkpoints are refused with a message (never unpickled), and a kill
during a checkpoint write leaves the old or the new file, whole."""

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from cnn.checkpoint import META_KEY, load_checkpoint, read_metadata, save_checkpoint
from cnn.errors import CheckpointError
from cnn.models import build_model

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- checkpoints


def _meta(arch="mnist_fast", classes=10, shape=(1, 28, 28)):
    return {
        "architecture": arch,
        "classes": [str(i) for i in range(classes)],
        "input_shape": list(shape),
        "normalization": {"mean": [0.13], "std": [0.31]},
        "dataset": "mnist",
    }


@pytest.fixture()
def good(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(build_model("mnist_fast"), _meta(), tmp_path / "good.safetensors")


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 40,  # random-looking bytes
        b"This is a text file, not a checkpoint.\n" * 20,  # text
        b"",  # empty
        b"\x05\x00\x00",  # shorter than a safetensors header length
    ],
    ids=["bytes", "text", "empty", "tiny"],
)
def test_a_file_that_is_not_safetensors_is_refused(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    for load in (load_checkpoint, read_metadata):
        with pytest.raises(CheckpointError) as e:
            load(path)
        assert str(e.value) == (
            f"{path} is not a safetensors file. Use a .safetensors checkpoint written by CNN Playground."
        )


def test_a_damaged_safetensors_header_or_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "damaged.safetensors"
    path.write_bytes((16).to_bytes(8, "little") + b"{not json at all" + b"\0" * 64)
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"{path} is not a readable safetensors file (")
        + r".+"
        + re.escape("). Use a checkpoint written by CNN Playground (python -m cnn.train)."),
    ):
        load_checkpoint(path)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(foreign)
    assert str(e.value) == (
        f"{foreign} is a safetensors file but has no CNN Playground metadata (architecture, "
        f"classes, normalisation), so it cannot be used here."
    )
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "absent.safetensors")
    assert str(e.value) == f"No checkpoint file at {tmp_path / 'absent.safetensors'}."


class _Payload:
    """Unpickling this creates a file: the proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_refused_and_never_unpickled(tmp_path):
    zip_pickle, raw_pickle = tmp_path / "model.pt", tmp_path / "model.safetensors"
    torch.save(
        {"state_dict": build_model("mnist_fast").state_dict(), "x": _Payload(tmp_path / "pwned_zip")}, zip_pickle
    )
    raw_pickle.write_bytes(pickle.dumps({"x": _Payload(tmp_path / "pwned_raw")}, protocol=4))
    # the payloads are live: unpickling copies of them does create their marker files
    pickle.loads(pickle.dumps(_Payload(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()
    torch.load(zip_pickle, weights_only=False)
    assert (tmp_path / "pwned_zip").exists()
    (tmp_path / "pwned_zip").unlink()
    for path, marker in ((zip_pickle, "pwned_zip"), (raw_pickle, "pwned_raw")):
        for load in (load_checkpoint, read_metadata):
            with pytest.raises(CheckpointError) as e:
                load(path)
            assert str(e.value) == (
                f"{path} is a PyTorch pickle (torch.save) file. It is refused because unpickling can run "
                f"arbitrary code; convert it to safetensors or train a new checkpoint with python -m cnn.train."
            )
            assert not (tmp_path / marker).exists()
    # the command-line evaluator refuses it the same way, with no traceback
    r = subprocess.run(
        [sys.executable, "-m", "cnn.evaluate", str(zip_pickle)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {zip_pickle} is a PyTorch pickle (torch.save) file.")
    assert not (tmp_path / "pwned_zip").exists()


def test_weights_that_do_not_fit_the_named_architecture_are_refused(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file(build_model("seed002_net").state_dict(), str(other), metadata={META_KEY: json.dumps(_meta())})
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(other)
    assert str(e.value) == (
        f"{other} does not match the mnist_fast architecture it names: missing features.0.weight, "
        f"features.2.bias, features.2.num_batches_tracked, features.2.running_mean, features.2.running_var ...; "
        f"unexpected bn1.bias, bn1.num_batches_tracked, bn1.running_mean, bn1.running_var, bn1.weight ...."
    )

    five = tmp_path / "five.safetensors"  # the metadata says 10 classes, the head has 5
    save_file(
        build_model("mnist_fast", num_classes=5).state_dict(), str(five), metadata={META_KEY: json.dumps(_meta())}
    )
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(five)
    assert str(e.value) == (
        f"{five} does not match the mnist_fast architecture it names: head.bias is (5,) but "
        f"mnist_fast needs (10,); head.weight is (5, 128) but mnist_fast needs (10, 128)."
    )

    unknown = tmp_path / "unknown.safetensors"
    save_file({"w": torch.zeros(1)}, str(unknown), metadata={META_KEY: json.dumps(_meta(arch="resnet9000"))})
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(unknown)
    assert str(e.value) == f"{unknown} names an unknown architecture 'resnet9000'."


def test_a_checkpoint_for_another_architecture_or_class_count_is_refused(good):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(good, expect_architecture="cifar10_fast")
    assert str(e.value) == f"{good} holds a mnist_fast model, not the cifar10_fast expected here."
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(good, expect_classes=2)
    assert str(e.value) == f"{good} has 10 classes, but 2 are needed here."
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(good, expect_channels=3)
    assert str(e.value) == f"{good} takes 1-channel images, but 3-channel ones are needed here."
    model, meta = load_checkpoint(good, expect_architecture="mnist_fast", expect_classes=10, expect_channels=1)
    assert meta["architecture"] == "mnist_fast" and not model.training


# ---------------------------------------------------------------- a kill during a checkpoint write

WRITER = r"""
import sys, torch
from cnn.checkpoint import save_checkpoint
from cnn.models import build_model
path, first = sys.argv[1], int(sys.argv[2])
model = build_model("cifar10_fast")  # about 2 million weights: 8 MB a write
meta = {"architecture": "cifar10_fast", "classes": [str(i) for i in range(10)], "input_shape": [3, 32, 32],
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3}}
g = first
while True:
    with torch.no_grad():
        for v in model.state_dict().values():
            v.fill_(g)
    meta["generation"] = g
    save_checkpoint(model, meta, path)
    print(g, flush=True)
    g += 1
"""


def _generation(path: Path) -> int:
    """Load the checkpoint fully and return its generation; every weight must carry that number."""
    model, meta = load_checkpoint(path, expect_architecture="cifar10_fast")
    g = meta["generation"]
    for k, v in model.state_dict().items():
        assert torch.all(v == g), f"{k} is not uniformly {g}: a mixed or partial file"
    return g


def _kill_while_writing(path: Path, first: int, round_: int) -> tuple[list[int], set[str]]:
    """Start a writer from generation `first`, let it finish `round_` saves, then SIGKILL it as its
    next write is under way: (the generations it finished, the files there before that write)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(first)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    written = []
    reader = threading.Thread(target=lambda: written.extend(int(line) for line in proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(written) < round_ and time.monotonic() < deadline:  # let it replace the file a few times
            time.sleep(0.005)
        assert written, "the writer never finished a save"
        before = {p.name for p in path.parent.iterdir()}
        while time.monotonic() < deadline:  # wait for the next write to be under way, then kill it
            tmp = [p for p in path.parent.iterdir() if p.name.endswith(".tmp") and p.name not in before]
            if tmp:
                time.sleep(0.002 * round_)
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    return written, before


def test_a_kill_during_a_checkpoint_write_leaves_the_old_or_the_new_file(tmp_path):
    path = tmp_path / "ckpt" / "model.safetensors"
    base = 1_000_000  # generations of the same width: every complete file has the same size
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(base)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == str(base)  # the good file already in place
    proc.kill()
    proc.wait()
    assert _generation(path) == base
    size = path.stat().st_size
    killed_mid_write, last = 0, base
    for round_ in range(1, 5):
        first = base + round_ * 1000
        written, before = _kill_while_writing(path, first, round_)
        leftovers = [p for p in path.parent.iterdir() if p.name != path.name and p.name not in before]
        killed_mid_write += bool(leftovers)
        # Whatever moment the kill hit, the final name holds one whole file: the last completed
        # write, or the one being renamed into place at that instant.
        g = _generation(path)
        assert g in (written[-1], written[-1] + 1), (g, written[-3:])
        assert g > last and path.stat().st_size == size
        last = g
        # anything else is a hidden temporary file: ours (.model.safetensors.*.tmp) or the one
        # safetensors itself writes and renames onto ours (.tmp*)
        names = {p.name for p in path.parent.iterdir()}
        assert all(
            n == "model.safetensors"
            or (n.startswith(".model.safetensors.") and n.endswith(".tmp"))
            or n.startswith(".tmp")
            for n in names
        ), names
    print(f"{killed_mid_write} of 4 kills landed during a write")
    assert killed_mid_write >= 1, "no kill landed during a write; the test proved nothing"
    # a later save still replaces the file cleanly, whatever temporary files the kills left behind
    model, meta = load_checkpoint(path)
    meta["generation"] = -1
    with torch.no_grad():
        for v in model.state_dict().values():
            v.fill_(-1)
    save_checkpoint(model, meta, path)
    assert _generation(path) == -1
