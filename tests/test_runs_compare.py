"""The Runs tab's comparison (ui/runs_compare.py): several runs' curves overlaid, a colour a run, and
the settings that differ, on runs written as the runs folder keeps them (test_runs_tab.fake_run)."""

from __future__ import annotations

import pytest
from app_helpers import checkpoint
from test_runs_tab import fake_run

from cnn.data.augment_spec import recipe_changes
from cnn.runs import RunManager
from ui import runs_compare
from ui.common import AppContext


@pytest.fixture()
def ctx(tmp_path):
    (tmp_path / "runs").mkdir()
    return AppContext(RunManager(tmp_path / "runs", device="cpu"), str(checkpoint("mnist")), str(checkpoint("cifar10")))


@pytest.fixture()
def runs_dir(ctx):
    return ctx.runs.runs_dir


def test_overlaid_curves_and_the_settings_that_differ(ctx, runs_dir):
    fake_run(runs_dir, "a", lr=0.1)
    fake_run(runs_dir, "b", lr=0.02)
    fake_run(runs_dir, "c", log=False)
    loss, acc, text = runs_compare.compare(ctx, ["a", "b", "c"])
    assert set(loss["run"]) == {"a", "b"} and len(loss) == 64
    a = loss[loss["run"] == "a"]
    assert list(a["epoch"])[:2] == [0.0625, 0.125] and list(a["loss"])[:2] == [2.0, 1.0]
    assert set(acc["run"]) == {"a train", "a test", "b train", "b test"}
    assert acc[(acc["run"] == "b test") & (acc["epoch"] == 2)]["accuracy"].item() == pytest.approx(0.9)
    assert "| learning rate | 0.1 | 0.02 | 0.1 |" in text and "| epochs |" not in text
    assert "train images" not in text  # c has no log: unknown is no difference
    assert "No curves for c" in text
    assert runs_compare.compare(ctx, []) == (None, None, "")
    loss_plot, acc_plot, _ = runs_compare.compare_plots(ctx, ["a", "b"])  # each line its own colour, every time
    assert loss_plot.color_map == {"a": runs_compare.PALETTE[0], "b": runs_compare.PALETTE[1]}
    assert list(acc_plot.color_map) == ["a train", "a test", "b train", "b test"]
    _, _, one = runs_compare.compare(ctx, ["b"])
    assert one == "**b**: changed from the preset: learning rate 0.02, 2 epochs"


def test_compare_shows_how_two_runs_augmentations_differ(ctx, runs_dir):
    fake_run(runs_dir, "plain")  # mnist_fast's own: crop=1
    fake_run(runs_dir, "bent", **recipe_changes("crop=1,elastic=0.3,blur=1"))
    _, _, text = runs_compare.compare(ctx, ["plain", "bent"])
    assert "| augmentation | crop=1 | crop=1,elastic=0.3,blur=1 |" in text
    assert "| elastic |" not in text and "| blur |" not in text  # one spec, not field by field
    assert "augmentation" not in runs_compare.compare(ctx, ["plain", "plain"])[2]
