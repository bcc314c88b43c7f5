"""ONNX export and serving: ONNX Runtime gives PyTorch's logits on real test images, the standalone
examples/predict_onnx.py gives the app's answers, and the Predictor picks a backend (and falls back
to PyTorch without onnxruntime)."""

import importlib.util
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnn.checkpoint import load_checkpoint, read_metadata, rewrite_metadata
from cnn.data import load_dataset
from cnn.data.normalize import Normalizer
from cnn.errors import ConfigError
from cnn.evaluation import Augmentation, tta_logits
from cnn.serving.digits import prepare_digit
from cnn.serving.onnx_export import export_checkpoint, file_sha256, read_onnx_metadata
from cnn.serving.photos import prepare_photo
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = {
    "mnist": ROOT / "checkpoints" / "mnist.safetensors",
    "cifar10": ROOT / "checkpoints" / "cifar10.safetensors",
}
SCRIPT = ROOT / "examples" / "predict_onnx.py"


@pytest.fixture(scope="module")
def ort():
    return pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(ort, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    return {name: export_checkpoint(path, out / f"{name}.onnx") for name, path in CHECKPOINTS.items()}


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("predict_onnx", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_onnx_runtime_matches_pytorch_on_test_images(name, exported, ort, data_dir):
    model, meta = load_checkpoint(CHECKPOINTS[name])
    images = load_dataset(name, data_dir, train=False).test.images[:300]
    x = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], "cpu", meta["input_shape"][0])(images)
    with torch.inference_mode():
        want = tta_logits(model, x, Augmentation.served(meta.get("tta_flip", False)), stack=True).numpy()
    session = ort.InferenceSession(str(exported[name]), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]  # one batch of 300: the batch size is dynamic
    assert got.shape == want.shape == (300, 10)
    assert np.abs(got - want).max() < 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()
    assert session.run(None, {"input": x[:1].numpy()})[0].shape == (1, 10)


def test_export_carries_what_a_prediction_needs(exported):
    for name in exported:
        meta, props = read_metadata(CHECKPOINTS[name]), read_onnx_metadata(exported[name])
        assert props["classes"] == meta["classes"] and props["input_shape"] == meta["input_shape"]
        assert props["mean"] == pytest.approx(meta["normalization"]["mean"])
        assert props["std"] == pytest.approx(meta["normalization"]["std"])
        assert props["temperature"] == meta["temperature"] != 1.0  # the shipped checkpoints are calibrated
        assert props["tta_flip"] == ("in_graph" if meta["tta_flip"] else "none")
        assert props["preparation"] == ("mnist_digit" if name == "mnist" else "centre_crop")
        assert "centre of mass" in props["preparation_note"] or "centre crop" in props["preparation_note"]
        assert props["checkpoint_sha256"] == file_sha256(CHECKPOINTS[name])


def test_export_command(ort, tmp_path):
    out = tmp_path / "m.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "cnn.export", str(CHECKPOINTS["mnist"]), "--onnx", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "wrote" in r.stdout and "preparation mnist_digit" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "cnn.export", str(tmp_path / "none.safetensors"), "--onnx", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "No checkpoint file" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ the standalone script


def canvases(data_dir, n=6):
    """MNIST test digits drawn large and off-centre on a 560x560 transparent canvas (as bench/inference_latency.py)."""
    mnist = load_dataset("mnist", data_dir, train=False).test
    out = []
    for i in range(n):
        digit = Image.fromarray(mnist.images[i, 0].numpy()).resize((300, 300), Image.Resampling.BILINEAR)
        canvas = Image.new("RGBA", (560, 560), (0, 0, 0, 0))
        canvas.paste(Image.new("RGBA", digit.size, (0, 0, 0, 255)), (40 + 37 * i, 60 + 23 * i), digit)
        out.append((canvas, str(int(mnist.labels[i]))))
    return out


def photos(data_dir, n=6):
    """CIFAR-10 test images enlarged to 640x480."""
    cifar = load_dataset("cifar10", data_dir, train=False)
    return [
        (
            Image.fromarray(cifar.test.images[i].permute(1, 2, 0).numpy()).resize((640, 480), Image.Resampling.BICUBIC),
            cifar.classes[int(cifar.test.labels[i])],
        )
        for i in range(n)
    ]


def _same_answer(script_probs: dict, app_probs: dict):
    assert list(script_probs) == list(app_probs)
    assert max(script_probs, key=script_probs.get) == max(app_probs, key=app_probs.get)
    assert max(abs(script_probs[k] - app_probs[k]) for k in app_probs) < 1e-3


def test_script_gives_the_apps_answer_on_drawn_digits(script, exported, data_dir, tmp_path):
    pred = Predictor.from_checkpoint(CHECKPOINTS["mnist"], backend="pytorch")
    right = 0
    for i, (canvas, label) in enumerate(canvases(data_dir)):
        path = tmp_path / f"digit{i}.png"
        canvas.save(path)
        app = pred.predict(pred.fit(prepare_digit(canvas).image))
        assert np.array_equal(
            script.prepare_digit(script.load_image(str(path)))[0], prepare_digit(canvas).image[0].numpy()
        )  # the same 28 x 28
        _same_answer(script.predict(str(exported["mnist"]), str(path)), app)
        right += max(app, key=app.get) == label
    assert right >= 5


