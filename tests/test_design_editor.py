"""The Train tab's layer editor (ui/design_editor.py) without a browser: editing a design's layers,
what it shows of a design (table, message, picture, code, JSON), share links read back and
refused when bad, Start with a broken or too big design, the Runs tab's layer-by-layer
comparison, and the seconds-per-epoch estimate from timing real steps."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qsl

import gradio as gr
import pytest

from cnn.errors import ConfigError
from cnn.models import design_link
from cnn.runs import RunConfig
from ui import design_editor as de
from ui import design_edits as edits
from ui import design_link_open as link_open
from ui import design_outputs as mo
from ui import design_share as share
from ui import design_views as views
from ui.design_outputs import named

MNIST = views.Target.of("MNIST", 64)


def lenet() -> list:
    return de.presets()[de.START_PRESET]


def test_presets_open_as_designs_that_work():
    p = de.presets()
    assert de.START_PRESET in p and p[de.EMPTY] == [] and "seed002_net" in p and "mnist_fast" in p
    v = views.show(p[de.START_PRESET], MNIST)
    assert "**61,706** parameters" in v.message  # LeNet-5, as the issue counts it
    assert list(v.table.columns) == views.TABLE_COLUMNS and len(v.table) == 12
    assert v.table.iloc[0]["Output shape"] == "6×28×28" and v.table.iloc[0]["Parameters"] == "156"
    assert "<svg" in v.picture and "nn.Sequential(" in v.code
    assert json.loads(v.text) == p[de.START_PRESET]  # the JSON view is the design
    p[de.START_PRESET].pop()  # presets() hands out copies
    assert len(de.presets()[de.START_PRESET]) == 12


def test_arguments_are_read_as_json_values_never_as_code():
    assert edits.parse_arguments("out_channels=6, kernel_size=[3, 5], padding='same'") == {
        "out_channels": 6,
        "kernel_size": [3, 5],
        "padding": "same",
    }
    assert edits.parse_arguments("kernel_size=(3,3), bias=false, p=0.25") == {
        "kernel_size": [3, 3],
        "bias": False,
        "p": 0.25,
    }
    assert edits.parse_arguments("padding=same") == {"padding": "same"}
    assert edits.parse_arguments("") == {}
    layer = {"layer": "Conv2d", "out_channels": 6, "kernel_size": [3, 5]}
    assert edits.parse_arguments(edits.arguments_text(layer)) == {k: v for k, v in layer.items() if k != "layer"}
    for bad in ("__import__('os').system('true')", "kernel_size", "3=4", "layer=ReLU", "x=a b"):
        with pytest.raises(ConfigError):
            edits.parse_arguments(bad)


def test_add_remove_move_and_edit_layers():
    d = [{"layer": "Flatten"}, {"layer": "Linear"}]
    d, at = edits.added(d, 0, "Linear")
    assert at == 1 and d[1] == {"layer": "Linear", "out_features": 64}
    d, at = edits.added(d, None, "ReLU")  # nothing chosen: at the end
    assert at == 3 and [x["layer"] for x in d] == ["Flatten", "Linear", "Linear", "ReLU"]
    d, at = edits.moved(d, 3, -1)
    assert at == 2 and [x["layer"] for x in d] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert edits.moved(d, 0, -1) == (d, 0)  # the first layer cannot go up
    d = edits.edited(d, 1, "Linear", "out_features=32")
    assert d[1] == {"layer": "Linear", "out_features": 32}
    d, at = edits.removed(d, 3)
    assert at == 2 and len(d) == 3
    for op in (lambda: edits.removed(d, None), lambda: edits.edited(d, 7, "ReLU", ""), lambda: edits.moved(d, -1, 1)):
        with pytest.raises(ConfigError, match="Choose a layer"):
            op()


def test_a_broken_design_names_the_layer_and_keeps_the_picture_and_code():
    d = lenet()
    d[3]["kernel_size"] = 30
    v = views.show(d, MNIST)
    assert v.message.startswith("⚠️") and "layer 4, Conv2d" in v.message and "add padding" in v.message
    assert v.picture is not None and not isinstance(v.picture, str)  # gr.skip(): the last one stays
    assert len(v.table) == 12 and v.table.iloc[3]["Output shape"] == "—"
    unknown = views.show([{"layer": "Conv3d"}, {"layer": "Flatten"}, {"layer": "Linear"}], MNIST)
    assert "layer 1" in unknown.message and "unknown layer" in unknown.message


def test_a_design_too_big_shows_its_table_and_says_its_size_and_the_limit():
    big = [{"layer": "Flatten"}, {"layer": "Linear", "out_features": 20_000}, {"layer": "Linear"}]
    v = views.show(big, MNIST)
    assert "too big" in v.message and "15,900,010 parameters" in v.message  # 784 x 20,000 + 20,000 x 10
    assert "limit" in v.message and v.table.iloc[1]["Parameters"] == "15,700,000"


def test_the_edit_handlers_show_a_message_and_change_nothing_on_a_bad_edit():
    d = lenet()
    out = named(de.on_apply(d, 0, "Conv2d", "kernel_size=", "MNIST", 64))
    assert "Could not read" in out["message"]
    assert all(isinstance(v, type(gr.skip())) for k, v in out.items() if k != "message")
    assert "could not be read" in named(de.on_text(d, 0, '[{"layer": "ReLU"', "MNIST", 64))["message"]
    assert "must be a list of layers" in named(de.on_text(d, 0, '{"layer": "ReLU"}', "MNIST", 64))["message"]
    # a good edit: the design follows, and the JSON view round-trips
    out = named(de.on_apply(d, 3, "Conv2d", "out_channels=16, kernel_size=3", "MNIST", 64))
    new = out["design"]
    assert new[3] == {"layer": "Conv2d", "out_channels": 16, "kernel_size": 3}
    again = named(de.on_text([], None, out["text"], "MNIST", 64))
    assert again["design"] == new and again["message"] == out["message"]
    assert out["stale"].visible is False and out["views_box"].elem_classes == []


def test_a_broken_edit_greys_out_the_picture_and_code_and_names_the_layer():
    """Issue 36: after kernel_size=20 the table showed 20 and the picture and code still showed 3."""
    out = named(de.on_apply(lenet(), 3, "Conv2d", "out_channels=16, kernel_size=20", "MNIST", 64))
    assert "kernel_size=20" in out["table"].iloc[3]["Arguments"] and "layer 4, Conv2d" in out["message"]
    assert isinstance(out["picture"], type(gr.skip())) and isinstance(out["code"], type(gr.skip()))
    assert out["views_box"].elem_classes == [mo.STALE_CLASS]
    assert out["stale"].visible and "Out of date: fix layer 4" in out["stale"].value
    fixed = named(de.on_apply(out["design"], 3, "Conv2d", "out_channels=16, kernel_size=5", "MNIST", 64))
    assert "kernel_size=5" in fixed["code"] and fixed["views_box"].elem_classes == [] and not fixed["stale"].visible


def test_every_preset_in_start_from_says_what_it_is():
    labels = dict((v, label) for label, v in de.preset_choices())
    assert set(labels) == set(de.presets())
    assert all(len(label) > len(v) + 10 for v, label in labels.items()), labels
    assert "PyTorch tutorial" in labels["seed000_net"]


def test_a_share_link_round_trips_and_bad_parts_are_named():
    d = lenet()
    q = share.share_query(d, "Fashion-MNIST", "design", 2.0, 64, 0.003, "adam", "1,500", "300")
    link = share.read_link(dict(parse_qsl(q[1:])))
    assert link.design == d and link.dataset_choice == "Fashion-MNIST" and link.recipe == "design"
    assert (link.epochs, link.batch, link.lr, link.optimizer, link.problems) == (2.0, 64, 0.003, "adam", ())
    assert (link.train_n, link.test_n) == (1500, 300)  # the quick run's sizes travel too (issue 36)
    opened = link_open.from_link(dict(parse_qsl(q[1:])))
    assert opened["model"] == de.MODEL and opened["box"].open and "tabs" not in opened  # the page opens the tab
    assert (opened["train_n"], opened["test_n"], opened["epochs"], opened["batch"]) == ("1500", "300", 2.0, 64)
    assert opened["design"] == d and opened["dataset"] == "Fashion-MNIST" and link_open.from_link({}) == {}
    bad = share.read_link(
        {
            "design": "%%%",
            "dataset": "imagenet",
            "recipe": "x",
            "epochs": "nan",
            "batch": "1.5",
            "lr": "0",
            "train": "-5",
        }
    )
    assert bad.design is None and bad.dataset_choice is None and bad.epochs is None and len(bad.problems) == 7
    not_a_list = share.read_link({"design": design_link.design_to_token({"layer": "ReLU"})}).problems
    assert len(not_a_list) == 1 and "list of layers" in not_a_list[0]
    assert "damaged" in share.read_link({"design": "A" * 30_000}).problems[0]


def test_start_gets_the_design_and_a_broken_one_is_refused():
    cfg = RunConfig("mnist", de.MODEL, "design", 1, 64, 0.003, "adam")
    assert de.configured(cfg, lenet()).layers == lenet()
    assert de.configured(RunConfig("mnist", "mnist_fast", "mnist_fast", 1, 64, 0.01, "sgd"), lenet()).layers is None
    d = lenet()
    d[3]["kernel_size"] = 30
    with pytest.raises(ConfigError, match="layer 4, Conv2d"):
        de.configured(cfg, d).checked()
    with pytest.raises(ConfigError, match="no layers"):
        de.configured(cfg, []).checked()
    assert "layer 4, Conv2d" in de.refusal(de.configured(cfg, d)) and de.refusal(de.configured(cfg, lenet())) is None
    big = [{"layer": "Flatten"}, {"layer": "Linear", "out_features": 20_000}, {"layer": "Linear"}]
    assert "too big" in de.refusal(de.configured(cfg, big))


def test_runs_compare_their_designs_layer_by_layer():
    a, b = lenet(), lenet()
    b[3]["kernel_size"] = 3
    del b[2]
    runs = [SimpleNamespace(key=k, recipe={"design": d}) for k, d in (("one", a), ("two", b))]
    text = views.design_differences(runs).replace("\\_", "_")  # (Markdown-escaped)
    assert "one → two" in text and "layer 3 AvgPool2d removed" in text and "kernel_size 5 → 3" in text
    assert views.design_differences(runs[:1] + [SimpleNamespace(key="p", recipe={})]) == ""


def test_the_estimate_names_seconds_per_epoch_and_refuses_a_broken_design(tmp_path):
    from app_helpers import make_ctx

    ctx = make_ctx(tmp_path / "runs", tmp_path)
    text = de.estimate(ctx, lenet(), "MNIST", 64, "design", "adam", 0.003, "2000")
    assert "s per epoch" in text and "× 32 steps" in text and "2,000 images" in text
    d = lenet()
    d[3]["kernel_size"] = 30
    assert "No estimate" in de.estimate(ctx, d, "MNIST", 64, "design", "adam", 0.003, "")
