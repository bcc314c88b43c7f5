"""Issue 5, core parts: bad training settings and data, unsafe or mismatched checkpoints, a kill
during a checkpoint write, and a run whose loss stops being finite. Every refusal is checked by
its message, not only by its type."""

import json
import math
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from cnn.checkpoint import META_KEY, load_checkpoint, read_metadata, save_checkpoint
from cnn.data import Dataset, Split, load_dataset, load_image_folder
from cnn.data import sources as data_mod
from cnn.errors import CheckpointError, ConfigError, DataError
from cnn.models import build_model
from cnn.training import train
from cnn.training.recipes import get_recipe

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = (
    "It should contain MNIST/raw/ with the four IDX files (train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte). Or pass "
    "--data-dir (or set CNN_DATA_DIR) to a directory that has it, or run once with internet access."
)


def _tiny(n_train=64, n_test=16) -> Dataset:
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), torch.arange(n) % 2)

    return Dataset("tiny", ["a", "b"], split(n_train), split(n_test))


# ---------------------------------------------------------------- training settings

LR_MSG = "Learning rate must be a number above zero (got {}); try 0.001 for Adam or 0.01 for SGD."


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lr": 0.0}, LR_MSG.format(0.0)),
        ({"lr": -0.1}, LR_MSG.format(-0.1)),
        ({"lr": float("nan")}, LR_MSG.format(float("nan"))),
        ({"epochs": 0}, "Epochs must be above zero (got 0)."),
        ({"epochs": -1.5}, "Epochs must be above zero (got -1.5)."),
        ({"batch_size": 0}, "Batch size must be a whole number of at least 1 (got 0)."),
        (
            {"batch_size": 65},
            "Batch size 65 is larger than the training set (64 images); use a batch size of at most 64.",
        ),
    ],
)
def test_settings_that_cannot_train_are_refused(changes, message):
    recipe = get_recipe("mnist_fast").replace(**changes)
    with pytest.raises(ConfigError) as e:
        recipe.validate(64)
    assert str(e.value) == message
    with pytest.raises(ConfigError) as e:  # the engine refuses before building anything
        next(train(recipe, _tiny(64), device="cpu"))
    assert str(e.value) == message


def test_batch_size_equal_to_the_data_set_trains():
    end = list(train(get_recipe("mnist_fast").replace(batch_size=64, epochs=1), _tiny(64), device="cpu"))[-1]
    assert end.status == "finished" and end.metadata["epochs_completed"] == 1.0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lr", "0"], LR_MSG.format(0.0)),
        (["--lr", "-0.5"], LR_MSG.format(-0.5)),
        (["--epochs", "0"], "Epochs must be above zero (got 0.0)."),
        (
            ["--train-subset", "100", "--batch-size", "500"],
            "Batch size 500 is larger than the training set (100 images); use a batch size of at most 100.",
        ),
    ],
)
def test_cli_refuses_bad_settings_with_one_line_and_exit_2(flags, message, tmp_path, data_dir, capsys):
    from cnn.cli.train import main

    out = tmp_path / "m.safetensors"
    with pytest.raises(SystemExit) as e:
        main(["--recipe", "mnist_fast", "--data-dir", str(data_dir), "--out", str(out), "--quiet", *flags])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()


# ---------------------------------------------------------------- image folders


def _images(folder: Path, n: int, shade: int, size=(28, 28)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("L", size, min(255, shade + i)).save(folder / f"{i}.png")


def test_missing_folder_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError) as e:
        load_dataset("holiday_photos", tmp_path / "data")
    assert str(e.value) == (
        f"No data set named 'holiday_photos' and no folder {tmp_path / 'data' / 'holiday_photos'}. "
        f"Use one of mnist, fashion-mnist, cifar10, or a folder with one sub-folder of images per class."
    )
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path / "nowhere")
    assert str(e.value) == f"The image folder {tmp_path / 'nowhere'} does not exist."


