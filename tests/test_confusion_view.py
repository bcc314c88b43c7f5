"""The clickable confusion matrix (ui/confusion_view.py) called directly: a click on a cell of the
picture gives that cell's test images (the model's commonest mistake), checked image by image against the
model, and the Grad-CAM choice gives the maps for the true and the predicted class. On the shipped
MNIST checkpoint (the Runs tab: a fixed sample of the MNIST test images) and on a real short run
(the Train tab)."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from test_runs import finish, quick

from cnn.serving.mistakes import grad_cams
from cnn.serving.predictor import cached_predictor
from cnn.serving.render import confusion_cell, enlarge, overlay, to_pil
from ui import confusion_view as cv
from ui.outputs import named


def click(true: int, pred: int) -> gr.SelectData:
    """A click in the middle of the cell (true, pred) of confusion_image (80 px margin, 36 px cells)."""
    return gr.SelectData(None, {"index": [80 + 36 * pred + 18, 80 + 36 * true + 18], "value": None})


def test_cell_geometry():
    assert confusion_cell(80, 80, 10) == (0, 0) and confusion_cell(80 + 36 * 9 + 35, 80 + 36 * 4, 10) == (4, 9)
    assert confusion_cell(79, 100, 10) is None and confusion_cell(100, 80 + 360, 10) is None


def picked(answer) -> tuple:
    """A click's answer, read by name: (the cell, its note, its gallery)."""
    got = named(cv.PICKED, answer)
    return got["cell"], got["note"], got["gallery"]


def shown_cell(answer) -> tuple:
    """A Grad-CAM choice's answer, read by name: (the note, the gallery)."""
    got = named(cv.SHOWN, answer)
    return got["note"], got["gallery"]


@pytest.fixture()
def sample(monkeypatch):
    """The shipped MNIST model scored on a fixed 4,000 of the test images (its 48 mistakes in 10,000
    spread over many cells, a few images each)."""
    monkeypatch.setattr(cv, "RUNS_TEST_IMAGES", 4000)


def commonest_mistake(preds) -> tuple[int, int]:
    """(true, predicted): the off-diagonal cell of the sample's confusion holding the most images."""
    conf = preds.confusion.clone()
    conf.fill_diagonal_(-1)
    return divmod(int(conf.argmax()), conf.shape[1])


def test_clicking_a_cell_of_a_kept_run_shows_its_mistaken_images(ctx, sample):
    shown = named(cv.MATRIX, cv.runs_matrix(ctx, "shipped/mnist"))
    assert shown["matrix"].size == (80 + 36 * 10, 80 + 36 * 10) and shown["cell"] is None and shown["gallery"] == []
    assert "4,000 of the mnist test images" in shown["note"]
    preds, path, _ = cv.runs_source(ctx, "shipped/mnist")
    true, pred = commonest_mistake(preds)
    want = int(preds.confusion[true, pred])
    assert want >= 1  # this sample holds some: the test would say nothing otherwise
    cell, note, items = picked(cv.pick_runs_cell(ctx, "shipped/mnist", cv.CAMS[0], click(true, pred)))
    assert cell == [true, pred] and f"True **{true}**, taken for **{pred}**: {want} test image(s)" in note
    assert len(items) == want and all(f"true {true}, predicted {pred}" in caption for _, caption in items)
    predictor = cached_predictor(path)
    for i in preds.cell(true, pred):  # each image, asked of the model again: it reads it as pred
        probs = predictor.predict(preds.images[i])
        assert int(preds.labels[i]) == true and max(probs, key=probs.get) == str(pred)
    diagonal = named(cv.PICKED, cv.pick_runs_cell(ctx, "shipped/mnist", cv.CAMS[0], click(4, 4)))["gallery"]
    assert len(diagonal) == 48  # right ones too, the first 48
    with pytest.raises(gr.Error, match="outside the matrix"):
        cv.pick_runs_cell(ctx, "shipped/mnist", cv.CAMS[0], gr.SelectData(None, {"index": [5, 5], "value": None}))


def test_the_grad_cam_choice_shows_the_true_and_the_predicted_class_maps(ctx, sample):
    preds, path, _ = cv.runs_source(ctx, "shipped/mnist")
    true, pred = commonest_mistake(preds)
    first = preds.cell(true, pred)[0]
    predictor = cached_predictor(path)
    cam_true, cam_pred = grad_cams(predictor, preds.images[first], true, pred)
    assert cam_true.shape == cam_pred.shape == (28, 28) and not np.allclose(cam_true, cam_pred)
    pictures = {}
    for which, cam in ((1, cam_true), (2, cam_pred)):
        note, items = shown_cell(cv.show_runs_cell(ctx, "shipped/mnist", [true, pred], cv.CAMS[which]))
        assert (f"true class ({true})" if which == 1 else f"predicted class ({pred})") in note
        pictures[which] = np.asarray(items[0][0])
        assert np.array_equal(pictures[which], np.asarray(overlay(preds.images[first], cam, side=112)))
    assert not np.array_equal(pictures[1], pictures[2])
    assert shown_cell(cv.show_runs_cell(ctx, "shipped/mnist", None, cv.CAMS[1])) == (cv.HINT, [])


