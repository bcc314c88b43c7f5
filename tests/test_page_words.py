"""The page's words: settings named in words, legends that tell runs apart, the live panel's captions,
the CPU threads said one way, and a model list that says what each model is."""

from __future__ import annotations

from cnn.models import MODELS
from ui import run_view, words
from ui.run_words import legend_names, setting_words, value_words


def test_settings_in_words():
    assert setting_words("lr", 0.02) == "learning rate 0.02"
    assert setting_words("epochs", 2.0) == "2 epochs" and setting_words("epochs", 1) == "1 epoch"
    assert setting_words("train images", 5000) == "5,000 training images"
    assert setting_words("normalize", [[0.1308], [0.3083]]) == "normalized with mean 0.131, std 0.308"
    assert (
        value_words("normalize", [[0.49, 0.48, 0.45], [0.25, 0.24, 0.26]]) == "mean 0.49/0.48/0.45, std 0.25/0.24/0.26"
    )
    assert setting_words("flip", True) == "flip on"


def test_legends_tell_runs_apart():
    keys = ["mnist_fast-mnist-20261203-071200-a1b2c3d4", "mnist_fast-mnist-20261203-071512-e5f6a7b8"]
    names = legend_names(keys)
    assert names == {keys[0]: "071200-a1b2c3d4", keys[1]: "071512-e5f6a7b8"}
    long = ["x-" + "a" * 30 + "1", "x-" + "a" * 30 + "2"]  # differ only at the end: the end is kept
    assert len(set(legend_names(long).values())) == 2 and all(
        n.endswith(("1", "2")) for n in legend_names(long).values()
    )
    assert legend_names(["only"]) == {"only": "only"}


def test_live_captions_and_threads_read_right():
    from types import SimpleNamespace

    import torch

    snap = SimpleNamespace(predictions=[1, 3], probabilities=[0.55, 0.9], step=5, epoch=0.5)
    run = SimpleNamespace(
        snapshot=snap,
        panel_images=torch.zeros(2, 1, 28, 28),
        panel_labels=[1, 2],
        data=SimpleNamespace(classes=[str(d) for d in range(10)]),
    )
    html = run_view.live_panel_html(run)
    assert "✓&nbsp;1 · 55%" in html and "✗&nbsp;3 · 90%" in html  # not "✓1 55%", read as "155%"
    # the CPU threads said one way: "cpu (2 threads)" on the tab, "on 1 of 2 CPU threads" in the run
    p = {
        "total": 10,
        "fraction": 0.5,
        "step": 5,
        "epoch": 0.5,
        "elapsed": 1,
        "eta": 1,
        "images_per_s": 100,
        "threads": 1,
    }
    run = SimpleNamespace(progress=lambda: p, steps=[], device="cpu (2 threads)", done=False)
    assert "images/s on 1 of 2 CPU threads<" in run_view.progress_html(run)


def test_model_list_says_what_each_model_is():
    choices = words.model_choices(MODELS)
    assert [v for _, v in choices] == list(MODELS)  # the values stay the names
    labels = dict((v, label) for label, v in choices)
    assert labels["seed000_net"].startswith("seed000_net: a PyTorch tutorial's small CNN")
    assert all(": " in label for label in labels.values())


def test_taught_models_words():
    assert words.prompt(["circle", "cross", "line"]) == "Draw a circle, cross or line"
    assert words.prompt([str(d) for d in range(10)]) == "Draw a digit (0-9)"
    assert words.unsure({"circle": 0.5, "cross": 0.5}).format("circle", "cross") == "Not sure: maybe circle or cross"
    assert words.prompt(["apple", "pear"]) == "Draw an apple or pear"
