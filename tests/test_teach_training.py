"""Training on a project: fine-tuning's start (cnn.transfer and train(init_state=...)), the teach
recipes and their augmentation, and the command line on a project folder (--init-from)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from app_helpers import ROOT, checkpoint
from PIL import Image
from test_projects import stroke

from cnn.checkpoint import load_checkpoint, read_metadata
from cnn.data import Dataset, random_dataset
from cnn.data.augment import random_affine, random_colour, random_stroke
from cnn.errors import CheckpointError
from cnn.models import build_model
from cnn.projects import Project, teach_recipe
from cnn.projects.teaching import TEACH
from cnn.training import RECIPES, get_recipe, train
from cnn.training.trainer import Trainer
from cnn.transfer import starting_weights


def test_starting_weights_keep_the_features_and_leave_the_classifier_fresh():
    init = starting_weights(checkpoint("mnist"), channels=1, num_classes=3, image_size=28)
    source, meta = load_checkpoint(checkpoint("mnist"))
    assert init.architecture == "mnist_mid" and init.left_fresh == ["head.bias", "head.weight"]
    assert set(init.state) == set(source.state_dict()) - {"head.weight", "head.bias"}
    assert list(init.mean) == meta["normalization"]["mean"]
    recipe = init.fine_tune(get_recipe("teach_drawings"))
    assert recipe.model == "mnist_mid" and recipe.normalize == (init.mean, init.std)


def test_a_checkpoint_that_cannot_start_the_model_is_refused():
    with pytest.raises(
        CheckpointError,
        match=r"trained on 1-channel \(grey\) images, but these are 3-channel "
        r"\(colour\) ones",
    ):
        starting_weights(checkpoint("mnist"), channels=3, num_classes=3, image_size=32)
    with pytest.raises(CheckpointError, match="holds a mnist_mid model, so it cannot start a seed004_cnn model"):
        starting_weights(checkpoint("mnist"), channels=1, num_classes=3, image_size=28, architecture="seed004_cnn")
    with pytest.raises(CheckpointError, match="No checkpoint file at"):
        starting_weights(ROOT / "missing.safetensors", channels=1, num_classes=3, image_size=28)


def test_train_starts_from_the_given_weights():
    """With head_only_epochs covering the run, the convolutions end exactly as the checkpoint's."""
    init = starting_weights(checkpoint("mnist"), channels=1, num_classes=3, image_size=28)
    data = random_dataset("random", (1, 28, 28), 64, 16, num_classes=3)
    recipe = init.fine_tune(get_recipe("teach_drawings")).replace(epochs=2, head_only_epochs=2)
    end = [ev for ev in train(recipe, data, device="cpu", init_state=init.state)][-1]
    conv = end.model.state_dict()["features.0.weight"]
    assert torch.equal(conv, init.state["features.0.weight"])
    torch.manual_seed(0)  # the engine's own draws: the head it started from
    assert not torch.equal(end.model.state_dict()["head.weight"], build_model("mnist_mid", 1, 3, 28).head.weight)
    scratch = [ev for ev in train(recipe.replace(head_only_epochs=0), data, device="cpu")][-1]
    assert not torch.equal(scratch.model.state_dict()["features.0.weight"], conv)


def _body(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Everything but the classifier: parameters and batch-norm buffers (running statistics, counts)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("head.")}


