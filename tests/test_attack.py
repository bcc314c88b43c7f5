"""Make it say N (cnn/serving/attack.py) on the shipped models and real test images: the returned
PNG, read back and fed straight to the model, gives the target within epsilon; a tiny epsilon holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from app_helpers import checkpoint
from PIL import Image

from cnn.errors import ConfigError
from cnn.serving.attack import checked_epsilon, make_it_say, target_index
from cnn.serving.digits import prepare_digit
from cnn.serving.predictor import Predictor
from cnn.serving.render import amplified_change, to_pil


def canvas_digit(digit: np.ndarray, canvas: int = 420, scale: int = 12) -> Image.Image:
    """An MNIST digit drawn black on a transparent canvas, as the Sketchpad's layer holds it."""
    ink = Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    layer.paste(Image.new("RGBA", ink.size, (0, 0, 0, 255)), ((canvas - ink.width) // 2,) * 2, mask=ink)
    return layer


@pytest.fixture(scope="module")
def digit_model():
    return Predictor.from_checkpoint(checkpoint("mnist"))


def png_back(tmp_path, x: torch.Tensor) -> torch.Tensor:
    """x saved as a PNG and read back, as a uint8 C x H x W tensor."""
    path = tmp_path / "changed.png"
    to_pil(x).save(path)
    a = np.asarray(Image.open(path))
    return torch.from_numpy(a.copy()).unsqueeze(0) if a.ndim == 2 else torch.from_numpy(a.copy()).permute(2, 0, 1)


@pytest.mark.parametrize("engine", ["plain", "captum"])
def test_drawn_digits_say_the_target_after_the_png(tmp_path, mnist, digit_model, engine):
    plain = Predictor.from_checkpoint(checkpoint("mnist"), backend="pytorch")  # a second, independent reader
    for i in range(3):
        x = prepare_digit(canvas_digit(mnist.test.images[i][0].numpy())).image
        label = int(mnist.test.labels[i])
        assert int(digit_model.probabilities(x).argmax()) == label  # the model read it right before
        target = (label + 3 + i) % 10
        r = make_it_say(digit_model, x, target, 0.3, engine=engine)
        assert r.success, (i, target, r.after)
        back = png_back(tmp_path, r.changed)
        assert back.shape == (1, 28, 28) and torch.equal(back, r.changed)
        assert (back.int() - x.int()).abs().max() <= int(0.3 * 255)
        assert 0 < r.linf <= 0.3
        assert int(plain.probabilities(back).argmax()) == target
        assert int(r.after.argmax()) == target and int(r.before.argmax()) == label


def test_a_tiny_epsilon_holds(mnist, digit_model):
    x = prepare_digit(canvas_digit(mnist.test.images[0][0].numpy())).image
    label = int(mnist.test.labels[0])
    r = make_it_say(digit_model, x, (label + 1) % 10, 2 / 255)
    assert not r.success
    assert r.linf <= 2 / 255 + 1e-9
    assert int(digit_model.probabilities(r.changed).argmax()) == label
    none = make_it_say(digit_model, x, (label + 1) % 10, 0.0)
    assert not none.success and none.linf == 0 and none.steps == 0


def test_the_answer_it_already_gives_needs_no_change(mnist, digit_model):
    x = prepare_digit(canvas_digit(mnist.test.images[1][0].numpy())).image
    r = make_it_say(digit_model, x, int(mnist.test.labels[1]), 0.3)
    assert r.success and r.linf == 0 and r.steps == 0


def test_a_photo_says_the_target_within_8_levels(tmp_path, cifar_small):
    pred = Predictor.from_checkpoint(checkpoint("cifar10"))
    x, label = cifar_small.test.images[0], int(cifar_small.test.labels[0])
    target = (label + 5) % 10
    r = make_it_say(pred, x, target, 8 / 255)
    back = png_back(tmp_path, r.changed)
    assert r.success and back.shape == (3, 32, 32)
    assert (back.int() - x.int()).abs().max() <= 8
    assert int(pred.probabilities(back).argmax()) == target


def test_targets_and_epsilons_in_words():
    digits, photos = [str(d) for d in range(10)], ["airplane", "automobile", "bird", "cat"]
    assert target_index(digits, "3") == 3 and target_index(digits, 7) == 7
    assert target_index(photos, "cat") == 3 and target_index(photos, "2") == 2 and target_index(photos, 1.0) == 1
    for bad in ("dog", "12", -1, "", None, "1.5", True):
        with pytest.raises(ConfigError, match="Unknown target"):
            target_index(photos, bad)
    assert checked_epsilon("0.25") == 0.25
    for bad in (-0.1, 1.5, float("nan"), "much", None):
        with pytest.raises(ConfigError, match="epsilon"):
            checked_epsilon(bad)


def test_the_change_amplified():
    seen = torch.full((1, 4, 4), 100, dtype=torch.uint8)
    changed = seen.clone()
    changed[0, 0, 0], changed[0, 1, 1] = 110, 95
    a = np.asarray(amplified_change(seen, changed, side=4))
    assert a[0, 0] == 255 and a[1, 1] < 128 and a[2, 2] == 128
