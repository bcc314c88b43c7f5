"""The app's handlers (ui/*), called directly without a server, on real inputs: the shipped
checkpoints, real MNIST digits and the example photos; and that the app's events are wired as the
handlers expect. (The Train tab's handlers: tests/test_train_tab.py.)"""

from __future__ import annotations

import re
import shutil

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from app_helpers import ROOT, checkpoint
from PIL import Image

from cnn.runs import RunManager
from cnn.serving.decode import BLANK_MESSAGE
from ui import inside_tab, train_tab
from ui.api import predict_digit, predict_photo
from ui.app import build_app
from ui.common import error, friendly
from ui.draw_tab import ANSWER, draw
from ui.photo_tab import photo


def shown(out: tuple) -> dict:
    """The Draw tab's answer by output name."""
    return dict(zip(ANSWER, out, strict=True))


CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGITS = [str(i) for i in range(10)]
TRUCK = str(ROOT / "examples" / "truck.png")


def sketch_of(digit: np.ndarray, scale: int = 12, canvas: int = 420) -> dict:
    """A Sketchpad value (type='pil', RGBA) holding an MNIST digit drawn black on the white canvas."""
    ink = Image.fromarray(digit, "L").resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    black = Image.new("RGBA", ink.size, (0, 0, 0, 255))
    off = ((canvas - ink.width) // 2, (canvas - ink.height) // 2)
    layer.paste(black, off, mask=ink)
    background = Image.new("RGBA", (canvas, canvas), (255, 255, 255, 255))
    composite = Image.alpha_composite(background, layer)
    return {"background": background, "layers": [layer], "composite": composite}


def message_of(info) -> str:
    return info.value.message


def top(probs: dict) -> str:
    return max(probs, key=probs.get)


# ---------------------------------------------------------------- Draw, Photo, the API endpoints


def test_draw_reads_real_mnist_digits(ctx, mnist):
    right = 0
    for i in range(10):
        out = shown(draw(ctx, sketch_of(mnist.test.images[i, 0].numpy()), ctx.shipped("draw")))
        probs, seen = out["label"], out["seen"]
        assert sorted(probs) == DIGITS and abs(sum(probs.values()) - 1) < 1e-3
        assert isinstance(seen, Image.Image) and seen.size == (224, 224)  # the 28x28, enlarged
        right += top(probs) == str(int(mnist.test.labels[i]))
    assert right >= 9


def test_an_empty_canvas_asks_for_a_digit(ctx):
    path = ctx.shipped("draw")
    assert shown(draw(ctx, None, path)) == {"label": "Draw a digit", "seen": None, "strokes": ""}
    empty = {"background": None, "layers": [], "composite": None}
    assert shown(draw(ctx, empty, path)) == {"label": "Draw a digit", "seen": None, "strokes": ""}
    blank = sketch_of(np.zeros((28, 28), np.uint8))  # a white canvas with nothing drawn on it
    assert shown(draw(ctx, blank, path))["label"] == BLANK_MESSAGE
    assert BLANK_MESSAGE.startswith("Draw a digit")


def test_a_missing_checkpoint_is_named_with_what_to_do(ctx, mnist, tmp_path):
    import dataclasses

    missing = str(tmp_path / "none.safetensors")
    unshipped = dataclasses.replace(ctx, draw_checkpoint=missing)  # the app started without its digit model
    with pytest.raises(gr.Error) as info:
        draw(unshipped, sketch_of(mnist.test.images[0, 0].numpy()), missing)
    assert "No digit model checkpoint at" in message_of(info) and "--mnist-checkpoint" in message_of(info)
    assert unshipped.about(missing, "digit").startswith("⚠️ No digit model checkpoint")
    assert ctx.about(ctx.shipped("draw"), "digit").startswith("Model: **")


def test_a_run_deleted_meanwhile_says_so(ctx, mnist, tmp_path):
    """Issue 36: a run deleted while a tab used it said "No digit model checkpoint at <path> ...
    start the app with --mnist-checkpoint", which misleads."""
    run = tmp_path / "runs" / "mine.safetensors"
    run.parent.mkdir()
    shutil.copyfile(ctx.shipped("draw"), run)
    assert isinstance(shown(draw(ctx, sketch_of(mnist.test.images[0, 0].numpy()), str(run)))["label"], dict)
    run.unlink()  # deleted on another page
    with pytest.raises(gr.Error) as info:
        draw(ctx, sketch_of(mnist.test.images[0, 0].numpy()), str(run))
    assert message_of(info) == "This run was deleted; choose another in the Runs tab."
    assert ctx.about(str(run), "digit") == "⚠️ This run was deleted; choose another in the Runs tab."


def test_photo_gives_ten_class_probabilities(ctx):
    probs, seen = photo(ctx, TRUCK, ctx.shipped("photo"))
    assert sorted(probs) == sorted(CIFAR) and abs(sum(probs.values()) - 1) < 1e-3
    assert all(0 <= p <= 1 for p in probs.values())
    assert max(probs, key=probs.get) == "truck" and probs["truck"] > 0.9  # examples/truck.png, read right
    assert seen.size == (224, 224)
    assert photo(ctx, None, ctx.shipped("photo")) == (None, None)  # the photo was removed


def test_a_bad_file_gets_a_clear_escaped_message(ctx, tmp_path):
    bad = tmp_path / "<b>notes.png"
    bad.write_bytes(b"just some words\n")
    with pytest.raises(gr.Error) as info:
        photo(ctx, str(bad), ctx.shipped("photo"))
    assert "not an image" in message_of(info)
    # Gradio renders messages as HTML: the file name in it is escaped
    assert "&lt;b&gt;notes.png" in message_of(info) and "<b>" not in message_of(info)


def test_api_handlers(ctx, mnist, tmp_path):
    digit = tmp_path / "digit.png"
    sketch_of(mnist.test.images[0, 0].numpy())["composite"].save(digit)
    assert top(predict_digit(ctx, str(digit))) == str(int(mnist.test.labels[0]))
    assert sorted(predict_photo(ctx, TRUCK)) == sorted(CIFAR)
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 300), 255).save(blank)
    with pytest.raises(gr.Error, match="The image is blank"):
        predict_digit(ctx, str(blank))
    with pytest.raises(gr.Error, match="No image was given"):
        predict_photo(ctx, None)


