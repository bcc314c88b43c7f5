"""The Train tab's handlers (ui/train_tab.py) called directly, without a server, on real short training
runs; and how a run looks on the page (ui/run_view.py). The browser side is in test_browser.py."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import gradio as gr
import pytest
from app_helpers import make_ctx
from PIL import Image
from test_runs import make_folder

from cnn.errors import ConfigError
from cnn.runs import Run, RunConfig
from cnn.training import EpochEnd, Start, Step, get_recipe
from ui import run_view, train_tab
from ui.common import md

# the settings of the Train tab, in the order `start` takes them: 1,000 MNIST images for one epoch
QUICK = dict(
    dataset_choice="MNIST",
    folder="",
    model="mnist_fast",
    recipe="mnist_fast",
    epochs=1,
    batch=64,
    lr=0.05,
    optimizer="sgd",
    train_n="1000",
    test_n="200",
)
LONG = {**QUICK, "epochs": 30, "train_n": "4000"}  # long enough that it cannot end before a Stop
SKIP = gr.skip()


def named(answer) -> dict:
    return dict(zip(train_tab.OUTPUTS, answer))


def sent(view: dict) -> set[str]:
    """The outputs an answer changes (the page's `shown` state aside)."""
    return {k for k, v in view.items() if k != "shown" and not (isinstance(v, dict) and v == SKIP)}


def start(ctx, owner="me", **settings) -> dict:
    *answer, got = train_tab.start(ctx, **{**QUICK, **settings}, owner=owner)
    assert got == owner
    return named(answer)


def pull(ctx, view: dict, timeout: float = 120, owner: str = "me") -> list[dict]:
    """Ask like the page's timer does, from what `view` left the page showing, until the run's result
    has come: every answer."""
    answers, t0 = [view], time.time()
    while "result" not in sent(answers[-1]) or answers[-1]["result"] == "":
        assert time.time() - t0 < timeout, "no result in time"
        time.sleep(0.2)
        answers.append(named(train_tab.refresh(ctx, shown_after(answers), owner)))
    return answers


def shown_after(answers: list[dict]) -> train_tab.Shown:
    """What the page's `shown` state holds after these answers (an answer that changes nothing
    leaves it as it is)."""
    return next(a["shown"] for a in reversed(answers) if a["shown"] != SKIP)


def latest(answers: list[dict], name: str):
    """What the page shows in an output after these answers: the last value sent for it."""
    return next(a[name] for a in reversed(answers) if name in sent(a))


def message_of(info) -> str:
    return info.value.message


# ---------------------------------------------------------------- settings refused before anything changes


def test_bad_settings_give_a_clear_message_and_start_nothing(ctx):
    with pytest.raises(gr.Error, match="Learning rate must be a number above zero"):
        start(ctx, lr=-1)
    with pytest.raises(gr.Error, match="Choose a data set"):
        start(ctx, dataset_choice="Image folder", folder="  ")
    with pytest.raises(gr.Error, match="Training images must be a whole number of images, or empty for all"):
        start(ctx, train_n="lots")
    with pytest.raises(gr.Error, match="at least 1 image"):
        start(ctx, test_n="0")
    assert ctx.runs.current is None


def test_the_quick_run_boxes_are_empty_for_all():
    assert train_tab._count("", "x") is None and train_tab._count(None, "x") is None
    assert train_tab._count(" 1,000 ", "x") == 1000 and train_tab._count(500, "x") == 500
    with pytest.raises(ConfigError, match="x must be a whole number of images"):
        train_tab._count("2.5", "x")


def test_choosing_a_data_set_picks_its_fast_model(ctx):
    box, model, recipe = train_tab.pick_for_dataset(ctx, "CIFAR-10")
    assert (model, recipe) == ("cifar10_small", "cifar10_small") and box.visible is False  # on a CPU
    assert train_tab.pick_for_dataset(ctx, "Fashion-MNIST")[1:] == ("mnist_fast", "mnist_fast")
    box, model, recipe = train_tab.pick_for_dataset(ctx, "Image folder")
    assert box.visible is True and model == SKIP and recipe == SKIP  # the person picks the model
    assert train_tab.fill_from_recipe("cifar10_small") == (12, 256, 0.5, "sgd")


def test_a_model_for_other_images_is_refused_at_start(ctx):
    with pytest.raises(gr.Error) as info:
        start(ctx, dataset_choice="CIFAR-10")  # still MNIST's model and recipe
    assert (
        "The model mnist_fast is written for grey 28x28 images, and cifar10 has colour 32x32 images" in message_of(info)
    ) and "cifar10_small" in message_of(info)
    with pytest.raises(gr.Error, match="cifar10_small is written for colour 32x32 images, and mnist has grey"):
        start(ctx, model="cifar10_small", recipe="cifar10_small")
    assert ctx.runs.current is None


def test_a_folder_that_is_not_there_is_named(ctx, tmp_path, data_dir):
    with pytest.raises(gr.Error) as info:
        start(ctx, dataset_choice="Image folder", folder=str(tmp_path / "no" / "such"))
    assert message_of(info).startswith(f"The folder {tmp_path / 'no' / 'such'} does not exist.")
    with pytest.raises(gr.Error, match=re.escape(f"no folder {data_dir.resolve() / 'holiday_photos'}")):
        start(ctx, dataset_choice="Image folder", folder="holiday_photos")
    make_folder(tmp_path / "elsewhere")  # there, but outside the data directory
    with pytest.raises(gr.Error, match="is outside the data directory"):
        start(ctx, dataset_choice="Image folder", folder=str(tmp_path / "elsewhere"))
    assert ctx.runs.current is None


def test_a_run_that_fails_leaves_no_stale_progress(tmp_path):
    make_folder(tmp_path / "data" / "lonely", classes=("only",))
    c = make_ctx(tmp_path / "runs", tmp_path / "data")
    answers = pull(
        c,
        start(
            c,
            dataset_choice="Image folder",
            folder="lonely",
            model="seed002_net",
            recipe="seed002",
            batch=4,
            train_n="",
            test_n="",
        ),
    )
    last = answers[-1]
    assert "has 1 class sub-folder(s)" in last["result"] and last["result"].startswith("### Run failed")
    assert latest(answers, "progress") == "" and "No test-set evaluation" in last["result"]
    assert not last["panels"].visible and not last["to_draw"].visible and not last["to_photo"].visible


# ---------------------------------------------------------------- a run, pulled by the page


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    """A real run started with Start and pulled like the page does: (its context, every answer)."""
    c = make_ctx(tmp_path_factory.mktemp("runs"), data_dir)
    return c, pull(c, start(c))


def test_start_clears_the_tab_then_the_page_pulls_the_run(trained):
    ctx, answers = trained
    run, first, last = ctx.runs.current, answers[0], answers[-1]
    assert run.done and run.status == "finished", run.message
    assert first["result"] == "" and first["wrong_gallery"] == [] and not first["panels"].visible
    assert first["last_run"] is None and not first["to_draw"].visible and first["loss_plot"].value is None
    assert all(a["result"] == SKIP for a in answers[1:-1])  # the result only once it is there
    # 1,000 images, 100 (10%) held out for the temperature: 900 train, in 15 batches
    assert "finished" in latest(answers, "status") and "step 15 / 15 (100%)" in latest(answers, "progress")
    curve = last["loss_plot"].value  # the whole curve, with the run's axis and the loss note
    assert curve["columns"] == ["epoch", "step", "loss"] and len(curve["data"]) == len(run.steps) >= 5
    assert last["loss_plot"].x_lim == [0.0, 1.0] and "label smoothing 0.1" in first["loss_note"]
    # (the accuracy comes at the epoch's end, which may be an answer before the result: the fit of
    # the temperature comes between them)
    assert sorted(r[2] for r in latest(answers, "acc_plot").value["data"]) == ["test", "train"]
    assert "Test accuracy:" in last["result"]
    # 900 images in batches of 64 for one epoch: the result says why so short a run underfits
    assert "only 15 weight updates (900 images x 1 epoch / batches of 64)" in last["result"]
    assert Path(last["last_run"]).is_file() and last["last_run"] == str(run.checkpoint)
    assert last["to_draw"].visible and not last["to_photo"].visible  # a grey digit model: Draw only
    assert last["panels"].visible and isinstance(last["confusion"], Image.Image)
    im, caption = last["wrong_gallery"][0]
    assert im.size == (112, 112) and ", taken for " in caption


def test_the_result_shows_the_reliability_diagram_and_offers_the_checkpoint_and_its_onnx(trained):
    ctx, answers = trained
    run, last, first = ctx.runs.current, answers[-1], answers[0]
    meta = run.end.metadata
    t, cal = meta["temperature"], meta["calibration"]
    assert not first["reliability"].visible and not first["get_onnx"].visible  # a new run: none yet
    # the diagram of the 100 held-out training images, before and after the temperature, ECE in its caption
    diagram = last["reliability"]
    assert diagram.visible and diagram.value is not None
    assert diagram.label == (
        f"Reliability on 100 images the model did not train on: ECE {cal['ece_before']:.2%} "
        f"before the temperature, {cal['ece_after']:.2%} after (T = {t:.3f})"
    )
    image, _ = run_view.reliability(run)
    assert image.size[0] > 2 * image.size[1] - 100  # two panels side by side
    assert f"**Calibration:** temperature {t:.3f}, fitted on 100 training images held out" in last["result"]
    # the download buttons: the checkpoint, and its ONNX export, which gives the checkpoint's logits
    assert last["get_checkpoint"].visible and last["get_checkpoint"].value["orig_name"] == run.checkpoint.name
    onnx_path = last["get_onnx"].value["path"]
    assert last["get_onnx"].visible and last["get_onnx"].value["orig_name"] == f"{run.checkpoint.stem}.onnx"
    ort = pytest.importorskip("onnxruntime")
    import torch

    from cnn.checkpoint import load_checkpoint
    from cnn.data.normalize import Normalizer
    from cnn.serving.onnx_export import read_onnx_metadata

    model, _ = load_checkpoint(run.checkpoint)
    x = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], "cpu", 1)(run.data.test.images[:50])
    got = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.inference_mode():
        want = model.eval()(x)
    assert (torch.from_numpy(got) - want).abs().max() < 1e-4
    assert read_onnx_metadata(onnx_path)["temperature"] == pytest.approx(t)


