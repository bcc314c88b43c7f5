"""The app's handlers (ui/*), called directly without a server, on real inputs: the shipped
checkpoints, real MNIST digits, the example photos and a short real training run. Also how a run
looks on the page (ui.run_view) and that the app's events are wired as the handlers expect."""
from __future__ import annotations

import types
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app_helpers import ROOT, checkpoint
from cnn.runs import RunManager
from cnn.serving.decode import BLANK_MESSAGE
from ui import inside_tab, run_view, train_tab
from ui.app import build_app, predict_digit, predict_photo
from ui.common import AppContext, error, friendly
from ui.draw_tab import draw
from ui.photo_tab import photo

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGITS = [str(i) for i in range(10)]
TRUCK = str(ROOT / "examples" / "truck.png")
# the settings of the Train tab, in the order `start` takes them: 1,000 MNIST images for one epoch
QUICK = dict(dataset_choice="MNIST", folder="", model="mnist_fast", recipe="mnist_fast", epochs=1, batch=64,
             lr=0.05, optimizer="sgd", train_n=1000, test_n=200)


def make_ctx(runs_dir: Path, data_dir: Path) -> AppContext:
    return AppContext(RunManager(runs_dir, data_dir, device="cpu"), str(checkpoint("mnist")),
                      str(checkpoint("cifar10")))


@pytest.fixture()
def ctx(tmp_path, data_dir):
    c = make_ctx(tmp_path / "runs", data_dir)
    yield c
    c.runs.stop()
    assert c.runs.wait_idle(30)


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
        probs, seen = draw(ctx, sketch_of(mnist.test.images[i, 0].numpy()), ctx.shipped("draw"))
        assert sorted(probs) == DIGITS and abs(sum(probs.values()) - 1) < 1e-3
        assert isinstance(seen, Image.Image) and seen.size == (224, 224)  # the 28x28, enlarged
        right += top(probs) == str(int(mnist.test.labels[i]))
    assert right >= 9


def test_an_empty_canvas_asks_for_a_digit(ctx):
    path = ctx.shipped("draw")
    assert draw(ctx, None, path) == ("Draw a digit", None)
    assert draw(ctx, {"background": None, "layers": [], "composite": None}, path) == ("Draw a digit", None)
    blank = sketch_of(np.zeros((28, 28), np.uint8))  # a white canvas with nothing drawn on it
    assert draw(ctx, blank, path) == (BLANK_MESSAGE, None)
    assert BLANK_MESSAGE.startswith("Draw a digit")


def test_a_missing_checkpoint_is_named_with_what_to_do(ctx, mnist, tmp_path):
    missing = str(tmp_path / "none.safetensors")
    with pytest.raises(gr.Error) as info:
        draw(ctx, sketch_of(mnist.test.images[0, 0].numpy()), missing)
    assert "No digit model checkpoint at" in message_of(info) and "--mnist-checkpoint" in message_of(info)
    assert ctx.about(missing, "digit").startswith("⚠️ No digit model checkpoint")
    assert ctx.about(ctx.shipped("draw"), "digit").startswith("Model: **")


def test_photo_gives_ten_class_probabilities(ctx):
    probs, seen = photo(ctx, TRUCK, ctx.shipped("photo"))
    assert sorted(probs) == sorted(CIFAR) and abs(sum(probs.values()) - 1) < 1e-3
    assert all(0 <= p <= 1 for p in probs.values())
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
    text, rows, maps, seen, cam, sal = inside_tab.inside(ctx, "Drawing", sketch, None, ctx.shipped("draw"),
                                                         ctx.shipped("photo"))
    assert f"Prediction: **{label}**" in text and "parameters" in text
    assert isinstance(rows, pd.DataFrame) and list(rows.columns) == inside_tab.SUMMARY_COLUMNS
    assert len(rows) > 3
    assert maps and all(isinstance(im, Image.Image) and "maps of" in caption for im, caption in maps)
    assert seen.size == cam.size == sal.size == (224, 224)
    a_cam, a_seen = np.asarray(cam.convert("RGB"), float), np.asarray(seen.convert("RGB"), float)
    assert np.abs(a_cam - a_seen).mean() > 5  # the heat map is laid over the input, not the input alone


def test_inside_a_photo_and_without_one(ctx):
    text, rows, maps, seen, cam, sal = inside_tab.inside(ctx, "Photo", None, TRUCK, ctx.shipped("draw"),
                                                         ctx.shipped("photo"))
    assert "Prediction: **" in text and len(maps) >= 2 and cam is not None and sal is not None
    text, rows, maps, *images = inside_tab.inside(ctx, "Drawing", None, None, ctx.shipped("draw"),
                                                  ctx.shipped("photo"))
    assert "Draw a digit in the Draw tab" in text and len(rows) > 3  # the summary, even without a drawing
    assert maps == [] and images == [None, None, None]


# ---------------------------------------------------------------- the Train tab