def test_the_train_tab_matrix_of_the_last_run(ctx):
    with pytest.raises(gr.Error, match="no finished run"):
        cv.pick_train_cell(ctx, cv.CAMS[0], "me", click(0, 1))
    run = finish(ctx.runs.start(quick(epochs=0.5), session="me"))
    conf = run.end.evaluation.confusion.clone()
    conf.fill_diagonal_(-1)
    true, pred = divmod(int(conf.argmax()), 10)
    cell, note, items = picked(cv.pick_train_cell(ctx, cv.CAMS[0], "me", click(true, pred)))
    assert cell == [true, pred] and len(items) == min(48, int(conf[true, pred])) >= 1
    ev, labels = run.end.evaluation, run.data.test.labels
    shown = [int(c.split("#")[1].split(":")[0]) for _, c in items]
    assert all(int(labels[i]) == true and int(ev.predictions[i]) == pred for i in shown)
    note, cams = shown_cell(cv.show_train_cell(ctx, cell, cv.CAMS[2], "me"))
    with pytest.raises(gr.Error, match="no finished run"):  # another person's page: not theirs to look into
        cv.pick_train_cell(ctx, cv.CAMS[0], "someone else", click(true, pred))
    assert len(cams) == len(items) and f"predicted class ({pred})" in note


def test_each_mistake_shows_its_grad_cam_and_top_two_answers(ctx, sample):
    preds, path, _ = cv.runs_source(ctx, "shipped/mnist")
    predictor = cached_predictor(path)
    conf = preds.confusion.clone()
    conf.fill_diagonal_(-1)
    true, pred = divmod(int(conf.argmax()), 10)  # the cell with the most mistakes
    note, items = shown_cell(cv.show_runs_cell(ctx, "shipped/mnist", [true, pred], cv.CAMS[0]))
    assert f"Grad-CAM for **{pred}**" in note and len(items) == min(48, int(conf[true, pred]))
    for i, (picture, caption) in zip(preds.cell(true, pred), items):
        a = np.asarray(picture)
        assert a.shape == (112 + 22, 112 + 4 + 112, 3)  # the two, and the top two written under them
        plain, cam = a[:112, :112], a[:112, -112:]
        assert (a[112:] < 128).any()  # the words
        assert np.array_equal(plain, np.asarray(enlarge(to_pil(preds.images[i]), 112).convert("RGB")))
        assert np.abs(cam.astype(int) - plain.astype(int)).mean() > 10  # the overlay is not the plain image
        one = grad_cams(predictor, preds.images[i], true, pred)[1]  # the one-image Grad-CAM, for comparison
        want = np.asarray(overlay(preds.images[i], one, side=112)).astype(int)
        assert np.abs(cam.astype(int) - want).max() <= 2  # the batched maps are the same maps
        probs = predictor.predict(preds.images[i])
        first, second = sorted(probs, key=probs.get, reverse=True)[:2]
        assert caption.endswith(f" · {first} {probs[first]:.0%}, {second} {probs[second]:.0%}")
        assert first == str(pred)
    right = named(cv.SHOWN, cv.show_runs_cell(ctx, "shipped/mnist", [true, true], cv.CAMS[0]))["gallery"]
    assert np.asarray(right[0][0]).shape[:2] == (112, 112) and "·" not in right[0][1]  # right ones plain


def test_class_names_are_written_whole_on_the_confusion_matrix():
    """Issue 36: Teach's matrix cut its column labels to five letters ("circl", "trian")."""
    import torch
    from PIL import ImageDraw

    from cnn.serving.render import CONFUSION_MARGIN, confusion_image

    im = confusion_image(torch.tensor([[3, 1], [0, 4]]), ["circle", "triangle"])
    ink = np.asarray(im.convert("L")) < 128
    cell = 36
    above = ink[: CONFUSION_MARGIN - 2, CONFUSION_MARGIN + cell : CONFUSION_MARGIN + 2 * cell]  # over column 2
    rows = np.nonzero(above.any(1))[0]
    whole = ImageDraw.Draw(im).textlength("triangle")
    assert rows.max() - rows.min() + 1 >= whole - 2, (rows.min(), rows.max(), whole)  # all 8 letters, upwards
    left = ink[CONFUSION_MARGIN + cell : CONFUSION_MARGIN + 2 * cell, : CONFUSION_MARGIN - 2]  # row 2's name
    cols = np.nonzero(left.any(0))[0]
    assert cols.max() - cols.min() + 1 >= whole - 2
