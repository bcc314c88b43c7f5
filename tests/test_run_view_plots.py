"""How a run's curves are drawn on the Train tab (ui/run_view.py): the plots' axes, the loss floor's
explanation and a long curve thinned, on runs made up step by step (no training)."""

from __future__ import annotations

from cnn.runs import Run, RunConfig
from cnn.training import EpochEnd, Start, Step, get_recipe
from ui import run_view


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
