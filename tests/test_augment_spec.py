"""The one augmentation format (issue 32): parsed and checked in cnn.data.augment_spec, carried by the
recipes, the command line, the /train API and a run's checkpoint and log; the new augmentations on
real MNIST digits."""

import subprocess
import sys

import pytest
import torch

from cnn.data.augment import augment_batch, random_blocky, random_blur, random_elastic, random_erase, random_stroke
from cnn.data.augment_spec import KNOBS, format_spec, parse
from cnn.errors import ConfigError
from cnn.training.recipes import RECIPES, get_recipe

SPEC = "rotate=15,zoom=0.1,stroke=1,elastic=0.3,erase=0.25"


def test_a_spec_names_the_whole_augmentation_and_reads_back_the_same():
    r = get_recipe("mnist_best").with_augment(SPEC)
    assert (r.rotate, r.scale, r.stroke, r.elastic, r.erase) == (15, 0.1, 1, 0.3, 0.25)
    assert r.crop_pad == 0 and r.flip is False  # names left out are off
    assert r.augment == SPEC and parse(r.augment) == parse(SPEC)
    off = get_recipe("cifar10_fast").with_augment("none")
    assert off.augment == "none" and not off.flip and not off.alternate_flip and off.crop_pad == 0
    assert get_recipe("cifar10_fast").augment == "crop=2,flip=1"
    assert get_recipe("mnist_best").with_augment(None) == get_recipe("mnist_best")
    assert parse("Flip=on, crop = 3")["flip"] is True and parse("flip=on,crop=3")["crop_pad"] == 3
    for r in RECIPES.values():  # every preset's augmentation is a spec that gives it back
        assert r.with_augment(r.augment).augment == r.augment, r.name


@pytest.mark.parametrize(
    "spec, words",
    [
        ("rotat=15", "Unknown augmentation 'rotat'. Choose from: crop, shift, rotate"),
        ("rotate=200", "rotate must be a number from 0 to 180 degrees (got 200)"),
        ("stroke=1.5", "stroke must be a whole number from 0 to 3 pixels (got 1.5)"),
        ("zoom=abc", "zoom must be a number from 0 to 0.9 either way (got abc)"),
        ("erase=-0.1", "erase must be a number from 0 to 1 chance (got -0.1)"),
        ("flip=2", "flip must be a whole number 0 or 1 (got 2)"),
        ("blur=nan", "blur must be a number from 0 to 3 pixels"),
        ("rotate", "Write the augmentation as name=value pairs"),
        ("crop=1,crop=2", "names crop twice"),
        ("rotate=1," * 100, "too long"),
    ],
)
def test_a_bad_spec_is_refused_in_words(spec, words):
    with pytest.raises(ConfigError, match=None) as e:
        parse(spec)
    assert words in str(e.value)


def test_the_command_line_refuses_a_bad_spec_with_exit_2_before_loading_data(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cnn.train", "--dataset", "mnist", "--augment", "rotate=15,wobble=2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CNN_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},  # no data there: refused first
    )
    assert r.returncode == 2
    assert "Unknown augmentation 'wobble'" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.train.images[:64]


def test_turned_off_the_images_are_the_training_images(digits):
    torch.manual_seed(0)
    assert torch.equal(augment_batch(digits, get_recipe("mnist_best").with_augment("none")), digits)


@pytest.mark.parametrize(
    "fn, amount", [(random_elastic, 0.5), (random_blur, 1.5), (random_blocky, 2), (random_erase, 1.0)]
)
def test_each_new_augmentation_changes_real_digits_and_keeps_their_shape(digits, fn, amount):
    torch.manual_seed(0)
    out = fn(digits, amount)
    assert out.shape == digits.shape and out.dtype == torch.uint8
    changed = (out.int() - digits.int()).abs().sum((1, 2, 3)) > 0
    assert changed.float().mean() > 0.5  # most images changed (blocky: a third keep factor 1)
    if fn is random_erase:  # cutout blanks: ink only goes away
        assert (out <= digits).all() and out.sum() < digits.sum()
    if fn is random_blur:  # blur spreads the ink: more pixels lit, the brightest ones dimmer
        assert (out > 0).sum() > (digits > 0).sum()


