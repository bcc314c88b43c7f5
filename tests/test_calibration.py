"""cnn.calibration on synthetic logits whose answer is known, and the temperature in the Predictor."""

import pytest
import torch

from cnn.calibration import (
    ECE_FIT_MIN,
    ECE_FIT_RANGE,
    Reliability,
    calibrated_probabilities,
    calibration_temperature,
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability,
    split_halves,
    temperature_report,
)
from cnn.models import get_spec
from cnn.serving.predictor import Predictor


def sampled(n=40_000, classes=10, scale=3.0, seed=0):
    """Logits z and labels drawn from softmax(z): softmax(z) is calibrated by construction."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, classes, generator=g, dtype=torch.float64) * scale
    y = torch.multinomial(z.softmax(1), 1, generator=g).squeeze(1)
    return z, y


@pytest.mark.parametrize("truth", [2.0, 0.5])
def test_fit_recovers_the_true_temperature(truth):
    z, y = sampled()
    t = fit_temperature(z * truth, y)  # over-confident (2) or under-confident (0.5) by a known factor
    assert t == pytest.approx(truth, rel=0.03)
    assert nll(z * truth, y, t) < nll(z * truth, y, 1.0)
    assert nll(z * truth, y, t) <= min(nll(z * truth, y, t * 1.02), nll(z * truth, y, t / 1.02))


def test_calibrated_predictions_have_ece_near_zero_and_scaled_ones_do_not():
    z, y = sampled()
    assert expected_calibration_error(z.softmax(1), y) < 0.01
    assert expected_calibration_error((2 * z).softmax(1), y) > 0.05
    assert expected_calibration_error(calibrated_probabilities(2 * z, fit_temperature(2 * z, y)), y) < 0.01


def squeezed(n: int, seed: int):
    """Labels drawn from softmax(z), shown through logits whose non-top classes are squeezed towards
    their mean (as label smoothing does): the top class's confidence and the NLL then want different
    temperatures."""
    z, y = sampled(n, scale=2.0, seed=seed)
    others = torch.ones_like(z, dtype=torch.bool).scatter(1, z.argmax(1, keepdim=True), False)
    mean = (z * others).sum(1, keepdim=True) / (z.shape[1] - 1)
    return torch.where(others, mean + 0.3 * (z - mean), z), y


def test_calibration_temperature_lowers_the_ece_where_the_nll_disagrees():
    z, y = squeezed(5000, seed=0)
    t, t_nll = calibration_temperature(z, y)
    assert t_nll == pytest.approx(fit_temperature(z, y))
    assert ECE_FIT_RANGE[0] * t_nll <= t <= ECE_FIT_RANGE[1] * t_nll and t != pytest.approx(t_nll, rel=0.02)
    fresh_z, fresh_y = squeezed(20_000, seed=1)  # the same source, never seen by the fit
    ece = lambda temp: expected_calibration_error(calibrated_probabilities(fresh_z, temp), fresh_y)
    assert ece(t) < 0.6 * ece(t_nll)


def test_calibration_temperature_keeps_the_nll_answer_where_both_agree_or_data_is_few():
    z, y = sampled(20_000)
    t, t_nll = calibration_temperature(2 * z, y)  # over-confident by 2: NLL and ECE both say T = 2
    assert t == pytest.approx(2.0, rel=0.05) and t_nll == pytest.approx(2.0, rel=0.03)
    few_z, few_y = squeezed(ECE_FIT_MIN - 1, seed=2)  # too few to measure an ECE: the NLL's T alone
    t, t_nll = calibration_temperature(few_z, few_y)
    assert t == t_nll


def test_ece_matches_a_hand_computation():
    # 10 predictions at confidence 0.95 (bin 14), 8 right; 10 at 0.55 (bin 8), 5 right;
    # ECE = 0.5 * |0.8 - 0.95| + 0.5 * |0.5 - 0.55| = 0.075 + 0.025 = 0.10
    probs = torch.tensor([[0.95, 0.05]] * 10 + [[0.55, 0.45]] * 10)
    labels = torch.tensor([0] * 8 + [1] * 2 + [0] * 5 + [1] * 5)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.10, abs=1e-6)
    r = reliability(probs, labels)
    assert len(r.count) == 15 and r.count[14] == 10 and r.count[8] == 10 and sum(r.count) == 20
    assert r.accuracy[14] == pytest.approx(0.8) and r.confidence[14] == pytest.approx(0.95)
    assert r.accuracy[8] == pytest.approx(0.5) and r.confidence[8] == pytest.approx(0.55)
    assert r.edges[0] == 0 and r.edges[-1] == 1 and len(r.edges) == 16


def test_bin_edges_are_right_closed():
    probs = torch.tensor([[1.0, 0.0], [1 / 15 * 8, 1 - 1 / 15 * 8]], dtype=torch.float64)
    r = reliability(probs, torch.tensor([0, 0]))
    assert r.count[14] == 1 and r.count[7] == 1  # 1.0 -> the last bin; exactly 8/15 -> (7/15, 8/15]


def test_temperature_never_changes_the_prediction():
    z, _ = sampled(n=1000)
    for t in (0.3, 1.0, 4.0):
        assert torch.equal(calibrated_probabilities(z, t).argmax(1), z.argmax(1))


def test_edge_cases():
    assert fit_temperature(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long)) == 1.0
    separable = torch.eye(4).repeat(10, 1) * 5
    t = fit_temperature(separable, torch.arange(4).repeat(10))  # right everywhere: T heads for 0 (kept >= 0.01)
    assert 0.01 <= t < 0.3 and nll(separable, torch.arange(4).repeat(10), t) < 1e-6
    with pytest.raises(ValueError):
        fit_temperature(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    a, b = split_halves(11)
    assert len(a) == 5 and len(b) == 6 and sorted(torch.cat((a, b)).tolist()) == list(range(11))
    assert torch.equal(split_halves(11)[0], a)  # fixed


def _predictor(temperature=None):
    torch.manual_seed(0)
    model = get_spec("mnist_fast").build(1, 10, 28)
    meta = {
        "architecture": "mnist_fast",
        "classes": [str(i) for i in range(10)],
        "input_shape": [1, 28, 28],
        "normalization": {"mean": [0.13], "std": [0.31]},
    }
    if temperature is not None:
        meta["temperature"] = temperature
    return Predictor(model, meta)


def test_predictor_applies_the_temperature():
    x = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    plain, hot = _predictor(), _predictor(0.25)
    assert plain.temperature == 1.0 and hot.temperature == 0.25
    logits = plain.logits(x)
    assert torch.equal(hot.logits(x), logits)  # logits are before the temperature
    assert torch.allclose(plain.probabilities(x), logits.softmax(0), atol=1e-7)  # no temperature: as before
    assert torch.allclose(hot.probabilities(x), (logits / 0.25).softmax(0), atol=1e-7)
    p = hot.predict(x)
    assert max(p, key=p.get) == plain.classes[int(logits.argmax())] and sum(p.values()) == pytest.approx(1, abs=1e-5)


# ---------------------------------------------------------------- the temperature at the end of every run


def test_the_holdout_is_a_fixed_slice_of_the_training_split_apart_from_what_trains(mnist_small):
    from cnn.errors import ConfigError
    from cnn.training.calibrate import split_holdout

    train, test = mnist_small.train, mnist_small.test
    a, b = split_holdout(train, test, None), split_holdout(train, test, None)
    assert len(a.fit) == 500 and len(a.train) == 4500 and a.fit_on == "train_holdout"  # min(5,000, 10%)
    assert torch.equal(a.fit.images, b.fit.images)  # the same slice every time (and on every torchrun rank)
    flat = lambda s: {bytes(img.numpy()) for img in s.images}
    assert not flat(a.fit) & flat(a.train)  # no held-out image trains
    assert len(flat(a.fit) | flat(a.train)) == len(flat(train))
    off = split_holdout(train, test, 0)
    assert off.fit is None and off.train is train  # 0: every image trains, no fit (as before)
    tiny = split_holdout(train.subset(40), test, None)  # a Teach project's size: its held-out split
    assert tiny.fit is test and len(tiny.train) == 40 and tiny.fit_on == "test"
    assert len(split_holdout(train, test, 123).fit) == 123
    with pytest.raises(ConfigError, match="hold-out"):
        split_holdout(train, test, 5000)


def test_a_short_mnist_run_fits_its_temperature_and_the_predictor_applies_it(mnist_small, tmp_path):
    from cnn.checkpoint import save_checkpoint
    from cnn.data.normalize import Normalizer
    from cnn.evaluation import evaluate
    from cnn.training import get_recipe, train
    from cnn.training.calibrate import split_holdout

    events = list(train(get_recipe("mnist_fast"), mnist_small, device="cpu"))
    start, end = events[0], events[-1]
    assert start.n_train == 4500 and end.status == "finished" and end.test_accuracy > 0.9
    meta, t = end.metadata, end.metadata["temperature"]
    cal = meta["calibration"]
    assert cal["fit_on"] == "train_holdout" and cal["ece_images"] == 500 and abs(t - 1) > 0.02
    assert "Temperature" in end.message and f"{t:.3f}" in end.message
    # the slice's NLL is lower with the fitted temperature, and T is its minimum (refitted here)
    hold = split_holdout(mnist_small.train, mnist_small.test, None).fit
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], "cpu", 1)
    z = evaluate(end.model, hold, norm, 10).logits
    assert nll(z, hold.labels, t) < nll(z, hold.labels, 1.0)
    assert cal["nll_after"] == pytest.approx(nll(z, hold.labels, t), rel=1e-4) and cal["nll_after"] < cal["nll_before"]
    assert fit_temperature(z, hold.labels) == pytest.approx(t, rel=1e-3)
    assert sum(cal["reliability"]["after"]["count"]) == 500
    # the checkpoint carries it, and the predictor applies it
    path = save_checkpoint(end.model, meta, tmp_path / "m.safetensors")
    pred = Predictor.from_checkpoint(path, backend="pytorch")
    assert pred.temperature == pytest.approx(t)
    x = hold.images[0]
    assert torch.allclose(pred.probabilities(x), (pred.logits(x) / t).softmax(0), atol=1e-6)


def test_temperature_report_bins_before_and_after():
    z, y = sampled(n=20_000)
    rep = temperature_report(2 * z, y, 2.0)  # T = 2 undoes the doubling exactly
    assert rep["ece_after"] < 0.01 < 0.05 < rep["ece_before"] and rep["nll_after"] < rep["nll_before"]
    before = Reliability.from_dict(rep["reliability"]["before"])
    after = Reliability.from_dict(rep["reliability"]["after"])
    assert sum(before.count) == sum(after.count) == 20_000 and len(before.edges) == 16
    assert before.ece == pytest.approx(rep["ece_before"], abs=1e-5)
    # over-confident before: in the top bins, accuracy falls short of confidence; after, it matches
    assert before.accuracy[-1] < before.confidence[-1] - 0.03
    assert after.accuracy[-1] == pytest.approx(after.confidence[-1], abs=0.02)