def test_head_only_epochs_freeze_the_body_bit_for_bit_then_all_layers_learn(mnist_small):
    """True freezing: with SGD momentum and weight decay (which a learning rate of 0 would not stop)
    and batch norm in the body, two head-only epochs leave every body tensor as the checkpoint's;
    the third epoch, all layers, changes them."""
    init = starting_weights(checkpoint("mnist"), channels=1, num_classes=10, image_size=28)
    data = Dataset("mnist", mnist_small.classes, mnist_small.train.subset(96), mnist_small.test.subset(32))
    recipe = init.fine_tune(get_recipe("teach_drawings")).replace(
        epochs=3, head_only_epochs=2, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-3
    )
    run = Trainer(recipe, data, seed=0, stop=None, evaluate_each_epoch=True, init_state=init.state)
    run.prepare("cpu", None, cuda_graphs=False)
    run.start_clock()
    start, head = _body(run.model), run.model.head.weight.detach().clone()
    assert any("running_mean" in k for k in start)
    body_params = run.head_only.body
    for epoch in range(2):
        for b in run.begin_epoch(epoch):
            run.step(b)
        run.end_epoch(epoch)  # the evaluation puts the model back in training mode
    after = _body(run.model)
    assert all(torch.equal(after[k], v) for k, v in start.items()), "the body moved while frozen"
    assert not torch.equal(run.model.head.weight, head)  # the classifier did learn
    assert not any(p in run.optimizer.state for p in body_params)  # no momentum gathered for the body
    for b in run.begin_epoch(2):
        run.step(b)
    thawed = _body(run.model)
    changed = [k for k, v in start.items() if not torch.equal(thawed[k], v)]
    assert any(k.endswith("running_mean") for k in changed) and any(k.endswith("0.weight") for k in changed)
    assert all(p.requires_grad for p in body_params)


def test_only_the_teach_recipes_augment_for_small_data():
    teach = {"teach_drawings", "teach_photos", "mnist_drawings"}  # (mnist_drawings: for drawings, issue 32)
    for name, r in RECIPES.items():
        extra = (
            r.rotate,
            r.scale,
            r.shift,
            r.stroke,
            r.colour,
            r.elastic,
            r.blur,
            r.blocky,
            r.erase,
            r.head_only_epochs,
        )
        assert any(extra) if name in teach else not any(extra), name


def test_the_small_data_augmentations_keep_the_batch_shape_and_type():
    x = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 10:18, 13:15] = 255
    for out in (random_affine(x, 12, 0.15, 0.08), random_stroke(x, 1)):
        assert out.shape == x.shape and out.dtype == torch.uint8
    thick = random_stroke(x, 1).float().sum((1, 2, 3))
    assert (thick != x.float().sum((1, 2, 3))).any()
    c = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    assert random_colour(c, 0.2).shape == c.shape and random_affine(c, 10, 0.1, 0.1).dtype == torch.uint8


def test_teach_recipe_scales_the_steps_to_the_project():
    small, large = teach_recipe("drawings", 8), teach_recipe("drawings", 800)
    assert small.batch_size == 8 and small.epochs == get_recipe("teach_drawings").epochs
    assert large.batch_size == 16 and large.epochs == 5.0  # 250 steps of 16 over 800 examples
    assert teach_recipe("drawings", 40).lr == TEACH["drawings"]["scratch"]["lr"]
    photos = teach_recipe("photos", 30, fine_tune=True)
    assert photos.epochs == 40.0 and photos.head_only_epochs == 20.0  # 80 steps of 16: the classifier alone
    # learns for the first half, all layers for the second; the shipped CIFAR-10 net's the whole run
    shipped = starting_weights(checkpoint("cifar10"), channels=3, num_classes=2, image_size=32)
    for recipe in (
        teach_recipe("photos", 30, shipped),
        teach_recipe("photos", 30, fine_tune=True, architecture="cifar10_fast"),
    ):
        assert recipe.head_only_epochs == recipe.epochs == 40.0 and recipe.lr == 3e-3
    assert teach_recipe("photos", 30).head_only_epochs == 0


# ---------------------------------------------------------------- the command line


def cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def drawn_project(tmp_path_factory) -> Project:
    project = Project.create("Rings and bars", "drawings", data_dir=tmp_path_factory.mktemp("data"))
    for name in ("ring", "bar"):
        project.add_class(name)
        for k in range(5):
            project.add_example(name, stroke(name, k))
    return project


