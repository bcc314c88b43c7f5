"""The training engine on real MNIST data: events, learning, stopping, schedules, augmentation."""

import threading

import pytest
import torch

from cnn.data.augment import random_translate
from cnn.data.normalize import Normalizer
from cnn.errors import ConfigError
from cnn.training import train
from cnn.training.optim import lr_factor
from cnn.training.recipes import RECIPES, get_recipe


def run(recipe, data, **kw):
    return list(train(recipe, data, device="cpu", **kw))


def test_fast_recipe_learns_mnist_far_above_chance(mnist_small):
    events = run(get_recipe("mnist_fast").replace(epochs=2, batch_size=64, lr=0.02), mnist_small)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) >= 10 and [s.step for s in steps] == sorted({s.step for s in steps})
    assert steps[-1].loss < steps[0].loss
    assert all(s.images_per_s > 0 and s.eta >= 0 and s.lr > 0 for s in steps)
    end = events[-1]
    assert end.status == "finished" and end.test_accuracy > 0.85  # chance is 0.10
    assert end.evaluation.confusion.sum() == len(mnist_small.test)
    meta = end.metadata
    assert meta["architecture"] == "mnist_fast" and meta["classes"] == [str(i) for i in range(10)]
    assert meta["input_shape"] == [1, 28, 28] and meta["test_accuracy"] == end.test_accuracy
    assert meta["recipe"]["name"] == "mnist_fast" and len(meta["normalization"]["mean"]) == 1


def test_fast_preset_as_shipped_learns_a_quick_run(mnist_small):
    """The app's quick run: the mnist_fast preset unchanged (lr 0.1, 0.8 epoch) on 5,000 images (500
    of them held out for the temperature) is only 57 steps. Its 6-step warm-up must not blow the net
    up (it once ended at 19%)."""
    events = run(get_recipe("mnist_fast"), mnist_small, log_every=1)
    losses = [e.loss for e in events if e.kind == "step"]
    assert len(losses) == 57 and max(losses) < 2 * losses[0]
    assert events[-1].test_accuracy > 0.9


def test_seed_recipe_trains_its_tutorial_model(mnist_small):
    """seed003's model with its preset (Adam, batch 64) for one epoch of 5,000 images."""
    end = run(get_recipe("seed003"), mnist_small)[-1]
    assert end.test_accuracy > 0.6


def test_stop_ends_between_steps_and_keeps_weights(mnist_small):
    stop = threading.Event()
    seen = []
    for ev in train(get_recipe("mnist_fast"), mnist_small, device="cpu", stop=stop, log_every=1):
        seen.append(ev)
        if ev.kind == "step" and ev.step == 3:
            stop.set()
    end = seen[-1]
    assert end.kind == "end" and end.status == "stopped" and "step 3" in end.message
    assert end.metadata["status"] == "stopped" and end.metadata["epochs_completed"] < 0.1
    first_conv = end.model.features[0].weight
    torch.manual_seed(0)
    fresh = type(end.model)()
    assert not torch.equal(first_conv, fresh.features[0].weight)  # three steps changed the weights


def test_fractional_epochs_and_schedule(mnist_small):
    recipe = get_recipe("mnist_fast").replace(epochs=0.5, batch_size=500)
    events = run(recipe, mnist_small, calibration_holdout=0)  # all 5,000 images train
    start = events[0]
    assert start.steps_per_epoch == 10 and start.total_steps == 5
    assert [e.step for e in events if e.kind == "step"][-1] == 5
    r = get_recipe("mnist_fast").replace(warmup=0.2)
    f = [lr_factor(r, s, 100) for s in range(100)]
    assert f[0] == pytest.approx(0.05) and f[19] == pytest.approx(1.0) and f[20] == pytest.approx(1.0)
    assert f[99] == pytest.approx(1 / 80) and all(a >= b for a, b in zip(f[19:], f[20:]))


def test_every_preset_names_a_model_and_validates():
    from cnn.models import DESIGN, MODELS

    for r in RECIPES.values():
        if r.model == DESIGN:  # the default recipe for designs: the layers come with the run
            with pytest.raises(ConfigError, match="needs its layers"):
                r.validate()
            r = r.replace(design=[{"layer": "Flatten"}, {"layer": "Linear"}])
        assert r.model in MODELS or r.model == DESIGN
        r.validate()


def test_random_translate_is_a_crop_of_the_reflected_image():
    torch.manual_seed(1)
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    y = random_translate(x, 2)
    padded = torch.nn.functional.pad(x.float(), (2,) * 4, mode="reflect").to(torch.uint8)
    for i in range(16):
        crops = [padded[i, :, a : a + 8, b : b + 8] for a in range(5) for b in range(5)]
        assert any(torch.equal(y[i], c) for c in crops)
    assert torch.equal(random_translate(x, 0), x)


def test_normalizer_matches_torchvision():
    from torchvision.transforms import Normalize

    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    expected = Normalize(mean, std)(x.float() / 255)
    assert torch.allclose(Normalizer(mean, std, "cpu", 3)(x), expected, atol=1e-5)


def test_fewer_epochs_keep_the_fine_tuning_phase_share():
    r = get_recipe("teach_photos").replace(epochs=40, head_only_epochs=20)
    assert r.replace(epochs=10).head_only_epochs == 5  # half the run, as before: not all of it
    assert r.replace(epochs=10, head_only_epochs=2).head_only_epochs == 2  # unless asked for
    assert r.replace(lr=0.1).head_only_epochs == 20
    assert get_recipe("teach_photos").replace(epochs=10).head_only_epochs == 0


def test_another_model_on_an_nll_recipe_gets_cross_entropy():
    r = get_recipe("seed000")
    assert r.loss == "nll" and r.replace(epochs=1).loss == "nll"
    assert r.replace(model="mnist_fast").loss == "cross_entropy"  # logits, not log-probabilities
    assert r.replace(model="mnist_fast", loss="nll").loss == "nll"  # unless asked for


def test_padded_last_batch_scores_like_plain_batches(mnist):
    """The GPU evaluation pads the last, shorter batch to the training batch's shape; the padding
    must not change a single prediction (checked with the shipped MNIST model on real images)."""
    from pathlib import Path

    from cnn.checkpoint import load_checkpoint
    from cnn.evaluation import evaluate

    model, meta = load_checkpoint(Path(__file__).resolve().parents[1] / "checkpoints" / "mnist.safetensors")
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], torch.device("cpu"), 1)
    test = mnist.test.subset(1000)
    plain = evaluate(model, test, norm, 10, torch.device("cpu"), batch_size=1000)
    padded = evaluate(model, test, norm, 10, torch.device("cpu"), batch_size=384, pad_last=True)  # 232 + 152 pad
    assert len(padded.predictions) == 1000
    assert torch.equal(padded.predictions, plain.predictions)
    assert torch.allclose(padded.probabilities, plain.probabilities, atol=1e-5)
    assert padded.loss == pytest.approx(plain.loss, rel=1e-5)
    assert torch.equal(padded.confusion, plain.confusion) and plain.accuracy > 0.98