# ---------------------------------------------------------------- inside the network


def test_inside_a_drawing_shows_feature_maps_and_grad_cam(ctx, mnist):
    label = str(int(mnist.test.labels[0]))
    sketch = sketch_of(mnist.test.images[0, 0].numpy())
    text, rows, maps, seen, cam, sal = inside_tab.inside(
        ctx, "Drawing", sketch, None, ctx.shipped("draw"), ctx.shipped("photo")
    )
    assert f"Prediction: **{label}**" in text and "parameters" in text
    assert isinstance(rows, pd.DataFrame) and list(rows.columns) == inside_tab.SUMMARY_COLUMNS
    assert len(rows) > 3
    assert maps and all(isinstance(im, Image.Image) and "maps of" in caption for im, caption in maps)
    assert seen.size == cam.size == sal.size == (224, 224)
    a_cam, a_seen = np.asarray(cam.convert("RGB"), float), np.asarray(seen.convert("RGB"), float)
    assert np.abs(a_cam - a_seen).mean() > 5  # the heat map is laid over the input, not the input alone


def test_predictions_and_the_inside_view_hold_training_back_while_they_work(ctx, monkeypatch):
    """Every handler a person waits on runs inside cnn.cpu_share's serving gate, so that a training
    run in the process steps aside (seen from inside the model's forward pass)."""
    from cnn.cpu_share import SERVING
    from cnn.serving.predictor import Predictor

    seen: list[bool] = []
    real = Predictor.logits

    def watched(self, x):
        seen.append(SERVING.busy())
        return real(self, x)

    monkeypatch.setattr(Predictor, "logits", watched)
    photo(ctx, TRUCK, ctx.shipped("photo"))
    predict_photo(ctx, TRUCK)
    inside_tab.inside(ctx, "Photo", None, TRUCK, ctx.shipped("draw"), ctx.shipped("photo"))
    assert len(seen) >= 3 and all(seen), seen
    assert not SERVING.busy()


