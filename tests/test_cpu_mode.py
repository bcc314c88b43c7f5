"""Choosing the CPU's arithmetic (cnn.training.cpu_mode): by timing, kept per model, used by the engine."""

import pytest
import torch
import torch.nn.functional as F

from cnn.models import build_model
from cnn.training import cpu_mode, train
from cnn.training.cpu_mode import DEFAULT, CpuMode, fastest_cpu_mode
from cnn.training.recipes import get_recipe

FP32_CF = CpuMode(channels_last=False, bf16=False)
BF16 = CpuMode(channels_last=True, bf16=True)


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch):
    monkeypatch.setattr(cpu_mode, "_chosen", {})


def choose_with_times(monkeypatch, times):
    monkeypatch.setattr(cpu_mode, "candidates", lambda: list(times))
    monkeypatch.setattr(cpu_mode, "step_seconds", lambda models, *a, **k: {m: times[m] for m in models})
    x = torch.zeros(4, 1, 28, 28)
    return fastest_cpu_mode(
        ("mnist_fast",), build_model("mnist_fast", 1, 10, 28), x, torch.zeros(4, dtype=torch.long), F.cross_entropy
    )[0]


def test_the_fastest_mode_is_chosen_when_clearly_faster(monkeypatch):
    assert choose_with_times(monkeypatch, {DEFAULT: 0.020, FP32_CF: 0.030, BF16: 0.010}) == BF16


def test_a_mode_within_the_timing_noise_of_the_default_loses_to_it(monkeypatch):
    assert choose_with_times(monkeypatch, {DEFAULT: 0.020, FP32_CF: 0.0195, BF16: 0.0199}) == DEFAULT


def test_real_timing_picks_a_candidate_once_per_model_and_batch_shape(mnist_small):
    model = build_model("mnist_fast", 1, 10, 28)
    x = mnist_small.train.images[:64].float() / 255
    y = mnist_small.train.labels[:64]
    mode, seconds = fastest_cpu_mode(("mnist_fast",), model, x, y, F.cross_entropy)
    assert mode in cpu_mode.candidates() and seconds > 0
    assert fastest_cpu_mode(("mnist_fast",), model, x, y, F.cross_entropy) == (mode, 0.0)  # kept
    assert fastest_cpu_mode(("mnist_fast",), model, x[:32], y[:32], F.cross_entropy)[1] > 0  # new shape


def test_the_engine_trains_in_the_chosen_mode_and_records_it(mnist_small, monkeypatch):
    import cnn.training.precision

    recipe = get_recipe("mnist_fast").replace(epochs=2, lr=0.02)  # as test_engine: 5,000 images
    bf16_asked = []
    real_autocast = cnn.training.precision.autocast
    monkeypatch.setattr(
        cnn.training.precision,
        "autocast",
        lambda device, mixed, **kw: bf16_asked.append(mixed) or real_autocast(device, mixed, **kw),
    )
    for winner, shown in [(None, "fp32 channels-last"), (FP32_CF, "fp32"), (BF16, "bf16 channels-last")]:
        if winner == BF16 and not cpu_mode.cpu_bf16_supported():
            continue
        monkeypatch.setattr(cpu_mode, "_chosen", {})
        monkeypatch.setattr(
            cpu_mode, "step_seconds", lambda models, *a, **k: {m: 0.01 if m == winner else 0.02 for m in models}
        )  # no winner: a tie, the default stays
        bf16_asked.clear()
        events = list(train(recipe, mnist_small, device="cpu"))
        start, end = events[0], events[-1]
        assert start.precision == end.metadata["precision"] == shown
        assert bf16_asked and set(bf16_asked) == {winner == BF16}
        assert end.test_accuracy > 0.85, shown
    plain = list(train(get_recipe("seed000").replace(epochs=0.2), mnist_small, device="cpu"))
    assert plain[0].precision == "fp32"  # a tutorial recipe runs as written


def test_a_stop_request_cuts_the_timing_short_and_keeps_nothing(mnist_small):
    model = build_model("mnist_fast", 1, 10, 28)
    x = mnist_small.train.images[:64].float() / 255
    y = mnist_small.train.labels[:64]
    calls = []
    mode, _ = fastest_cpu_mode(
        ("mnist_fast",), model, x, y, F.cross_entropy, should_stop=lambda: calls.append(1) or len(calls) > 2
    )
    assert mode == DEFAULT and len(calls) == 3 and cpu_mode._chosen == {}