def test_thicken_only_adds_ink_where_stroke_also_takes_it_away(digits):
    """thicken=1 grows strokes or leaves them, never thins: no pixel darker, some images inkier;
    stroke=1 also thins some (a pixel darker somewhere)."""
    torch.manual_seed(0)
    thick = random_stroke(digits, 1, thin=False)
    assert (thick >= digits).all()
    grew = (thick.int() - digits.int()).sum((1, 2, 3)) > 0
    assert 0.3 < grew.float().mean() < 0.7  # about half grow (0 or 1 px, equal chance)
    torch.manual_seed(0)
    assert (random_stroke(digits, 1) < digits).any()


def test_every_knob_reaches_the_batch(digits):
    """Each knob alone at a middle value changes the images: none is parsed and then dropped."""
    base = get_recipe("mnist_best")
    for k in KNOBS:
        value = 1 if k.kind is not float else k.high / 3
        r = base.with_augment(f"{k.name}={value:g}" if k.kind is float else f"{k.name}={int(value)}")
        torch.manual_seed(1)
        out = augment_batch(digits, r)
        assert not torch.equal(out, digits), k.name
    assert format_spec({}) == "none"


def test_a_checkpoint_and_its_log_record_the_augmentation(tmp_path, data_dir):
    out = tmp_path / "aug.safetensors"
    r = subprocess.run(
        [sys.executable, "-m", "cnn.train", "--recipe", "mnist_fast", "--train-subset", "600", "--test-subset",
         "200", "--epochs", "0.5", "--calibration-holdout", "0", "--augment", "elastic=0.3,blur=1,erase=0.25",
         "--data-dir", str(data_dir), "--device", "cpu", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "augmentation elastic=0.3,blur=1,erase=0.25" in r.stdout
    from cnn.checkpoint import read_metadata
    from cnn.runlog import read_log

    meta = read_metadata(out)
    assert meta["augment"] == "elastic=0.3,blur=1,erase=0.25" and meta["recipe"]["elastic"] == 0.3
    assert read_log(out.with_suffix(".jsonl")).header["augment"] == meta["augment"]


# ---------------------------------------------------------------- the preview


def test_the_preview_shows_each_image_beside_its_augmented_self(mnist):
    from cnn.data.augment_preview import preview, sample

    images = sample(mnist.train.images)
    off = preview(images, get_recipe("mnist_best").with_augment("none"))
    assert off.changed == 0 and "16 of 16 unchanged" in off.caption("none")
    pixels = torch.from_numpy(__import__("numpy").asarray(off.picture))
    side = 28 * 4  # each pair: the image, 2 px, its augmented copy
    assert torch.equal(pixels[:side, :side], pixels[:side, side + 2 : 2 * side + 2])
    bent = get_recipe("mnist_best").with_augment("elastic=0.5,rotate=10")
    a, b, again = preview(images, bent, 1), preview(images, bent, 2), preview(images, bent, 1)
    assert a.changed == 16 and a.picture.tobytes() == again.picture.tobytes()  # a draw is repeatable
    assert a.picture.tobytes() != b.picture.tobytes()  # another draw shows other augmentations


def test_python_m_cnn_augment_writes_the_grid(tmp_path, data_dir):
    from PIL import Image

    out = tmp_path / "grid.png"
    r = subprocess.run(
        [sys.executable, "-m", "cnn.augment", "--dataset", "mnist", "--augment", "blur=1.5,blocky=2",
         "--data-dir", str(data_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Augmentation blur=1.5,blocky=2" in r.stdout and Image.open(out).size == (4 * 226 + 3 * 14, 4 * 112 + 3 * 14)
    bad = subprocess.run(
        [sys.executable, "-m", "cnn.augment", "--dataset", "mnist", "--augment", "blur=9", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "blur must be a number from 0 to 3 pixels (got 9)" in bad.stderr
