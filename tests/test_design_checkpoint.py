"""A designed network is a model like any other: trained from the command line, kept in its
checkpoint's metadata and rebuilt from it (a tampered design refused), evaluated, exported to
ONNX, served, explained, fine-tuned from, and named by its summary in the Runs table."""

import itertools
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cnn.checkpoint import load_checkpoint, read_metadata, rewrite_metadata
from cnn.errors import CheckpointError, ConfigError
from cnn.models import count_parameters, parse
from cnn.models.design import summary
from cnn.run_index import list_runs
from cnn.runs.config import RunConfig
from cnn.serving.explain import Explainer
from cnn.serving.predictor import Predictor
from cnn.training import design_speed, get_recipe, train
from cnn.training.design_speed import seconds_per_epoch, seconds_per_step
from cnn.transfer import starting_weights

TINY = [
    {"layer": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"layer": "BatchNorm2d"},
    {"layer": "ReLU"},
    {"layer": "MaxPool2d", "kernel_size": 2},
    {"layer": "Residual", "layers": [{"layer": "Conv2d", "out_channels": 12, "kernel_size": 3, "padding": 1}]},
    {"layer": "ReLU"},
    {"layer": "MaxPool2d", "kernel_size": 2},
    {"layer": "Flatten"},
    {"layer": "Dropout", "p": 0.1},
    {"layer": "Linear"},
]


def cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    """A tiny design trained from the command line on 3,000 MNIST images: its checkpoint and output."""
    folder = tmp_path_factory.mktemp("runs")
    design = folder / "tiny.json"
    design.write_text(json.dumps(TINY))
    out = folder / "tiny-design.safetensors"
    r = cli(
        "cnn.train",
        "--dataset",
        "mnist",
        "--layers",
        str(design),
        "--epochs",
        "1",
        "--train-subset",
        "3000",
        "--test-subset",
        "500",
        "--calibration-holdout",
        "0",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_the_checkpoint_keeps_the_design_and_is_rebuilt_from_it(trained):
    path, stdout = trained
    d = parse(TINY, (1, 28, 28), 10)
    assert f"training design ({d.params:,} parameters)" in stdout and "recipe design" in stdout
    acc = float(stdout.strip().splitlines()[-1].split()[-1])
    assert acc > 0.8  # 2,700 steps' worth of images is enough for a small conv net
    meta = read_metadata(path)
    assert meta["architecture"] == "design" and meta["design"] == d.layers
    assert meta["recipe"]["name"] == "design" and meta["recipe"]["design"] == d.layers
    model, _ = load_checkpoint(path)
    assert count_parameters(model) == d.params and not model.training
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize(
    "tamper,message",
    [
        (lambda m: m.pop("design"), "needs its layers"),
        (lambda m: m.update(design="[{]"), "not valid JSON"),
        (lambda m: m["design"].__setitem__(0, {"layer": "os.system", "command": "rm"}), "unknown layer 'os.system'"),
        (lambda m: m["design"][0].update(kernel_size=[3, 3, 3]), "kernel_size must be"),
        (lambda m: m["design"][0].update(out_channels=9), r"does not match the design .* 0\.weight"),
        (lambda m: m["design"].insert(0, {"layer": "Conv2d", "out_channels": 1, "kernel_size": 1}), "does not match"),
        (
            lambda m: m["design"].__setitem__(slice(0, 7), []),
            r"does not match the design architecture it names: missing 2.bias",
        ),
    ],
)
def test_a_tampered_design_is_refused_like_any_bad_checkpoint(trained, tmp_path, tamper, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(trained[0].read_bytes())
    meta = read_metadata(path)
    tamper(meta)
    rewrite_metadata(path, meta)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        Predictor.from_checkpoint(path, backend="pytorch")


def test_evaluate_needs_no_design_file(trained, data_dir):
    r = cli("cnn.evaluate", str(trained[0]), "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr
    assert "design on mnist (10000 test images" in r.stdout
    assert float(r.stdout.strip().splitlines()[-1].split()[-1]) > 0.8


def test_onnx_export_gives_the_same_logits(trained, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "tiny.onnx"
    r = cli("cnn.export", str(trained[0]), "--onnx", str(out))
    assert r.returncode == 0, r.stderr
    model, _ = load_checkpoint(trained[0])
    x = torch.randn(3, 1, 28, 28)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-4)


def test_served_and_explained(trained, mnist):
    pred = Predictor.from_checkpoint(trained[0], backend="pytorch")
    image = mnist.test.images[0]
    probs = pred.predict(image)
    assert max(probs, key=probs.get) == str(int(mnist.test.labels[0]))
    assert pred.describe().startswith(summary(TINY, 10) + " trained on mnist")
    ex = Explainer(pred)
    maps = ex.feature_maps(image)
    assert [name for name, _ in maps] == ["0", "4.body.0", "4.shortcut"]  # 8 -> 12 channels: a 1x1 shortcut
    assert maps[0][1].shape == (8, 28, 28) and maps[1][1].shape == maps[2][1].shape == (12, 14, 14)
    cam = ex.grad_cam(image)
    assert cam.shape == (28, 28) and 0 <= cam.min() and cam.max() == pytest.approx(1)
    assert ex.cam_layer is not None


def test_fine_tuning_starts_from_its_features(trained, mnist_small):
    init = starting_weights(trained[0], channels=1, num_classes=10, image_size=28)
    assert init.architecture == "design" and init.design == read_metadata(trained[0])["design"]
    assert "0.weight" in init.state and "4.body.0.weight" in init.state and "9.weight" not in init.state
    recipe = init.fine_tune(RunConfig("mnist", "mnist_fast", "mnist_fast", 0.05, 64, 0.01, "sgd").checked())
    assert recipe.model == "design" and recipe.design == init.design
    events = list(train(recipe, mnist_small, device="cpu", init_state=init.state, calibration_holdout=0))
    assert events[-1].status.value == "finished"
    other = [dict(layer) for layer in TINY]
    other[0] = {**other[0], "kernel_size": 5, "padding": 2}
    with pytest.raises(CheckpointError, match="holds another design"):
        starting_weights(
            trained[0], channels=1, num_classes=10, image_size=28, design=parse(other, (1, 28, 28), 10).layers
        )
    with pytest.raises(CheckpointError, match="holds a design model, so it cannot start a mnist_fast"):
        starting_weights(trained[0], channels=1, num_classes=10, image_size=28, architecture="mnist_fast")


def test_the_runs_table_names_it_by_its_summary(trained):
    (entry,) = [e for e in list_runs(trained[0].parent) if e.key == trained[0].stem]
    assert entry.model == summary(TINY, 10) == "Conv8-MaxPool-Res(Conv12)-MaxPool-Linear10"
    assert entry.architecture == "design" and entry.design == parse(TINY, (1, 28, 28), 10).layers
    assert entry.usable and entry.test_accuracy > 0.8
    assert entry.overrides == {"epochs": 1.0}  # the layers are the model column's, not a changed setting


def test_run_config_carries_the_design_and_refuses_a_bad_one():
    recipe = RunConfig("mnist", "design", "design", 1, 64, 0.003, "adam", layers=TINY).checked()
    assert recipe.model == "design" and recipe.design == parse(TINY, (1, 28, 28), 10).layers
    cifar = RunConfig("cifar10", "design", "design", 1, 64, 0.003, "adam", layers=TINY).checked()
    assert cifar.design == recipe.design  # the same layers fit colour images: in_channels is inferred
    bad = [dict(layer) for layer in TINY]
    bad[0] = {**bad[0], "kernel_size": 40}
    with pytest.raises(ConfigError, match="layer 1, Conv2d: a 40x40 kernel does not fit the 28x28 input"):
        RunConfig("mnist", "design", "design", 1, 64, 0.003, "adam", layers=bad).checked()
    with pytest.raises(ConfigError, match="too big for batch size 100000"):
        RunConfig("mnist", "design", "design", 1, 100000, 0.003, "adam", layers=TINY).checked()
    with pytest.raises(ConfigError, match="needs its layers"):
        RunConfig("mnist", "design", "design", 1, 64, 0.003, "adam").checked()
    # a preset chosen again drops the layers
    assert RunConfig("mnist", "mnist_fast", "design", 1, 64, 0.003, "adam").checked().design is None


def test_the_engine_keeps_the_normalised_design(mnist_small):
    text = json.dumps(TINY)  # as a page or an API might send it: JSON text, in_channels stated
    text = text.replace('"out_channels": 8,', '"in_channels": 1, "out_channels": 8,')
    recipe = get_recipe("design").replace(epochs=0.05, design=text)
    end = list(train(recipe, mnist_small, device="cpu", calibration_holdout=0))[-1]
    assert end.metadata["architecture"] == "design"
    assert end.metadata["design"] == parse(text, (1, 28, 28), 10).layers == end.metadata["recipe"]["design"]
    assert end.metadata["design"][0]["in_channels"] == 1  # as stated: the design round-trips


def test_seconds_per_epoch_is_timed_from_real_steps(monkeypatch):
    recipe = get_recipe("design").replace(design=TINY, batch_size=32)
    assert seconds_per_step(recipe, (1, 28, 28), 10, device="cpu", steps=2) > 0  # real steps ran
    # the arithmetic, on a clock whose steps take 10 s (the untimed first), then 1, 3 and 2 s: the
    # median of the timed ones (2 s), times the 1,875 steps of 60,000 images in batches of 32
    clock = itertools.accumulate(d for step in (10, 1, 3, 2) for d in (0, step))  # each step's start, end
    monkeypatch.setattr(design_speed, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    assert seconds_per_epoch(recipe, (1, 28, 28), 10, 60_000, device="cpu", steps=3) == 2 * 1875
    monkeypatch.undo()
    wide = [{"layer": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1}] * 2
    wide += [{"layer": "AdaptiveAvgPool2d", "output_size": 1}, *TINY[-3:]]
    with pytest.raises(ConfigError, match="multiply-adds per image; the limit"):
        seconds_per_step(recipe.replace(design=wide), (3, 64, 64), 10, device="cpu")


def test_continuing_a_designed_run_opens_its_design_in_the_editor(trained, data_dir):
    """The Runs tab's "Continue training" fills the Train tab and, for a designed run, its layer
    editor with the run's own design (what the continued run trains); a preset model's run leaves
    the editor as it is."""
    import gradio as gr
    from app_helpers import make_ctx

    from ui import outputs, train_continue
    from ui.design_outputs import named

    ctx = make_ctx(trained[0].parent, data_dir)
    filled = outputs.named(train_continue.FILLED, train_continue.continue_settings(ctx, "tiny-design", 1))
    assert filled["model"] == "design" and filled["continue_from"] == "tiny-design"
    shown = named(train_continue.continue_design(ctx, "tiny-design", filled["dataset"], filled["batch"]))
    design = shown["design"]
    assert design == read_metadata(trained[0])["design"] and shown["selected"] == 0
    assert f"**{parse(design, (1, 28, 28), 10).params:,}** parameters" in shown["message"]
    assert list(shown["table"]["Layer"])[:2] == ["Conv2d", "BatchNorm2d"]
    left = named(train_continue.continue_design(ctx, "shipped/mnist", "MNIST", 128))
    assert all(isinstance(v, type(gr.skip())) for v in left.values())