def test_names_a_person_typed_show_as_typed_in_markdown():
    from ui.common import md

    assert md("**cat** [x](y) <b>|</b>") == "\\*\\*cat\\*\\* \\[x\\](y) \\<b\\>\\|\\</b\\>"
    assert md("plain name 2") == "plain name 2"
    line = inside_tab.prediction_line({"<img src=x>": 0.9, "_dog_": 0.1})
    assert "**\\<img src=x\\>**" in line and not re.search(r"(?<!\\)[<>]", line)  # no bare < or >


def test_inside_a_photo_and_without_one(ctx):
    text, rows, maps, seen, cam, sal = inside_tab.inside(
        ctx, "Photo", None, TRUCK, ctx.shipped("draw"), ctx.shipped("photo")
    )
    assert "Prediction: **" in text and len(maps) >= 2 and cam is not None and sal is not None
    text, rows, maps, *images = inside_tab.inside(ctx, "Drawing", None, None, ctx.shipped("draw"), ctx.shipped("photo"))
    assert "Draw a digit in the Draw tab" in text and len(rows) > 3  # the summary, even without a drawing
    assert maps == [] and images == [None, None, None]


# ---------------------------------------------------------------- the Train tab
# Its handlers and how a run looks on the page: tests/test_train_tab.py.


# ---------------------------------------------------------------- errors and wiring


def test_friendly_errors():
    @friendly
    def boom():
        raise ValueError("no <good>")

    @friendly
    def stream():
        yield 1
        raise KeyError("k")

    with pytest.raises(gr.Error) as info:
        boom()
    assert message_of(info) == "Something went wrong (ValueError: no &lt;good&gt;)."
    it = stream()
    assert next(it) == 1
    with pytest.raises(gr.Error, match="Something went wrong \\(KeyError"):
        next(it)
    assert error("a < b").message == "a &lt; b"


def test_the_app_wires_the_handlers(tmp_path, data_dir):
    demo = build_app(checkpoint("mnist"), checkpoint("cifar10"), RunManager(tmp_path, data_dir, device="cpu"))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {
        "sketch",
        "digit-label",
        "digit-seen",
        "draw-about",
        "photo-in",
        "photo-label",
        "photo-about",
        "dataset",
        "model",
        "recipe",
        "epochs",
        "batch",
        "lr",
        "optimizer",
        "train-subset",
        "test-subset",
        "start-btn",
        "stop-btn",
        "train-status",
        "train-progress",
        "loss-plot",
        "acc-plot",
        "train-result",
        "to-draw",
        "to-photo",
        "wrong-gallery",
        "inside-maps",
        "tensorboard",
        "continue-from",
        "live-panel",
        "live-filters",
        "confusion",
        "train-cell-gallery",
        "train-cell-cam",
    } <= ids
    fns = list(demo.fns.values())
    assert {"predict_digit", "predict_photo", "train"} <= {f.api_name for f in fns}
    by_name = {f.name: f for f in fns}
    start = by_name["start"]
    # settings, owner, the layer editor's design
    assert len(start.inputs) == 14 and len(start.outputs) == len(train_tab.OUTPUTS) + 1
    assert type(start.inputs[-2]).__name__ == "BrowserState" and start.outputs[-1] is start.inputs[-2]
    assert start.show_progress == "hidden" and by_name["stop"].inputs == [start.inputs[-2]]
    # the page pulls its run: a timer's tick, the Train tab opened and, once the load gave it its
    # token, the page's load, none through the queue; each also keeps the timer going or stops it
    pulls = [f for f in fns if f.name == "tick" and f.fn.__module__ == "ui.train_tab"]
    assert [t[1] for t in by_name["token"].targets] == ["load"] and by_name["token"].outputs == [start.inputs[-2]]
    assert sorted(t[1] for f in pulls for t in f.targets) == ["select", "then", "tick"]
    assert all(f.inputs[-1] is start.inputs[-2] for f in pulls)  # whose run: this browser's
    assert all(not f.queue and f.show_progress == "hidden" for f in pulls)
    assert all([o._id for o in f.outputs[:-1]] == [o._id for o in start.outputs[:-1]] for f in pulls)
    timer = pulls[0].outputs[-1]
    assert type(timer).__name__ == "Timer" and all(f.outputs[-1] is timer for f in pulls)
    assert not timer.active  # a page starts with it stopped: an idle page sends nothing
    started = [f for f in fns if f.outputs == [timer] and any(t[1] == "success" for t in f.targets)]
    assert len(started) == 1  # Start, once it took the run, sets it going
    assert not [f for f in fns if any(t[1] == "unload" for t in f.targets)]  # a reload keeps the run
    assert demo.ctx.runs.stop_unwatched_after == train_tab.UNWATCHED_S