def test_script_gives_the_apps_answer_on_photos(script, exported, data_dir, tmp_path):
    pred = Predictor.from_checkpoint(CHECKPOINTS["cifar10"], backend="pytorch")
    for i, (photo, _) in enumerate(photos(data_dir)):
        path = tmp_path / f"photo{i}.png"
        photo.save(path)
        _same_answer(script.predict(str(exported["cifar10"]), str(path)), pred.predict(prepare_photo(photo)[0]))


def test_script_runs_without_torch_or_cnn(exported, tmp_path):
    shutil.copy(ROOT / "examples" / "cat.png", tmp_path / "cat.png")
    code = (
        "import runpy, sys; sys.argv = ['predict_onnx.py', sys.argv[1], sys.argv[2], '--top', '3']; "
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'cnn')]; assert not bad, bad"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(exported["cifar10"]), "cat.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == "cat"


# ------------------------------------------------------------------ serving through ONNX Runtime


def test_predictor_serves_through_onnx_runtime_with_a_cached_export(ort, tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    fast = Predictor.from_checkpoint(CHECKPOINTS["cifar10"], backend="onnxruntime")
    eager = Predictor.from_checkpoint(CHECKPOINTS["cifar10"], backend="pytorch")
    assert (
        fast.backend == "onnxruntime"
        and eager.backend == "pytorch"
        and set(fast.backend_ms) == {"pytorch", "onnxruntime"}
    )
    cached = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(cached) == 1 and cached[0].name.startswith(file_sha256(CHECKPOINTS["cifar10"])[:32])
    stamp = cached[0].stat().st_mtime_ns
    auto = Predictor.from_checkpoint(CHECKPOINTS["cifar10"])  # whichever measured faster
    assert auto.backend in ("onnxruntime", "pytorch") and cached[0].stat().st_mtime_ns == stamp  # not exported again
    for photo, _ in photos(data_dir, 4):
        x = prepare_photo(photo)[0]
        assert torch.allclose(fast.probabilities(x), eager.probabilities(x), atol=1e-5)
        assert (fast.logits(x) - eager.logits(x)).abs().max() < 1e-4

    copy = tmp_path / "recalibrated.safetensors"  # a changed file (a new temperature) is exported again
    shutil.copy(CHECKPOINTS["cifar10"], copy)
    rewrite_metadata(copy, dict(read_metadata(copy), temperature=0.75))
    Predictor.from_checkpoint(copy, backend="onnxruntime")
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 2


def test_onnx_runtime_predictor_is_thread_safe(ort, tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path))
    pred = Predictor.from_checkpoint(CHECKPOINTS["mnist"], backend="onnxruntime")
    inputs = [pred.fit(prepare_digit(c).image) for c, _ in canvases(data_dir, 4)]
    want = [pred.probabilities(x) for x in inputs]
    errors = []

    def work():
        for _ in range(25):
            for x, w in zip(inputs, want):
                if not torch.equal(pred.probabilities(x), w):
                    errors.append("differs")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_without_onnxruntime_the_predictor_stays_on_pytorch(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    pred = Predictor.from_checkpoint(CHECKPOINTS["mnist"])
    assert pred.backend == "pytorch" and "onnxruntime is not installed" in pred.backend_reason
    assert not list(tmp_path.glob("**/*.onnx"))  # nothing exported
    x = torch.zeros(1, 28, 28, dtype=torch.uint8)
    x[0, 5:23, 13:15] = 255  # a "1"
    p = pred.predict(x)
    assert sum(p.values()) == pytest.approx(1, abs=1e-5)
    assert max(p, key=p.get) == "1" and p["1"] > 0.9, p  # PyTorch reads it as the ONNX graph would
    with pytest.raises(ConfigError, match="onnxruntime is not installed"):
        Predictor.from_checkpoint(CHECKPOINTS["mnist"], backend="onnxruntime")
    with pytest.raises(ConfigError, match="Unknown backend"):
        Predictor.from_checkpoint(CHECKPOINTS["mnist"], backend="tensorrt")


def test_two_exports_at_once_both_succeed(ort, tmp_path):
    """Two runs finishing together export at the same moment: torch.onnx.export is process-wide
    state, so the exports take turns (cnn.serving.onnx_export._EXPORT_LOCK) and both are written."""
    start, errors, outs = threading.Barrier(4), [], []

    def export(i):
        start.wait()
        try:
            outs.append(export_checkpoint(CHECKPOINTS["cifar10" if i % 2 else "mnist"], tmp_path / f"m{i}.onnx"))
        except Exception as exc:  # what the failing page saw
            errors.append(repr(exc))

    threads = [threading.Thread(target=export, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert len(outs) == 4 and all(read_onnx_metadata(p)["classes"] for p in outs)
