"""ONNX in the app: the Draw and Photo tabs say which backend serves their predictions (and why it is
PyTorch when it is), and the Runs tab offers a run's ONNX export beside its checkpoint."""

import shutil
import sys

import pytest
import torch
from app_helpers import checkpoint

import cnn.serving.predictor as predictor_module
from cnn.checkpoint import load_checkpoint, read_metadata
from cnn.data.normalize import Normalizer
from cnn.runs import RunManager
from cnn.serving.onnx_export import read_onnx_metadata
from ui import draw_tab, photo_tab, runs_tab
from ui.common import AppContext
from ui.outputs import named


@pytest.fixture()
def copies(tmp_path, monkeypatch):
    """A context whose Draw and Photo checkpoints are fresh copies of the shipped ones (so the
    predictor cache, keyed by path, loads them again here), with its own ONNX cache."""
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    runs.mkdir()
    paths = [shutil.copy(checkpoint(k), runs / f"{k}-copy.safetensors") for k in ("mnist", "cifar10")]
    return AppContext(RunManager(runs, device="cpu"), str(paths[0]), str(paths[1]))


def test_without_onnxruntime_the_tabs_say_they_use_pytorch(copies, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    path, about = draw_tab.use_shipped(copies)
    assert path == copies.draw_checkpoint
    assert "served by **PyTorch (onnxruntime not installed)**" in about and "mnist-copy.safetensors" in about
    about = named(photo_tab.SHIPPED, photo_tab.use_shipped(copies))["about"]
    assert "served by **PyTorch (onnxruntime not installed)**" in about
    assert "calibrated: T = 0.519" in about  # the shipped CIFAR-10 model's temperature


@pytest.mark.parametrize("onnx_ms, label", [(0.1, "ONNX Runtime"), (50.0, "PyTorch (ONNX Runtime measured slower)")])
def test_with_onnxruntime_the_faster_backend_serves_and_the_tab_says_which(copies, monkeypatch, onnx_ms, label):
    pytest.importorskip("onnxruntime")
    # the timing at load, made decisive: ONNX Runtime takes onnx_ms per image, PyTorch 1 ms
    monkeypatch.setattr(
        predictor_module, "median_ms", lambda fn, x: onnx_ms if isinstance(fn, predictor_module.OrtRunner) else 1.0
    )
    _, about = draw_tab.use_shipped(copies)
    assert f"served by **{label}**" in about
    pred = copies.predictor(copies.draw_checkpoint, "digit")
    assert pred.backend == ("onnxruntime" if onnx_ms < 1 else "pytorch") and pred.backend_label == label


def test_the_runs_tab_offers_a_runs_onnx_export_that_gives_its_logits(copies, mnist):
    ort = pytest.importorskip("onnxruntime")
    assert runs_tab.download_onnx(copies, None).interactive is False  # nothing chosen
    button = runs_tab.download_onnx(copies, "mnist-copy")
    path = button.value["path"]
    assert button.interactive and button.value["orig_name"] == "mnist-copy.onnx"
    again = runs_tab.download_onnx(copies, "mnist-copy").value["path"]
    assert again == path and len(list((copies.runs.runs_dir.parent / "cache" / "onnx").glob("*.onnx"))) == 1
    model, meta = load_checkpoint(copies.draw_checkpoint)
    x = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], "cpu", 1)(mnist.test.images[:64])
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.inference_mode():
        want = model.eval()(x)
    assert (torch.from_numpy(got) - want).abs().max() < 1e-4
    assert (torch.from_numpy(got).argmax(1) == mnist.test.labels[:64]).float().mean() > 0.95
    props = read_onnx_metadata(path)
    assert props["temperature"] == pytest.approx(read_metadata(copies.draw_checkpoint)["temperature"])
    assert props["classes"] == [str(i) for i in range(10)]
