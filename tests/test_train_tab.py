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
from ui import outputs, run_view, train_settings, train_tab, train_view
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


def named(answer, names=train_tab.TICKED) -> dict:
    """An answer of `tick` (or of `start`: names=STARTED) by output name."""
    return outputs.named(names, answer)


def sent(view: dict) -> set[str]:
    """The outputs an answer changes (the page's `shown` state aside)."""
    return {k for k, v in view.items() if k not in ("shown", "timer") and not (isinstance(v, dict) and v == SKIP)}


def start(ctx, owner="me", **settings) -> dict:
    answer = named(train_tab.start(ctx, **{**QUICK, **settings}, owner=owner), train_tab.STARTED)
    assert answer.pop("owner") == owner
    return answer


def pull(ctx, view: dict, timeout: float = 120, owner: str = "me") -> list[dict]:
    """Ask like the page's timer does, from what `view` left the page showing, until the run's result
    has come: every answer."""
    answers, t0 = [view], time.time()
    while "result" not in sent(answers[-1]) or answers[-1]["result"] == "":
        assert time.time() - t0 < timeout, "no result in time"
        time.sleep(0.2)
        answers.append(named(train_tab.tick(ctx, shown_after(answers), owner)))
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
    assert train_settings.count("", "x") is None and train_settings.count(None, "x") is None
    assert train_settings.count(" 1,000 ", "x") == 1000 and train_settings.count(500, "x") == 500
    for bad in ("2.5", "lots", "inf", "1e999"):
        with pytest.raises(ConfigError, match="x must be a whole number of images"):
            train_settings.count(bad, "x")


def test_choosing_a_data_set_picks_its_fast_model(ctx):
    picked = lambda choice: outputs.named(train_settings.FOR_DATASET, train_settings.pick_for_dataset(ctx, choice))
    got = picked("CIFAR-10")
    assert (got["model"], got["recipe"]) == ("cifar10_small", "cifar10_small") and got["folder"].visible is False
    got = picked("Fashion-MNIST")  # on a CPU
    assert (got["model"], got["recipe"]) == ("mnist_fast", "mnist_fast")
    got = picked("MNIST")
    assert (got["model"], got["recipe"]) == ("mnist_fast", "mnist_fast") and got["folder"].visible is False
    got = picked("Image folder")
    assert got["folder"].visible is True and got["model"] == SKIP and got["recipe"] == SKIP  # the person picks
    filled = outputs.named(train_settings.FROM_RECIPE, train_settings.fill_from_recipe("cifar10_small"))
    assert filled == dict(epochs=12, batch=256, lr=0.5, optimizer="sgd")


def test_the_tab_opens_on_the_cpus_mnist_default(ctx):
    with gr.Blocks():
        got = {**train_settings.data_and_model(ctx), **train_settings.training(ctx)}
    assert (got["dataset"].value, got["model"].value, got["recipe"].value) == ("MNIST", "mnist_fast", "mnist_fast")
    numbers = (got["epochs"].value, got["batch"].value, got["lr"].value, got["optimizer"].value)
    assert numbers == (0.8, 64, 0.1, "sgd")  # mnist_fast's own (ctx trains on the CPU)


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
    final = named(train_tab.tick(ctx, shown_after(answers), "me"))
    assert sent(final) == set() and final["shown"] == SKIP  # the page has it all: nothing to redraw
    reloaded = named(train_tab.tick(ctx, None, "me"))  # a page that (re)loads gets the whole run
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
    assert "result" in sent(named(train_tab.tick(ctx, before, "me")))
    assert set(shown_after(answers).keys) == {"status", "progress", "loss_note", "loss", "acc", "panel", "result"}
    # another person's page shows nothing of this run, and a page with no token yet nothing at all
    assert sent(named(train_tab.tick(ctx, None, "someone else"))) == set()
    assert sent(named(train_tab.tick(ctx, None, None))) == set()


def test_an_invalid_start_keeps_the_results(trained):
    ctx, answers = trained
    run = ctx.runs.current
    with pytest.raises(gr.Error, match="Learning rate"):
        start(ctx, lr=0)
    with pytest.raises(gr.Error, match="written for grey 28x28"):
        start(ctx, dataset_choice="CIFAR-10")
    assert ctx.runs.current is run  # and the page, which got no answer, keeps showing it
    assert sent(named(train_tab.tick(ctx, shown_after(answers), "me"))) == set()


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
        used = outputs.named(train_tab.USED, train_tab.use_in(ctx, "draw", path))
    assert used["model"] == path and used["about"].startswith("Model: **") and md(Path(path).name) in used["about"]
    assert set(used) == {"model", "about"}  # (the page opens the Draw tab: common.opens_tab)
    with pytest.raises(gr.Error, match="no trained model yet"):
        train_tab.use_in(ctx, "draw", None)
    with pytest.raises(gr.Error, match="only go in the Photo tab"):
        train_tab.use_in(ctx, "draw", ctx.shipped("photo"))  # a colour model
    with pytest.raises(TypeError, match="not a Train tab output: loss"):
        train_view.values(loss=1)


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
    dots = named(train_tab.tick(ctx, None, "a"))["acc_plot"].value["data"]
    assert dots[-1][2] == "test" and dots[-1][1] == pytest.approx(run.end.test_accuracy) and dots[-1][0] < 30