@pytest.fixture(scope="module")
def trained(drawn_project, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("runs") / "p.safetensors"
    r = cli(
        "cnn.train",
        "--dataset",
        str(drawn_project.path),
        "--init-from",
        str(checkpoint("mnist")),
        "--epochs",
        "30",
        "--out",
        str(out),
        "--quiet",
    )
    return out, r


def test_the_cli_fine_tunes_on_a_project_folder(trained):
    out, r = trained
    assert r.returncode == 0, r.stderr
    assert "training recipe teach_drawings, the teach preset for a drawings project" in r.stdout
    assert "fine-tuning from mnist.safetensors (mnist_mid, trained on 10 classes)" in r.stdout
    assert "8 train / 2 test images" in r.stdout
    meta = read_metadata(out)
    assert meta["classes"] == ["ring", "bar"] and meta["init_from"] == "mnist.safetensors"
    assert meta["input_shape"] == [1, 28, 28] and re.search(r"^test accuracy: 1\.0000$", r.stdout, re.M)
    # too few drawings to spare any: the temperature is fitted on the 2 held-out ones, kept in [0.5, 2]
    # (right on both, the fit alone would head for certainty, T -> 0)
    cal = meta["calibration"]
    assert cal["fit_on"] == "test" and cal["ece_images"] == 2 and 0.5 <= meta["temperature"] <= 2.0
    assert "Temperature" in r.stdout and "2 held-out test images" in r.stdout


def test_the_cli_refuses_a_checkpoint_that_does_not_fit(drawn_project, tmp_path):
    r = cli(
        "cnn.train",
        "--dataset",
        str(drawn_project.path),
        "--init-from",
        str(checkpoint("cifar10")),
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "trained on 3-channel (colour) images, but these are 1-channel (grey) ones" in r.stderr


def test_the_cli_evaluates_a_project_checkpoint_on_its_held_out_share(trained):
    out, _ = trained
    r = cli("cnn.evaluate", str(out))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "(2 test images" in lines[0] and lines[-1] == "test accuracy: 1.0000"


def _digit_folder(root: Path, mnist, counts: dict[str, int]) -> None:
    """MNIST 0s and 1s as 56x56 PNGs (twice the checkpoint's side) under root/<split>/<class>/."""
    for split, n in counts.items():
        for label in (0, 1):
            folder = root / split / str(label) if split else root / str(label)
            folder.mkdir(parents=True)
            idx = (
                (mnist.test.labels == label).nonzero().flatten()[:n]
                if split != "test"
                else (mnist.test.labels == label).nonzero().flatten()[-n:]
            )
            for i in idx:
                Image.fromarray(mnist.test.images[i, 0].numpy()).resize((56, 56)).save(folder / f"{int(i)}.png")


@pytest.mark.parametrize("layout", ["test/ split", "held-out share"])
def test_the_cli_evaluates_a_fine_tuned_folder_on_its_test_split_else_its_held_out_share(mnist, tmp_path, layout):
    """A folder fine-tuned with --init-from is decoded at the checkpoint's 28x28, and evaluated on
    the same images at the same size: its test/ split when it has one, else its fixed 20%."""
    folder = tmp_path / "digits"
    _digit_folder(folder, mnist, {"train": 10, "test": 7} if layout == "test/ split" else {"": 10})
    out = tmp_path / "d.safetensors"
    r = cli(
        "cnn.train",
        "--dataset",
        str(folder),
        "--init-from",
        str(checkpoint("mnist")),
        "--recipe",
        "teach_drawings",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--quiet",
        "--device",
        "cpu",  # the comparison to 4 places below is of the CPU's fp32 arithmetic
    )
    assert r.returncode == 0, r.stderr
    n_test = 14 if layout == "test/ split" else 4
    assert f"{20 if layout == 'test/ split' else 16} train / {n_test} test images" in r.stdout
    meta = read_metadata(out)
    assert meta["input_shape"] == [1, 28, 28]
    e = cli("cnn.evaluate", str(out), "--device", "cpu")
    assert e.returncode == 0, e.stderr
    lines = e.stdout.strip().splitlines()
    assert f"({n_test} test images" in lines[0]
    # the same images, prepared the same way: the last epoch's test loss and accuracy, to 4 places
    trained_loss = re.findall(r"test loss (\d\.\d{4})", r.stdout)[-1]
    assert f"test loss: {trained_loss}" in lines and lines[-1] == f"test accuracy: {meta['test_accuracy']:.4f}"
