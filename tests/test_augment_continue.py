"""The Runs tab's "Continue training" fills the Augmentation panel with the run's own augmentation (as
its checkpoint recorded it), not its recipe preset's; another preset chosen after shows that preset's;
a run that is not the requester's shows nothing of it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_runs_tab import fake_run

from cnn.run_index import import_checkpoint
from ui import outputs, train_continue
from ui.augment_panel import continued_values, spec_of


def test_continuing_a_run_fills_the_knobs_with_its_own_augmentation(ctx):
    # mnist_fast's preset is crop=1; this run trained with rotate and erase besides
    fake_run(ctx.runs.runs_dir, "bent", rotate=20.0, erase=0.5)
    filled = outputs.named(train_continue.FILLED, train_continue.continue_settings(ctx, "bent", 1))
    assert filled["recipe"] == "mnist_fast" and filled["continue_from"] == "bent"  # what fills the panel
    assert spec_of(*continued_values(ctx, "mnist_fast", "bent")) == "crop=1,rotate=20,erase=0.5"
    assert spec_of(*continued_values(ctx, "mnist_best", "bent")) == "crop=2"  # another preset: its own
    assert spec_of(*continued_values(ctx, "mnist_fast", "")) == "crop=1"  # nothing continued
    assert spec_of(*continued_values(ctx, "mnist_fast", "gone")) == "crop=1"  # Start says it is gone


def test_a_run_recorded_with_augmentation_off_stays_off(ctx):
    fake_run(ctx.runs.runs_dir, "plain", crop_pad=0)
    assert spec_of(*continued_values(ctx, "mnist_fast", "plain")) == "none"


@pytest.fixture()
def logins(tmp_path, data_dir):
    from app_helpers import checkpoint

    from cnn.runs import RunManager
    from ui.common import AppContext

    ctx = AppContext(RunManager(tmp_path / "runs", data_dir, device="cpu"), "", "", logins=True)
    folder = tmp_path / "runs" / "users" / "ada"
    folder.mkdir(parents=True)
    fake_run(folder, "ada-bent", rotate=20.0)
    import_checkpoint(checkpoint("mnist"), folder, "ada-digits.safetensors")
    return ctx


def test_another_persons_run_shows_nothing_of_it(logins):
    ada, bob = SimpleNamespace(username="ada"), SimpleNamespace(username="bob")
    assert spec_of(*continued_values(logins, "mnist_fast", "ada-bent", ada)) == "crop=1,rotate=20"
    assert spec_of(*continued_values(logins, "mnist_fast", "ada-bent", bob)) == "crop=1"  # the preset's


def test_the_train_tab_fills_from_the_run_on_both_events(tmp_path):
    """Continue training sets the recipe and the "Continue from run" box at once: each event that fills
    the knobs reads both (continued_values), so they agree whichever ends last."""
    from app_helpers import checkpoint

    from cnn.runs import RunManager
    from ui.app import build_app

    demo = build_app(checkpoint("mnist"), checkpoint("cifar10"), RunManager(tmp_path / "runs", device="cpu"))
    by_id = {getattr(b, "elem_id", None): b._id for b in demo.blocks.values()}
    box, recipe, spec = by_id["continue-from"], by_id["recipe"], by_id["train-augment-spec"]
    fills = [f for f in demo.fns.values() if spec in [o._id for o in f.outputs] and f.targets[0][1] == "change"]
    assert {f.targets[0][0] for f in fills} == {box, recipe}
    assert all([i._id for i in f.inputs] == [recipe, box] for f in fills)