def test_folder_with_fewer_than_two_classes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "pets"
    _images(root / "cat", 4, 10)
    with pytest.raises(DataError) as e:
        load_image_folder(root)
    assert str(e.value) == (
        f"The image folder {root} has 1 class sub-folder(s) (cat); a classifier needs at least "
        f"two. Put each class's images in a sub-folder named after the class, e.g. "
        f"{root}/cat/*.png, {root}/dog/*.png."
    )
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.new("L", (28, 28)).save(loose / "a.png")
    with pytest.raises(DataError, match=re.escape(f"The image folder {loose} has 0 class sub-folder(s) (none);")):
        load_image_folder(loose)


def _unreadable_folder(root: Path) -> list[str]:
    _images(root / "a", 5, 20)
    _images(root / "b", 5, 200)
    (root / "a" / "notes.png").write_text("this is a text file with an image's name\n")
    good = root / "b" / "0.png"
    (root / "b" / "truncated.png").write_bytes(good.read_bytes()[:40])
    (root / "b" / "empty.jpg").write_bytes(b"")
    return sorted(str(root / p) for p in ("a/notes.png", "b/empty.jpg", "b/truncated.png"))


def test_unreadable_files_are_named_and_the_rest_used(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    bad = _unreadable_folder(tmp_path / "shapes")
    ds = load_image_folder(tmp_path / "shapes")
    assert sorted(ds.skipped) == bad
    assert len(ds.train) + len(ds.test) == 10  # every readable image, none of the broken ones
    assert ds.input_shape == (1, 28, 28) and ds.classes == ["a", "b"]
    assert sorted(load_image_folder(tmp_path / "shapes").skipped) == bad  # the cache keeps the list


def test_cli_warns_about_unreadable_files_and_trains_on_the_rest(tmp_path, monkeypatch, capsys):
    from cnn.cli.train import main

    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "shapes"
    bad = _unreadable_folder(root)
    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "--dataset",
                str(root),
                "--model",
                "mnist_fast",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--quiet",
                "--out",
                str(out),
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    files = re.search(r"^warning: skipped 3 unreadable file\(s\): (.*)$", err, re.M)
    assert files and sorted(files.group(1).split(", ")) == bad
    meta = read_metadata(out)
    assert meta["classes"] == ["a", "b"] and meta["status"] == "finished"


def test_folder_of_only_unreadable_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    for cls in ("a", "b"):
        (tmp_path / "junk" / cls).mkdir(parents=True)
        (tmp_path / "junk" / cls / "x.png").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path / "junk")
    assert str(e.value) == (
        f"None of the 2 files in {tmp_path / 'junk'} could be read as an image (for example "
        f"{tmp_path / 'junk' / 'a' / 'x.png'}). Use PNG, JPEG, BMP, GIF or WebP images."
    )


def test_folder_outside_the_data_dir_is_refused_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    data, outside = tmp_path / "data", tmp_path / "elsewhere"
    _images(outside / "a", 3, 0)
    _images(outside / "b", 3, 250)
    _images(data / "inside" / "a", 3, 0)
    _images(data / "inside" / "b", 3, 250)
    (data / "link").symlink_to(outside, target_is_directory=True)
    message = (
        f"The folder {outside} is outside the data directory {data}. Move or copy it under the data "
        f"directory (a symbolic link to it is refused too), or start with --allow-any-path to train on "
        f"folders anywhere."
    )
    for name in (str(outside), "../elsewhere", "inside/../../elsewhere", "link", str(data / "link")):
        with pytest.raises(DataError) as e:
            load_dataset(name, data)
        assert str(e.value) == message, name
    with pytest.raises(
        DataError, match=re.escape(f"The folder {Path('/etc').resolve()} is outside the data directory")
    ):
        load_dataset("/etc", data)
    assert load_dataset("inside", data).classes == ["a", "b"]
    assert load_dataset(str(outside), data, allow_any_path=True).classes == ["a", "b"]
    assert load_dataset("link", data, allow_any_path=True).classes == ["a", "b"]


# ---------------------------------------------------------------- a data set that is not there, offline