def test_each_answer_sends_only_what_the_page_lacks(trained):
    ctx, answers = trained
    final = named(train_tab.refresh(ctx, shown_after(answers), "me"))
    assert sent(final) == set() and final["shown"] == SKIP  # the page has it all: nothing to redraw
    reloaded = named(train_tab.refresh(ctx, None, "me"))  # a page that (re)loads gets the whole run
    assert {
        "status",
        "progress",
        "loss_plot",
        "acc_plot",
        "result",
        "confusion",
        "wrong_gallery",
        "to_draw",
        "last_run",
    } <= sent(reloaded) and "Test accuracy:" in reloaded["result"]
    # an answer the page never applied leaves its `shown` as it was: the next answer sends it again
    before = shown_after(answers[:-1])
    assert "result" in sent(named(train_tab.refresh(ctx, before, "me")))
    assert set(shown_after(answers).keys) == {"status", "progress", "loss_note", "loss", "acc", "panel", "result"}
    # another person's page shows nothing of this run, and a page with no token yet nothing at all
    assert sent(named(train_tab.refresh(ctx, None, "someone else"))) == set()
    assert sent(named(train_tab.refresh(ctx, None, None))) == set()


def test_an_invalid_start_keeps_the_results(trained):
    ctx, answers = trained
    run = ctx.runs.current
    with pytest.raises(gr.Error, match="Learning rate"):
        start(ctx, lr=0)
    with pytest.raises(gr.Error, match="written for grey 28x28"):
        start(ctx, dataset_choice="CIFAR-10")
    assert ctx.runs.current is run  # and the page, which got no answer, keeps showing it
    assert sent(named(train_tab.refresh(ctx, shown_after(answers), "me"))) == set()


