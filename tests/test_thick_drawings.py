"""Thick-brush drawings (issue 26): big, dense drawings are never refused as "a dot", keep their
holes and gaps in the 28x28 the model sees, and are read right by the shipped MNIST model; a
drawings project holds filled shapes. A lone small mark is still a dot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from thick_drawings import CANVAS, DIGIT_STROKES, FILLED, digit, dot, drawn, filled, holes

from cnn.errors import ImageError
from cnn.projects import Project, load_project, prepare
from cnn.serving.digits import DOT_MESSAGE, prepare_digit

SHARES = (0.25, 0.33, 0.5)  # of the canvas wide
STROKES = (36, 46, 56)  # px of the 600 px canvas


def spiral(turns: float) -> list[np.ndarray]:
    t = np.linspace(0, 2 * math.pi * turns, 300)
    r = 0.05 + 0.45 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)]


def spiral_drawing(share: float, stroke: int, gap: int) -> Image.Image:
    """A spiral share of the canvas wide, its turns stroke px wide and gap px apart."""
    return drawn(spiral(share * CANVAS / 2 * 0.95 / (stroke + gap)), share, stroke, aspect=1.0)


def ink_runs(line: np.ndarray, threshold: int = 128) -> int:
    """How many strokes a row or column of the 28x28 crosses (ink: at least threshold)."""
    b = (line >= threshold).astype(int)
    return int(b[0] + ((b[1:] - b[:-1]) == 1).sum())


@pytest.fixture(scope="module")
def mnist_model():
    from app_helpers import checkpoint

    from cnn.serving.predictor import Predictor

    return Predictor.from_checkpoint(checkpoint("mnist"), backend="pytorch")


@pytest.mark.parametrize("share", SHARES)
@pytest.mark.parametrize("stroke", STROKES)
def test_thick_drawings_of_every_digit_are_never_a_dot_and_read_right(share, stroke, mnist_model):
    """Every digit, a quarter to half of the canvas wide, 36-56 px strokes, drawn square or tall."""
    wrong = []
    for aspect in (1.0, 1.3):
        for name in DIGIT_STROKES:
            r = prepare_digit(digit(name, share, stroke, aspect))
            assert r.image is not None, (
                f'a thick "{name}" ({share:.0%} wide, {stroke} px, aspect {aspect}): {r.message}'
            )
            got = mnist_model.classes[int(mnist_model.logits(r.image).argmax())]
            if got != name:
                wrong.append(f"{name} read as {got} (aspect {aspect})")
    assert not wrong, wrong


def test_a_lone_small_mark_is_still_a_dot():
    for d in (16, 30, 56):  # a click of a small, the default or the biggest brush
        assert prepare_digit(dot(d)).message == DOT_MESSAGE, d
    speck = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    ImageDraw.Draw(speck).point((300, 300), fill=(0, 0, 0, 255))
    assert prepare_digit(speck).message == DOT_MESSAGE


@pytest.mark.parametrize("share", SHARES)
@pytest.mark.parametrize("stroke", STROKES)
def test_a_thick_8_keeps_its_two_holes(share, stroke):
    for aspect in (1.0, 1.3):
        r = prepare_digit(digit("8", share, stroke, aspect))
        assert r.image is not None, r.message
        assert holes(r.image[0].numpy()) == 2, f"{share:.0%} wide, {stroke} px, aspect {aspect}"


@pytest.mark.parametrize(
    "share,stroke,gap",
    [(0.33, s, round(0.4 * s)) for s in STROKES]
    + [(0.5, s, round(0.4 * s)) for s in STROKES]
    + [(0.5, 26, 12), (0.5, 26, 16)],  # the Draw tab's own brush, a dense spiral
)
def test_a_thick_spiral_keeps_its_gaps(share, stroke, gap):
    """Not a filled disc: a line through the middle crosses three or more turns, and the ink
    covers well under the 79% of its box a disc covers."""
    r = prepare_digit(spiral_drawing(share, stroke, gap))
    assert r.image is not None, r.message
    a = r.image[0].numpy()
    crossings = max(ink_runs(a[i]) for i in (13, 14)) + max(ink_runs(a[:, i]) for i in (13, 14))
    ys, xs = np.nonzero(a >= 128)
    fill = float((a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] >= 128).mean())
    assert crossings >= 6 and fill < 0.7, (crossings, fill)


@pytest.mark.parametrize("share", SHARES)
@pytest.mark.parametrize("stroke", STROKES)
def test_a_tight_zigzag_is_not_a_dot_and_keeps_its_gaps(share, stroke):
    """Four strokes, each 1.6 strokes' width below the last: gaps of about half a stroke."""
    zigzag = [np.array([[0.0, y] if i % 2 == 0 else [1.0, y] for i, y in enumerate(np.linspace(0, 1, 5))])]
    r = prepare_digit(drawn(zigzag, share, stroke, aspect=4 * 1.6 * stroke / (share * CANVAS)))
    assert r.image is not None, r.message
    # its strokes stay apart down the middle: between two, the ink dips below 3/4 of full
    assert ink_runs(r.image[0, :, 14].numpy(), threshold=192) == 4


def test_a_drawings_project_holds_filled_shapes(tmp_path):
    project = Project.create("Filled", "drawings", data_dir=tmp_path)
    for name in FILLED:
        project.add_class(name)
        for share in (0.25, 0.33, 0.5):
            project.add_example(name, filled(name, share))
        assert len(project.examples(name)) == 3
    with pytest.raises(ImageError, match="only a dot"):
        project.add_example("disc", dot(30))
    data = load_project(project.path)
    assert data.classes == list(FILLED) and len(data.train) + len(data.test) == 9
    disc = prepare("drawings", filled("disc"))[0][0].numpy()  # stays a filled shape, not a ring
    ys, xs = np.nonzero(disc >= 128)
    assert holes(disc) == 0 and (disc[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] >= 128).mean() > 0.6
