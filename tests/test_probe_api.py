"""/attack_digit and /attack_photo through gradio_client: the returned PNG, read back and fed straight
to the model, gives the target within epsilon; "it held" at a tiny epsilon; runs as /predict_digit
takes them (a person's own kept run, the shipped ones); bad targets, epsilons and runs refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from app_helpers import ROOT, checkpoint, launch
from PIL import Image

from cnn.serving.predictor import Predictor


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    demo, url = launch(tmp_path_factory.mktemp("runs"))
    from gradio_client import Client

    yield demo, Client(url, verbose=False)
    demo.runs.stop()
    demo.runs.wait_idle(30)
    demo.close()


@pytest.fixture(scope="module")
def seven(tmp_path_factory, mnist) -> str:
    """An MNIST test 7, dark on a white 280 px picture, as a person would upload a drawing."""
    i = int((mnist.test.labels == 7).nonzero()[0])
    a = 255 - mnist.test.images[i][0].numpy()
    path = tmp_path_factory.mktemp("img") / "seven.png"
    Image.fromarray(a, "L").resize((280, 280), Image.Resampling.BILINEAR).save(path)
    return str(path)


def attack(client, endpoint: str, image: str, **kw):
    from gradio_client import handle_file

    return client.predict(handle_file(image), api_name=f"/{endpoint}", **kw)


def pixels(path: str) -> torch.Tensor:
    a = np.asarray(Image.open(path))
    return torch.from_numpy(a.copy()).unsqueeze(0) if a.ndim == 2 else torch.from_numpy(a.copy()).permute(2, 0, 1)


def test_attack_digit_png_says_the_target(served, seven):
    result, seen, changed = attack(served[1], "attack_digit", seven, target="3", epsilon=0.3, run="")
    assert result["success"] is True and result["target"] == "3"
    assert max(result["before"], key=result["before"].get) == "7"
    assert max(result["after"], key=result["after"].get) == "3"
    x, y = pixels(seen), pixels(changed)
    assert x.shape == y.shape == (1, 28, 28)
    assert (y.int() - x.int()).abs().max() <= int(0.3 * 255)
    assert abs(result["linf"] - float((y.int() - x.int()).abs().max()) / 255) < 1e-6
    model = Predictor.from_checkpoint(checkpoint("mnist"), backend="pytorch")
    assert int(model.probabilities(y).argmax()) == 3 and int(model.probabilities(x).argmax()) == 7


def test_a_tiny_epsilon_holds_through_the_api(served, seven):
    result, _, _ = attack(served[1], "attack_digit", seven, target=3, epsilon=1 / 255, run="")
    assert result["success"] is False and result["message"].startswith("It held")
    assert result["linf"] <= 1 / 255 + 1e-9


def test_attack_photo_by_class_name(served):
    photo = str(sorted((ROOT / "examples").glob("*.png"))[0])  # a CIFAR-10 test photo, named by its class
    result, seen, changed = attack(served[1], "attack_photo", photo, target="frog", epsilon=8 / 255, run="")
    assert result["success"] is True and result["target"] == "frog"
    y = pixels(changed)
    assert y.shape == (3, 32, 32) and (y.int() - pixels(seen).int()).abs().max() <= 8
    model = Predictor.from_checkpoint(checkpoint("cifar10"), backend="pytorch")
    assert model.classes[int(model.probabilities(y).argmax())] == "frog"


def test_runs_as_the_predict_endpoints_take_them(served, seven):
    demo, client = served
    shutil.copyfile(checkpoint("mnist"), demo.runs.runs_dir / "mine.safetensors")  # a kept run of this person
    result, _, _ = attack(client, "attack_digit", seven, target="5", epsilon=0.3, run="mine")
    assert result["success"] is True and result["target"] == "5"
    result, _, _ = attack(client, "attack_digit", seven, target="5", epsilon=0.3, run="shipped/mnist")
    assert result["success"] is True


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(target="cat", epsilon=0.3, run=""), "Unknown target"),
        (dict(target="12", epsilon=0.3, run=""), "Unknown target"),
        (dict(target="", epsilon=0.3, run=""), "Name a target"),
        (dict(target="3", epsilon=2.0, run=""), "epsilon must be between 0 and 1"),
        (dict(target="3", epsilon=-0.1, run=""), "epsilon must be between 0 and 1"),
        (dict(target="3", epsilon=0.3, run="../../etc/passwd"), "is not the name of a run"),
        (dict(target="3", epsilon=0.3, run="nobody"), "is not there"),
        (dict(target="3", epsilon=0.3, run="shipped/cifar10"), "/attack_photo"),
    ],
)
def test_bad_requests_are_refused_in_words(served, seven, kw, words):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=words):
        attack(served[1], "attack_digit", seven, **kw)
