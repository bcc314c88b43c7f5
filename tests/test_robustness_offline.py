"""Issue 5: a named data set that is not there, offline: the CLI names the directory and what it
should hold, and a download that cannot reach its server, or stalls, fails at once with that message."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn.data import load_dataset
from cnn.data import sources as data_mod
from cnn.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = (
    "It should contain MNIST/raw/ with the four IDX files (train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte). Or pass "
    "--data-dir (or set CNN_DATA_DIR) to a directory that has it, or run once with internet access."
)


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
