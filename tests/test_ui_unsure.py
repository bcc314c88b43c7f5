"""The handlers' words for unsure predictions, the Photo tab's classes, and what the Draw tab's model
saw (moved from test_ui_handlers.py, which grew past the file limit)."""

from __future__ import annotations

import pytest
from app_helpers import checkpoint
from PIL import Image
from test_ui_handlers import CIFAR, DIGITS, TRUCK, shown, sketch_of

from cnn.runs import RunManager
from ui import inside_tab
from ui.app import build_app
from ui.draw_tab import draw
from ui.outputs import named
from ui.photo_tab import photo


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

    assert common.UNSURE_BELOW == {"digit": 0.85, "photo": 0.43}
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
    answer = named(photo_tab.ANSWERED, photo(ctx, TRUCK, ctx.shipped("draw")))
    assert sorted(answer["label"]) == DIGITS and answer["seen"].size == (224, 224)
    viewed = named(photo_tab.VIEWED, photo_tab.model_view(ctx, ctx.shipped("draw")))
    assert viewed["note"] == note and viewed["examples"].visible is False and viewed["seen"].label == seen
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
