"""Issue 26: a project folder made by hand, whose project.json says only {"kind": "drawings"}: its
classes come from its sub-folders, its train/ and test/ folders are its splits, and
`python -m cnn.train --dataset <folder> --init-from checkpoints/mnist.safetensors` trains on it.
The model it makes exports to ONNX (`python -m cnn.export`) with the drawing preparation, and
examples/predict_onnx.py gives the app's answer for it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from thick_drawings import DIGIT_STROKES, FILLED, drawn

from cnn.checkpoint import read_metadata
from cnn.projects import Project, load_project
from cnn.serving.digits import prepare_digit
from cnn.serving.onnx_export import preparation
from cnn.serving.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"seven": (DIGIT_STROKES["7"], False), "ring": (DIGIT_STROKES["0"], False), "block": (FILLED["square"], True)}


def example(cls: str, k: int):
    strokes, fill = SHAPES[cls]
    return drawn(strokes, 0.25 + 0.05 * (k % 5), 20 + 6 * (k % 6), aspect=1.0 + 0.1 * (k % 4), filled=fill)


def hand_made(root: Path, per_class: int = 6, splits: bool = False) -> Path:
    """A drawings folder as a person makes it: project.json with the kind alone, a folder per class
    (under train/ and test/, two of each class in test/, when splits)."""
    root.mkdir(parents=True)
    (root / "project.json").write_text(json.dumps({"kind": "drawings"}))
    for cls in SHAPES:
        for k in range(per_class):
            where = root / ("test" if k < 2 else "train") / cls if splits else root / cls
            where.mkdir(parents=True, exist_ok=True)
            example(cls, k).save(where / f"{cls}-{k}.png")
    return root


def test_a_hand_made_folder_takes_its_classes_from_its_sub_folders(tmp_path):
    folder = hand_made(tmp_path / "shapes")
    project = Project.open(folder)
    assert project.class_names() == sorted(SHAPES) and project.name == "shapes"
    data = load_project(folder)
    assert data.classes == sorted(SHAPES) and len(data.train) + len(data.test) == 18
    assert data.kind == "drawings" and data.preparation == "mnist_digit"


def test_a_hand_made_folder_uses_its_own_train_and_test_splits(tmp_path):
    folder = hand_made(tmp_path / "split", splits=True)
    data = load_project(folder)
    assert data.classes == sorted(SHAPES)
    assert len(data.train) == 3 * 4 and len(data.test) == 3 * 2  # exactly the folders' split
    assert sorted(data.test.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    project = Project.open(folder)
    added = project.add_example("ring", example("ring", 7))  # the Teach tab adds to train/
    assert added.parent == folder / "train" / "ring" and len(load_project(folder).train) == 13


def test_an_old_teach_checkpoint_exports_with_the_drawing_preparation():
    """Before checkpoints said their preparation: a Teach drawings model (its dataset a folder
    path) and any one-channel model are prepared as drawings, as the app serves them."""
    teach = {"input_shape": [1, 28, 28], "dataset": "/data/projects/shapes", "project": {"kind": "drawings"}}
    assert preparation(teach) == "mnist_digit"
    assert preparation({"input_shape": [1, 28, 28], "dataset": "fashion-mnist"}) == "mnist_digit"
    assert preparation(
        {"input_shape": [3, 32, 32], "dataset": "/data/projects/pets", "project": {"kind": "photos"}}
    ) == ("centre_crop")
    assert preparation({"input_shape": [3, 32, 32], "dataset": "x", "preparation": "mnist_digit"}) == "mnist_digit"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The CLI trains the hand-made folder, fine-tuning the shipped MNIST model."""
    tmp = tmp_path_factory.mktemp("handmade")
    folder = hand_made(tmp / "shapes", per_class=8)
    out = tmp / "shapes.safetensors"
    r = subprocess.run(
        [sys.executable, "-m", "cnn.train", "--dataset", str(folder), "--init-from",
         str(ROOT / "checkpoints" / "mnist.safetensors"), "--out", str(out), "--device", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return folder, out, r.stdout


def test_a_hand_made_drawings_folder_trains_with_init_from(trained):
    folder, out, stdout = trained
    meta = read_metadata(out)
    assert meta["classes"] == sorted(SHAPES) and meta["init_from"] == "mnist.safetensors"
    assert meta["preparation"] == "mnist_digit" and "test accuracy" in stdout
    assert meta["test_accuracy"] >= 0.5  # three shapes, fine-tuned from the digits: well above chance


def test_a_teach_drawings_model_exports_with_the_drawing_preparation_and_the_script_agrees(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    folder, ckpt, _ = trained
    onnx_file = tmp_path / "shapes.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "cnn.export", str(ckpt), "--onnx", str(onnx_file)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "preparation mnist_digit" in r.stdout
    spec = importlib.util.spec_from_file_location("predict_onnx", ROOT / "examples" / "predict_onnx.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    app = Predictor.from_checkpoint(ckpt, backend="pytorch")
    for i, cls in enumerate(sorted(SHAPES)):
        path = tmp_path / f"{cls}.png"
        example(cls, 9 + i).save(path)
        want = app.predict(app.fit(prepare_digit(example(cls, 9 + i)).image))
        got = script.predict(str(onnx_file), str(path))
        assert list(got) == list(want) and max(got, key=got.get) == max(want, key=want.get)
        assert max(abs(got[k] - want[k]) for k in want) < 1e-3, (got, want)
        assert np.array_equal(
            script.prepare_digit(script.load_image(str(path)))[0], prepare_digit(example(cls, 9 + i)).image[0].numpy()
        )