def test_run_view_of_a_finished_run(trained):
    run = trained[0].runs.current
    assert run_view.status_markdown(run).endswith(
        ": finished."
    ) and "**mnist_fast** on **mnist**" in run_view.status_markdown(run)
    assert "step 15 / 15 (100%)" in run_view.progress_html(run) and "ETA 0:00" in run_view.progress_html(run)
    result = run_view.result_markdown(run)
    assert result.startswith("### Run finished") and "(200 test images," in result
    assert run_view.short_run_hint(run) in result
    items = run_view.misclassified_items(run, limit=3)
    assert 1 <= len(items) <= 3 and all(
        caption.split(", taken for ")[0] != caption.split(", taken for ")[1] for _, caption in items
    )
    assert run_view.confusion(run).size[0] > 100
    assert (run_view.clock(None), run_view.clock(65), run_view.clock(3725)) == ("?", "1:05", "1:02:05")


def test_use_the_trained_model(trained):
    ctx, answers = trained
    path = answers[-1]["last_run"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gr.Info outside a page
        got, about, tabs = train_tab.use_in(ctx, "draw", path)
    assert got == path and about.startswith("Model: **") and md(Path(path).name) in about
    assert tabs.selected == "draw"
    with pytest.raises(gr.Error, match="no trained model yet"):
        train_tab.use_in(ctx, "draw", None)
    with pytest.raises(gr.Error, match="only go in the Photo tab"):
        train_tab.use_in(ctx, "draw", ctx.shipped("photo"))  # a colour model
    with pytest.raises(TypeError, match="not a Train tab output: loss"):
        train_tab.values(loss=1)


# ---------------------------------------------------------------- stop


def test_only_the_browser_that_started_a_run_stops_it_and_its_weights_are_tested(ctx):
    view = start(ctx, owner="a", **LONG)
    run = ctx.runs.current
    while len(run.steps) < 3:
        run.wait(run.version, 1)
        assert not run.done, run.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_tab.stop(ctx, "b")  # another browser: it has no run, and Stop touches only its own
    assert not run.stop_event.is_set()
    with pytest.warns(UserWarning, match="You already have a run training"):  # a message, not an error
        assert sent(start(ctx, owner="a")) == set()  # and the page keeps showing its run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_tab.stop(ctx, "a")
    answers = pull(ctx, view, owner="a")
    last = answers[-1]
    assert run.status == "stopped"
    step = int(re.search(r"Stopped at step (\d+) of", run.message).group(1))
    assert f"step {step} / {run.start.total_steps}" in latest(answers, "progress")  # where it stopped
    assert "**Test accuracy of the kept weights: " in last["result"] and "No test-set" not in last["result"]
    assert last["panels"].visible and last["confusion"] is not None and last["wrong_gallery"]
    # the kept weights' test accuracy is a dot on the accuracy plot, where the run stopped
    dots = named(train_tab.refresh(ctx, None, "a"))["acc_plot"].value["data"]
    assert dots[-1][2] == "test" and dots[-1][1] == pytest.approx(run.end.test_accuracy) and dots[-1][0] < 30


# ---------------------------------------------------------------- plots


def fake_run(epochs: float, steps: int, recipe="mnist_fast") -> Run:
    """A run that went `steps` steps of a recipe set to `epochs` epochs of 100 steps (no training)."""
    r = get_recipe(recipe).replace(epochs=epochs)
    run = Run("fake", RunConfig("mnist", r.model, r.name, epochs, 64, 0.1, "sgd"), None, "cpu", recipe=r)
    run.start = Start("cpu", r.model, 1, 6400, 100, epochs, 64, 100, int(epochs * 100))
    run.steps = [
        Step(s, run.start.total_steps, s / 100, 2.0 / s, 0.1, 1000.0, s / 10, 1.0) for s in range(1, steps + 1)
    ]
    run.epochs = [EpochEnd(e, 0.5, 0.9, 0.4, 0.95, 1.0, 1.0) for e in range(1, int(steps / 100 + 0.999) + 1)]
    return run


def test_plots_have_sensible_axes_and_explain_the_loss_floor():
    short = fake_run(0.8, 80)
    acc = run_view.accuracy_frame(short)
    assert acc["epoch"].tolist() == [0.8, 0.8]  # the 0.8-epoch run's accuracy sits at 0.8, not at 1
    lo, hi = run_view.accuracy_x_range(short)
    assert lo < 0 and 1 < hi < 1.2 and run_view.loss_x_range(short) == [0.0, 0.8]
    three = fake_run(3, 300)
    lo, hi = run_view.accuracy_x_range(three)
    assert lo < 1 - 0.1 and hi > 3 + 0.1  # the first and last dots are not cut at the edges
    assert abs(run_view.smoothing_floor(0.1, 10) - 0.5003) < 1e-3 and run_view.smoothing_floor(0, 10) == 0
    assert "label smoothing 0.1" in run_view.loss_caption(
        three
    ) and "loss is 0.50 here (10 classes)" in run_view.loss_caption(three)
    assert "label smoothing" not in run_view.loss_caption(fake_run(1, 10, recipe="seed002"))


def test_a_long_loss_curve_is_drawn_from_a_few_hundred_points():
    run = fake_run(30, 3000)
    frame = run_view.loss_frame(run)
    assert len(frame) <= run_view.LOSS_POINTS and frame["step"].iloc[-1] == 3000
    assert frame["epoch"].is_monotonic_increasing and list(frame.columns) == ["epoch", "step", "loss"]
    assert len(run_view.loss_frame(fake_run(1, 50))) == 50  # a short curve as it is
