"""cnn.evaluation's shape (issue 25) and the arithmetic it runs in (issue 26): what is evaluated
and how are explicit values (EvalPlan, Augmentation); evaluate() always returns a result or raises
EvaluationStopped; the temperature is fitted on the logits the app serves (fp32, the mirror, no
shifts) whatever the run trained in; a stopped run's test pass is the finished run's; a tiny
project's calibration says its error is not a held-out figure."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cnn.checkpoint import load_checkpoint
from cnn.data import Split
from cnn.data.normalize import Normalizer
from cnn.evaluation import (
    Augmentation,
    EvalPlan,
    EvaluationStopped,
    _served_in_scoring_pass,
    evaluate,
    tta_logits,
)
from cnn.training import get_recipe
from cnn.training.calibrate import Holdout, calibration_line, fit_on_holdout

ROOT = Path(__file__).resolve().parents[1]
CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.fixture(scope="module")
def cifar_model():
    model, meta = load_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors")
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], CPU, 3)
    return model, meta, norm


def test_evaluate_returns_a_result_or_raises_stopped(cifar_small, cifar_model):
    model, _, norm = cifar_model
    test = cifar_small.test.subset(120)
    ev = evaluate(model, test, norm, 10, EvalPlan(batch_size=50))
    assert ev.logits.shape == (120, 10) and ev.served_logits is None  # not asked for
    calls = iter([False, True])
    with pytest.raises(EvaluationStopped):
        evaluate(model, test, norm, 10, EvalPlan(batch_size=50), should_stop=lambda: next(calls))


def test_served_logits_are_what_a_prediction_computes(cifar_small, cifar_model):
    """Scored with flip and shifts, served with the mirror alone: the served logits are the
    Predictor's; served with another mirror than the scoring's, they get a pass of their own."""
    model, meta, norm = cifar_model
    test = cifar_small.test.subset(64)
    x = norm(test.images)
    with torch.inference_mode():
        mirror, plain = tta_logits(model, x, Augmentation(flip=True)), tta_logits(model, x, Augmentation())
    both = evaluate(model, test, norm, 10, EvalPlan(Augmentation(True, True), serving=Augmentation.served(True)))
    torch.testing.assert_close(both.served_logits, mirror, rtol=1e-4, atol=1e-4)
    other = evaluate(model, test, norm, 10, EvalPlan(Augmentation(flip=True), serving=Augmentation()))
    torch.testing.assert_close(other.served_logits, plain, rtol=1e-4, atol=1e-4)
    assert Augmentation.served(True) == Augmentation(flip=True, translate=False)  # never the shifts
    assert Augmentation.of_checkpoint(meta) == Augmentation(True, True)


def test_the_served_plan_is_fp32_and_a_mixed_scoring_pass_on_cuda_does_not_stand_in_for_it():
    served = EvalPlan.served(True)
    assert served.precision == "fp32" and served.scoring == served.serving == Augmentation(flip=True)
    bf16 = EvalPlan(Augmentation(flip=True), serving=Augmentation(flip=True), precision="bf16")
    assert not _served_in_scoring_pass(bf16, CUDA)  # a pass of its own, in fp32
    assert _served_in_scoring_pass(bf16, CPU)  # the CPU evaluates in fp32 anyway


def test_the_test_pass_follows_the_recipe_on_cuda():
    """On CUDA a run's test pass is in its own arithmetic: fp32 for an fp32 recipe (it used to be
    bf16 whatever the recipe said), the cuda_dtype of a mixed-precision one, at its batch size."""
    fp32 = get_recipe("mnist_fast").replace(mixed_precision=False)
    mixed = get_recipe("cifar10_fast")
    aug = Augmentation(flip=True)
    assert EvalPlan.test_pass(aug, fp32.as_dict(), CUDA).precision == "fp32"
    plan = EvalPlan.test_pass(aug, mixed.as_dict(), CUDA)
    assert mixed.mixed_precision and plan.precision == mixed.cuda_dtype and plan.batch_size == mixed.batch_size
    assert plan.pad_last and plan.scoring == aug
    assert EvalPlan.test_pass(aug, mixed.as_dict(), CPU) == EvalPlan(aug)  # the CPU: fp32, its own batches


def test_the_run_fits_its_temperature_on_the_served_logits(mnist_small, monkeypatch):
    """A recorded call: the end-of-run fit asks for EvalPlan.served (fp32, the mirror where the
    recipe flips, no shifts), not the training arithmetic or batch shape."""
    import cnn.training.calibrate as calibrate
    from cnn.training import train

    plans, real = [], calibrate.evaluate
    monkeypatch.setattr(calibrate, "evaluate", lambda *a, **k: plans.append(a[4]) or real(*a, **k))
    recipe = get_recipe("mnist_fast").replace(epochs=0.2)
    data = type(mnist_small)(mnist_small.name, mnist_small.classes, mnist_small.train.subset(2000), mnist_small.test)
    end = list(train(recipe, data, device="cpu", calibration_holdout=300))[-1]
    assert plans == [EvalPlan.served(recipe.flip)] and "temperature" in end.metadata


def test_a_stopped_runs_test_pass_is_the_finished_runs(monkeypatch):
    """cnn.runs.executor.evaluate_kept scores the kept weights with the checkpoint's test-time augmentation
    and its recipe's plan (on CUDA: its arithmetic and batch), not a fixed bf16 x 1000."""
    import cnn.runs.executor as executor

    model, meta = load_checkpoint(ROOT / "checkpoints" / "cifar10.safetensors")
    plans = []
    monkeypatch.setattr(executor, "evaluate", lambda *a, **k: plans.append(a[4]) or SimpleNamespace(accuracy=0.5))
    test = Split(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))
    run = SimpleNamespace(
        note="",
        _touch=lambda: None,
        data=SimpleNamespace(input_shape=(3, 32, 32), test=test, classes=list("abcdefghij")),
    )
    end = SimpleNamespace(metadata=dict(meta), model=model)
    executor.evaluate_kept(run, end)
    assert plans == [EvalPlan.test_pass(Augmentation.of_checkpoint(meta), meta["recipe"], CPU)]
    assert plans[0].scoring == Augmentation(True, True) and end.test_accuracy == 0.5


def test_a_tiny_projects_calibration_error_is_not_called_held_out(mnist_small):
    """Fitted on the test split (too few training images to spare), the temperature's ECE is
    measured on the images it was fitted on: the metadata and every sentence say so."""
    from ui.run_view import calibration_text

    model, meta = load_checkpoint(ROOT / "checkpoints" / "mnist.safetensors")
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], CPU, 1)
    few = mnist_small.test.subset(40)
    tiny = fit_on_holdout(
        model, Holdout(mnist_small.train, few, "test", "the 40 held-out test images"), norm, 10, tta_flip=False
    )
    cal = tiny["calibration"]
    assert cal["fit_on"] == "test" and cal["ece_held_out"] is False
    meta = {"temperature": tiny["temperature"], "calibration": cal}
    for text in (calibration_line(meta), calibration_text(meta)):
        assert "not a held-out figure" in text and "same held-out examples" in text
    big = fit_on_holdout(
        model,
        Holdout(mnist_small.train, mnist_small.train.subset(300), "train_holdout", "300 training images"),
        norm,
        10,
        tta_flip=False,
    )
    assert big["calibration"]["ece_held_out"] is True
    assert "held-out figure" not in calibration_line(
        {"temperature": big["temperature"], "calibration": big["calibration"]}
    )