def test_bad_settings_give_a_clear_message(ctx):
    with pytest.raises(gr.Error) as info:
        next(train_tab.start(ctx, **{**QUICK, "lr": -1}))
    assert "Learning rate must be a number above zero" in message_of(info)
    with pytest.raises(gr.Error, match="Choose a data set"):
        next(train_tab.start(ctx, **{**QUICK, "dataset_choice": "Image folder", "folder": "  "}))
    assert ctx.runs.current is None  # nothing started


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    """A real run through the Start handler: (its context, every view it streamed, as dicts)."""
    c = make_ctx(tmp_path_factory.mktemp("runs"), data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gr.Warning outside a page
        views = [dict(zip(train_tab.OUTPUTS, v)) for v in train_tab.start(c, **QUICK)]
    return c, views


def test_start_streams_the_run_and_ends_with_its_result(trained):
    ctx, views = trained
    run, last = ctx.runs.current, views[-1]
    assert run.done and run.status == "finished", run.message
    assert len(views) >= 2 and all(len(v) == len(train_tab.OUTPUTS) for v in views)
    assert all(v["result"] == gr.skip() for v in views[:-1])  # the result only at the end
    assert "finished" in last["status"] and "ETA" in last["progress"] and "images/s" in last["progress"]
    assert list(last["loss_plot"].columns) == ["epoch", "step", "loss"] and len(last["loss_plot"]) >= 5
    assert sorted(last["acc_plot"]["split"]) == ["test", "train"]
    assert "Test accuracy:" in last["result"]
    # 1,000 images in batches of 64 for one epoch: the result says why so short a run underfits
    assert "only 16 weight updates (1,000 images x 1 epoch / batches of 64)" in last["result"]
    assert Path(last["last_run"]).is_file() and last["last_run"] == str(run.checkpoint)
    assert last["to_draw"].visible and last["to_photo"].visible
    assert isinstance(last["confusion"], Image.Image)
    im, caption = last["wrong_gallery"][0]
    assert im.size == (112, 112) and ", taken for " in caption


def test_run_view_of_a_finished_run(trained):
    run = trained[0].runs.current
    assert run_view.status_markdown(run).endswith(": finished.") and "**mnist_fast** on **mnist**" in \
        run_view.status_markdown(run)
    assert "step 16 / 16 (100%)" in run_view.progress_html(run) and "ETA 0:00" in run_view.progress_html(run)
    result = run_view.result_markdown(run)
    assert result.startswith("### Run finished") and "(200 test images," in result
    assert run_view.short_run_hint(run) in result
    items = run_view.misclassified_items(run, limit=3)
    assert 1 <= len(items) <= 3 and all(caption.split(", taken for ")[0] != caption.split(", taken for ")[1]
                                        for _, caption in items)
    assert run_view.confusion(run).size[0] > 100
    assert (run_view.clock(None), run_view.clock(65), run_view.clock(3725)) == ("?", "1:05", "1:02:05")


def test_use_the_trained_model(trained):
    ctx, views = trained
    path = views[-1]["last_run"]
    got, about, tabs = train_tab.use_in(ctx, "draw", path)
    assert got == path and about.startswith("Model: **") and Path(path).name in about
    assert tabs.selected == "draw"
    with pytest.raises(gr.Error, match="no trained model yet"):
        train_tab.use_in(ctx, "draw", None)
    with pytest.raises(gr.Error, match="only go in the Photo tab"):
        train_tab.use_in(ctx, "draw", ctx.shipped("photo"))  # a colour model


def test_clear_and_the_outputs_defined_once():
    cleared = dict(zip(train_tab.OUTPUTS, train_tab.clear_results()))
    assert set(cleared) == set(train_tab.OUTPUTS) and cleared["wrong_gallery"] == []
    assert not cleared["to_draw"].visible and cleared["result"] == ""
    with pytest.raises(TypeError, match="not a Train tab output: loss"):
        train_tab.values(loss=1)


def test_only_the_page_that_started_a_run_stops_it(ctx):
    run = ctx.runs.start(train_tab.run_config(**{**QUICK, "epochs": 30, "train_n": 4000}), session="a")
    with pytest.warns(UserWarning, match="only that page can stop it"):
        train_tab.stop(ctx, types.SimpleNamespace(session_hash="b"))
    assert not run.stop_event.is_set()
    with pytest.raises(gr.Error, match="already going .*started by this page"):
        next(train_tab.start(ctx, **QUICK, request=types.SimpleNamespace(session_hash="a")))
    train_tab.on_unload(ctx, types.SimpleNamespace(session_hash="a"))  # the page closed
    assert ctx.runs.wait_idle(30) and run.status == "stopped"


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
    from gradio.helpers import special_args
    demo = build_app(checkpoint("mnist"), checkpoint("cifar10"), RunManager(tmp_path, data_dir, device="cpu"))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"sketch", "digit-label", "digit-seen", "draw-about", "photo-in", "photo-label", "photo-about",
            "dataset", "model", "recipe", "epochs", "batch", "lr", "optimizer", "train-subset", "test-subset",
            "start-btn", "stop-btn", "train-status", "train-progress", "loss-plot", "acc-plot",
            "train-result", "to-draw", "to-photo", "wrong-gallery", "inside-maps"} <= ids
    fns = {f.name: f for f in demo.fns.values()}
    assert {"predict_digit", "predict_photo"} <= {f.api_name for f in demo.fns.values()}
    start = fns["start"]
    assert len(start.inputs) == 10 and len(start.outputs) == len(train_tab.OUTPUTS)
    assert [o._id for o in start.outputs] == [o._id for o in fns["clear_results"].outputs]
    # Gradio hands the bound start and stop the page's request (by their type hints)
    request = types.SimpleNamespace(session_hash="s")
    assert special_args(start.fn, list(range(10)), request=request)[0][-1] is request
    assert special_args(fns["stop"].fn, [], request=request)[0] == [request]
