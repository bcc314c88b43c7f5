"""The command line end to end: train a small model, evaluate it on the full test split."""
import re
import subprocess
import sys

from cnn.checkpoint import read_metadata


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600, **kw)


def test_train_then_evaluate(tmp_path, data_dir):
    out = tmp_path / "m.safetensors"
    r = cli("cnn.train", "--dataset", "mnist", "--model", "mnist_fast", "--epochs", "1", "--batch-size", "64", "--lr", "0.02",
            "--train-subset", "4000", "--test-subset", "1000", "--data-dir", str(data_dir), "--out", str(out))
    assert r.returncode == 0, r.stderr
    acc = float(re.search(r"^test accuracy: (0\.\d{4})$", r.stdout, re.M).group(1))
    assert acc > 0.8 and out.exists()
    assert "device cpu" in r.stdout and "epoch 1:" in r.stdout
    assert read_metadata(out)["test_accuracy"] == __import__("pytest").approx(acc, abs=1e-4)

    r = cli("cnn.evaluate", str(out), "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", lines[-1])
    assert "10000 test images" in lines[0] and lines[1].startswith("true \\ predicted")
    matrix = [list(map(int, l.split()[1:])) for l in lines[2:12]]
    assert sum(map(sum, matrix)) == 10000
    assert float(lines[-1].split()[-1]) > 0.8


def test_bad_settings_give_a_message_not_a_traceback(tmp_path, data_dir):
    r = cli("cnn.train", "--recipe", "mnist_fast", "--lr", "-1", "--data-dir", str(data_dir), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "Learning rate must be a number above zero" in r.stderr
    r = cli("cnn.evaluate", str(tmp_path / "missing.safetensors"))
    assert r.returncode == 2 and "No checkpoint file at" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_stops_cleanly_and_saves_the_weights_so_far(tmp_path, data_dir):
    import signal
    import time
    out = tmp_path / "m.safetensors"
    p = subprocess.Popen([sys.executable, "-m", "cnn.train", "--recipe", "mnist_fast", "--epochs", "5",
                          "--train-subset", "20000", "--test-subset", "500", "--data-dir", str(data_dir),
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("training mnist_fast")
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert "Traceback" not in stderr and "stopping after this step" in stderr
    assert "kept the weights so far" in stdout
    meta = read_metadata(out)
    assert meta["status"] == "stopped" and 0 < meta["epochs_completed"] < 5