# ---------------------------------------------------------------- unsure predictions, the Photo tab's classes


def flat_photo(tmp_path, colour=(200, 40, 40)) -> str:
    """A photo of nothing (one flat colour): no class stands out for the photo model."""
    path = tmp_path / "flat.png"
    Image.new("RGB", (64, 64), colour).save(path)
    return str(path)


@pytest.fixture(scope="module")
def built_app(tmp_path_factory, data_dir):
    return build_app(
        checkpoint("mnist"), checkpoint("cifar10"), RunManager(tmp_path_factory.mktemp("runs"), data_dir, device="cpu")
    )


def shown_label(demo, elem_id: str, value):
    """What the page's Label (found by elem_id) shows for a handler's value."""
    label = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)
    return label.postprocess(value)


def test_unsure_predictions_name_the_two_best_guesses(monkeypatch):
    from ui import common, draw_tab, photo_tab

    monkeypatch.setattr(common, "UNSURE_BELOW", {"digit": 0.5, "photo": 0.5})
    probs = {"4": 0.41, "9": 0.38, "7": 0.21}
    assert common.headline(probs, draw_tab.UNSURE, "digit") == "Not sure this is a digit: maybe 4 or 9"
    assert (
        common.headline({"cat": 0.46, "dog": 0.3, "frog": 0.24}, photo_tab.UNSURE, "photo")
        == "Not sure what this is: maybe cat or dog"
    )
    assert common.headline({"4": 0.5, "9": 0.5}, draw_tab.UNSURE, "digit") == "4"  # at the threshold: sure
    assert inside_tab.prediction_line(probs) == "Prediction: **not sure**, maybe 4 (41.0%) or 9 (38.0%)."
    monkeypatch.setattr(common, "UNSURE_BELOW", {"digit": 0.3, "photo": 0.5})  # read at each prediction
    assert common.headline(probs, draw_tab.UNSURE, "digit") == "4"
    assert common.headline(probs, photo_tab.UNSURE, "photo") == "Not sure what this is: maybe 4 or 9"  # its own
    assert inside_tab.prediction_line(probs, "digit") == "Prediction: **4** (41.0%)."


def test_the_unsure_thresholds_are_the_ones_chosen_on_held_out_data():
    """The constants bench/unsure_threshold.py chose (docs/calibration.md); a probability the
    shipped models give in-distribution answers is above them, and a coin toss between two is below."""
    from ui import common

    assert common.UNSURE_BELOW == {"digit": 0.81, "photo": 0.43}
    assert common.headline({"4": 0.5, "9": 0.5}, "unsure {} {}", "digit") == "unsure 4 9"
    assert common.headline({"cat": 0.995, "dog": 0.005}, "unsure {} {}", "photo") == "cat"
    assert common.headline({"cat": 0.6, "dog": 0.4}, "unsure {} {}", "photo") == "cat"  # sure enough for a photo
    assert common.headline({"4": 0.6, "9": 0.4}, "unsure {} {}", "digit") == "unsure 4 9"  # not for a digit


def test_an_off_topic_photo_is_headlined_as_unsure(ctx, built_app, tmp_path, monkeypatch):
    from ui import common

    monkeypatch.setattr(common, "UNSURE_BELOW", {"digit": 0.5, "photo": 0.5})
    probs, _ = photo(ctx, flat_photo(tmp_path), ctx.shipped("photo"))
    assert sorted(probs) == sorted(CIFAR) and max(probs.values()) < 0.5  # still all ten probabilities
    first, second = sorted(probs, key=probs.get, reverse=True)[:2]
    shown = shown_label(built_app, "photo-label", probs)
    assert shown.label == f"Not sure what this is: maybe {first} or {second}" and len(shown.confidences) == 10
    assert shown_label(built_app, "photo-label", photo(ctx, TRUCK, ctx.shipped("photo"))[0]).label == "truck"
    text = inside_tab.inside(ctx, "Photo", None, flat_photo(tmp_path), ctx.shipped("draw"), ctx.shipped("photo"))[0]
    assert f"Prediction: **not sure**, maybe {first} (" in text and f"or {second} (" in text


