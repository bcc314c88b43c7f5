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
from fuzz_inputs import mutations
from PIL import Image

from cnn.runs import RunManager
from cnn.serving.decode import BLANK_MESSAGE
from ui import inside_tab, photo_tab, train_tab
from ui.api import predict_digit, predict_photo
from ui.app import build_app
from ui.common import error, friendly
from ui.draw_tab import ANSWER, draw
from ui.outputs import named
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
    answer = named(photo_tab.ANSWERED, photo(ctx, TRUCK, ctx.shipped("photo")))
    probs, seen = answer["label"], answer["seen"]
    assert sorted(probs) == sorted(CIFAR) and abs(sum(probs.values()) - 1) < 1e-3
    assert all(0 <= p <= 1 for p in probs.values())
    assert max(probs, key=probs.get) == "truck" and probs["truck"] > 0.9  # examples/truck.png, read right
    assert seen.size == (224, 224)
    assert named(photo_tab.ANSWERED, photo(ctx, None, ctx.shipped("photo"))) == dict(label=None, seen=None)  # removed


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


def test_fuzz_the_api_handlers(ctx, tmp_path):
    """240 random and mutated files (PNG, JPEG, GIF, BMP and WebP with bytes flipped, cut or
    inserted, and random bytes), half to each of /predict_digit's and /predict_photo's handlers: each
    gets ten probabilities or a clear message, never another exception (tests/test_app_api.py sends
    48 more over HTTP)."""
    refused = 0
    for i, data in enumerate(mutations(0, 240)):
        path = tmp_path / f"fuzz{i}.img"
        path.write_bytes(data)
        handler = predict_digit if i % 2 else predict_photo
        try:
            probs = handler(ctx, str(path))
        except gr.Error as exc:
            refused += 1
            assert len(exc.message) > 20 and "Something went wrong" not in exc.message, (path, exc.message)
            continue
        assert isinstance(probs, dict) and len(probs) == 10 and abs(sum(probs.values()) - 1) < 1e-3, path
    assert refused >= 60  # most random bytes are refused


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


def test_the_inside_tab_keeps_the_newest_ask_of_each_page_and_forgets_the_oldest_pages():
    from ui.inside_tab import NewestAsked

    asks = NewestAsked(keep=2)
    asks.ask("a", 10.0)
    asks.ask("a", 5.0)  # an older ask arriving late changes nothing
    assert asks.outdated("a", 5.0) and not asks.outdated("a", 10.0)
    asks.ask("b", 1.0)
    asks.ask("c", 1.0)  # a third page: the least recent ("a") is forgotten, so its asks all count
    assert not asks.outdated("a", 0.0) and asks.outdated("c", 0.5)


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


def selected_ids() -> set[str]:
    """Every element id the browser tests and the benchmarks select (`#id` in a selector): a page
    that lost one fails here at once, not late in a browser test."""
    selector = re.compile(r"""(?:querySelector(?:All)?\(|locator\(|[\"'])#([a-z][a-z0-9-]+)""")
    sources = [*ROOT.joinpath("tests").glob("*.py"), *ROOT.joinpath("bench").glob("*.py")]
    found = {m for path in sources for m in selector.findall(path.read_text(encoding="utf-8"))}
    return {m for m in found if not m.endswith("-")}  # ("#digit-attack-{elem}": an f-string's prefix)


def test_the_app_wires_the_handlers(tmp_path, data_dir):
    demo = build_app(checkpoint("mnist"), checkpoint("cifar10"), RunManager(tmp_path, data_dir, device="cpu"))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    reached = selected_ids() - {"runs-diff", "runs-loss"}  # made later, by the Runs tab's gr.render
    assert len(reached) > 50 and {"sketch", "digit-label", "start-btn", "teach-sketch"} <= reached
    assert reached <= ids, f"selected by tests or benchmarks but not on the page: {sorted(reached - ids)}"
    fns = list(demo.fns.values())
    assert {"predict_digit", "predict_photo", "train"} <= {f.api_name for f in fns}
    by_name = {f.name: f for f in fns}
    start = by_name["start"]
    # settings, owner, the layer editor's design
    assert len(start.inputs) == 15 and len(start.outputs) == len(train_tab.STARTED)
    assert type(start.inputs[-3]).__name__ == "BrowserState" and start.outputs[-1] is start.inputs[-3]
    assert start.show_progress == "hidden" and by_name["stop"].inputs == [start.inputs[-3]]
    # the page pulls its run: a timer's tick, the Train tab opened and, once the load gave it its
    # token, the page's load, none through the queue; each also keeps the timer going or stops it
    pulls = [f for f in fns if f.name == "tick" and f.fn.__module__ == "ui.train_tab"]
    assert [t[1] for t in by_name["token"].targets] == ["load"] and by_name["token"].outputs == [start.inputs[-3]]
    assert sorted(t[1] for f in pulls for t in f.targets) == ["select", "then", "tick"]
    assert all(f.inputs[-1] is start.inputs[-3] for f in pulls)  # whose run: this browser's
    assert all(not f.queue and f.show_progress == "hidden" for f in pulls)
    assert all([o._id for o in f.outputs[:-1]] == [o._id for o in start.outputs[:-1]] for f in pulls)
    timer = pulls[0].outputs[-1]
    assert type(timer).__name__ == "Timer" and all(f.outputs[-1] is timer for f in pulls)
    assert not timer.active  # a page starts with it stopped: an idle page sends nothing
    started = [f for f in fns if f.outputs == [timer] and any(t[1] == "success" for t in f.targets)]
    assert len(started) == 1  # Start, once it took the run, sets it going
    assert not [f for f in fns if any(t[1] == "unload" for t in f.targets)]  # a reload keeps the run


# ---------------------------------------------------------------- unsure predictions, the Photo tab's classes
