"""Issue 5, core parts: bad training settings and data, and a run whose loss stops being finite (a
data set that is not there: test_robustness_offline.py; checkpoints: test_robustness_checkpoints.py).
Every refusal is checked by its message, not only by its type."""

import math
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnn.checkpoint import read_metadata
from cnn.data import Dataset, Split, load_dataset, load_image_folder
from cnn.errors import ConfigError, DataError
from cnn.training import train
from cnn.training.recipes import get_recipe


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