def test_an_unsure_drawing_says_it_may_not_be_a_digit(ctx, built_app, mnist, monkeypatch):
    from ui import common

    probs = shown(draw(ctx, sketch_of(mnist.test.images[0, 0].numpy()), ctx.shipped("draw")))["label"]
    first, second = sorted(probs, key=probs.get, reverse=True)[:2]
    monkeypatch.setattr(common, "UNSURE_BELOW", {"digit": 1.01, "photo": 0.5})  # as if unsure of every drawing
    assert shown_label(built_app, "digit-label", probs).label == f"Not sure this is a digit: maybe {first} or {second}"
    monkeypatch.setattr(common, "UNSURE_BELOW", {"digit": 0.5, "photo": 0.5})
    assert shown_label(built_app, "digit-label", probs).label == first  # a real MNIST digit: sure
    assert shown_label(built_app, "digit-label", "Draw a digit").label == "Draw a digit"  # messages as they are


def test_the_photo_tab_names_the_models_classes(ctx):
    from ui import photo_tab

    note, examples, seen = photo_tab.view_of(ctx, ctx.shipped("photo"))
    assert "It knows 10 classes:** airplane, automobile, bird, cat, deer, dog, frog, horse, ship and truck." in note
    assert examples and seen == "What the model saw (32x32)" and "grey" not in note
    # a grey digit model in the Photo tab (the API or a page's state can put one there): it still
    # classifies the photo, says what it was trained on, and shows no CIFAR-10 examples
    note, examples, seen = photo_tab.view_of(ctx, ctx.shipped("draw"))
    assert "trained on grey 28x28 images (mnist)" in note and "10 classes:** 0, 1, 2, 3, 4, 5, 6, 7, 8 and 9." in note
    assert not examples and seen == "What the model saw (28x28, grey)"
    probs, im = photo(ctx, TRUCK, ctx.shipped("draw"))
    assert sorted(probs) == DIGITS and im.size == (224, 224)
    shown_note, column, image = photo_tab.model_view(ctx, ctx.shipped("draw"))
    assert shown_note == note and column.visible is False and image.label == seen
    assert photo_tab.view_of(ctx, "/no/such.safetensors") == ("", False, "What the model saw")
    assert photo_tab.class_list([f"c{i}" for i in range(30)]).endswith("c19 and 10 more")


def test_a_new_photo_model_updates_the_tab(built_app):
    from ui import photo_tab

    ids = {c.get("props", {}).get("elem_id") for c in built_app.config["components"]}
    assert {"photo-classes", "photo-examples"} <= ids
    fns = list(built_app.fns.values())
    view = next(f for f in fns if getattr(f.fn, "func", None) is photo_tab.model_view)
    assert [type(b).__name__ for b in view.inputs] == ["State"] and view.targets[0][1] == "change"
    assert [getattr(o, "elem_id", None) for o in view.outputs][:2] == ["photo-classes", "photo-examples"]
    # then the photo is classified again by the new model
    again = [f for f in fns if getattr(f.fn, "func", None) is photo_tab.photo and f.trigger_after == view._id]
    assert len(again) == 1


def test_what_the_model_saw_says_when_the_strokes_were_thinned_or_thickened(ctx):
    """Issue 36: "What the model saw" showed a thin, open 8 for a thick, filled one, and only a code
    comment said why."""
    from thick_drawings import digit

    from cnn.serving.digits import THICKENED, THINNED

    def strokes(image) -> str:
        return shown(draw(ctx, {"background": None, "layers": [image], "composite": None}, ctx.shipped("draw")))[
            "strokes"
        ]

    assert strokes(digit("8", width_share=0.5, stroke_px=90)) == THINNED  # a thick, nearly filled 8
    assert strokes(digit("8", width_share=0.5, stroke_px=6)) == THICKENED  # a fine pen
    assert strokes(digit("8", width_share=0.33, stroke_px=38)) == ""  # MNIST's own width: left as drawn