def test_cli_names_the_directory_and_its_contents_when_mnist_is_missing_offline(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # Offline whatever the machine: any download goes through a proxy on a closed local port.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnn.train",
            "--dataset",
            "mnist",
            "--recipe",
            "mnist_fast",
            "--data-dir",
            str(empty),
            "--out",
            str(tmp_path / "m.safetensors"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - t0 < 60
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert re.fullmatch(
        re.escape(f"error: MNIST is not in the data directory {empty} and could not be downloaded (")
        + r"RuntimeError: .*Connection refused.*"
        + re.escape(f"). {MNIST_FILES}"),
        lines[0],
    ), lines[0]
    assert not (tmp_path / "m.safetensors").exists()


def test_an_unreachable_download_server_fails_at_once(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    with socket.socket() as s:  # a local port with nothing listening: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(tvd.MNIST, "mirrors", [f"http://127.0.0.1:{port}/mnist/"])
    for k in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(k)
    t0 = time.monotonic()
    with pytest.raises(DataError) as e:
        load_dataset("mnist", tmp_path)
    assert time.monotonic() - t0 < 10
    assert str(e.value).startswith(
        f"MNIST is not in the data directory {tmp_path} and could not be downloaded "
        f"(no connection to 127.0.0.1: [Errno 111] Connection refused). "
    )
    assert str(e.value).endswith(MNIST_FILES)
    assert list(tmp_path.iterdir()) == []  # no download was started, nothing was left behind


def test_a_stalled_download_times_out_instead_of_hanging(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    server = socket.socket()  # accepts connections (the kernel does) but never answers
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    monkeypatch.setattr(tvd.MNIST, "mirrors", [f"http://127.0.0.1:{port}/mnist/"])
    monkeypatch.setattr(data_mod, "DOWNLOAD_TIMEOUT_S", 1)
    for k in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(k)
    old_default = socket.getdefaulttimeout()
    try:
        t0 = time.monotonic()
        with pytest.raises(DataError) as e:
            load_dataset("mnist", tmp_path)
        assert time.monotonic() - t0 < 15
    finally:
        server.close()
    assert re.match(
        re.escape(f"MNIST is not in the data directory {tmp_path} and could not be downloaded (")
        + r"(TimeoutError|URLError|RuntimeError): .*timed out",
        str(e.value),
    ), str(e.value)
    assert str(e.value).endswith(MNIST_FILES)
    assert socket.getdefaulttimeout() == old_default  # the time limit was only for the download


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


def test_a_kill_during_a_checkpoint_write_leaves_the_old_or_the_new_file(tmp_path):
    path = tmp_path / "ckpt" / "model.safetensors"
    code = WRITER
    base = 1_000_000  # generations of the same width: every complete file has the same size
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(base)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == str(base)  # the good file already in place
    proc.kill()
    proc.wait()
    assert _generation(path) == base
    size = path.stat().st_size
    killed_mid_write, last = 0, base
    for round_ in range(1, 5):
        first = base + round_ * 1000
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(path), str(first)], cwd=ROOT, stdout=subprocess.PIPE, text=True
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


# ---------------------------------------------------------------- a loss that stops being finite


def test_an_absurd_learning_rate_ends_the_run_as_diverged_with_finite_weights(mnist):
    data = Dataset("mnist", mnist.classes, mnist.train.subset(1000), mnist.test.subset(200))
    recipe = get_recipe("seed000").replace(optimizer="sgd", lr=1e6, epochs=1)  # seed000_net has no BN
    events = list(train(recipe, data, device="cpu", log_every=1))
    end = events[-1]
    assert end.kind == "end" and end.status == "diverged"
    assert re.fullmatch(
        r"The training loss became (nan|inf|-inf) at step \d+: the learning rate \(1000000\.0\) "
        r"is probably too high\. Kept the last good weights; try a learning rate about 10 times "
        r"smaller\.",
        end.message,
    ), end.message
    assert end.metadata["status"] == "diverged" and end.evaluation is None
    assert all(torch.isfinite(v).all() for v in end.model.state_dict().values() if v.is_floating_point())
    steps = [e for e in events if e.kind == "step"]
    assert steps and all(math.isfinite(s.loss) for s in steps)  # no non-finite loss was reported as progress
    assert steps[-1].step < int(re.search(r"at step (\d+)", end.message).group(1))
    x = data.test.images[:8].float() / 255
    assert torch.isfinite(end.model.eval()(x)).all()
