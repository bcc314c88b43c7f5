"""The pieces of the fast recipes (airbench94's method): the capturable SGD, the triangle schedule,
lookahead, the whitening stem, parameter groups and test-time translation."""

import math

import pytest
import torch

from cnn.evaluation import Augmentation, EvalPlan, tta_logits
from cnn.models import build_model
from cnn.training.graphed import CapturableSGD
from cnn.training.lookahead import Lookahead
from cnn.training.optim import lr_factor, param_groups
from cnn.training.recipes import get_recipe


def _toy_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3)
    )


@pytest.mark.parametrize("nesterov", [True, False])
def test_capturable_sgd_matches_torch_sgd(nesterov):
    """The graph-friendly SGD takes exactly torch.optim.SGD's steps, group scales included."""
    recipe = get_recipe("cifar10_fast").replace(nesterov=nesterov, whiten=False)
    a, b = _toy_model(), _toy_model()
    lrs = [0.1, 0.3, 0.2, 0.05]
    ref = torch.optim.SGD(param_groups(recipe, a), lr=1.0, momentum=recipe.momentum, nesterov=nesterov)
    ours = CapturableSGD(param_groups(recipe, b), torch.tensor(lrs), recipe.momentum, nesterov)
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 3, (16,))
    for lr in lrs:
        for group in ref.param_groups:
            group["lr"] = lr * group["lr_scale"]
        for model, opt in ((a, ref), (b, ours)):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)
    assert not torch.equal(a[0].weight, _toy_model()[0].weight)  # it did train


def test_param_groups_scale_batchnorm_and_keep_its_decay():
    recipe = get_recipe("cifar10_fast")
    groups = {g["name"]: g for g in param_groups(recipe, build_model("cifar10_fast"))}
    assert groups["norm"]["lr_scale"] == 64
    assert groups["norm"]["lr_scale"] * groups["norm"]["weight_decay"] == pytest.approx(recipe.weight_decay)
    assert len(groups["stem_bias"]["params"]) == 1
    # bias-only batch norm: its frozen scales are in no group
    n_norm = sum(p.numel() for p in groups["norm"]["params"])
    assert n_norm == 2 * (64 + 256 + 256)  # two BN layers per block, bias only


def test_triangle_schedule_has_airbench_shape():
    recipe = get_recipe("cifar10_fast")
    total = math.ceil(9.9 * 48)
    f = [lr_factor(recipe, s, total) for s in range(total)]
    assert total == 476 and f[0] == pytest.approx(0.2)
    assert max(f) == pytest.approx(1.0) and f.index(max(f)) == int(0.23 * total)
    assert f[-1] == pytest.approx(0.07 + 0.93 / (total - int(0.23 * total)), rel=1e-6)


def test_lookahead_ends_on_the_average():
    model = _toy_model()
    la = Lookahead(model)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    la.after_step(5, 10)  # a pull: the weights move part of the way back to the average
    w = model[0].weight.detach()
    d = Lookahead.decay(5, 10)
    torch.testing.assert_close(w, start * d + (start + 1) * (1 - d))
    with torch.no_grad():
        model[0].weight.add_(5.0)
    la.after_step(10, 10)  # the last step: the run ends on the average, not the live weights
    torch.testing.assert_close(model[0].weight.detach(), w)


def test_whitening_stem_decorrelates_cifar_patches(cifar_small):
    """After init_whitening the stem's first half maps 2x2 patches to nearly unit covariance."""
    from cnn.data.normalize import Normalizer

    recipe = get_recipe("cifar10_fast")
    norm = Normalizer(*recipe.normalize, "cpu", 3)
    x = norm(cifar_small.train.images[:2000])
    model = build_model("cifar10_fast")
    model.init_whitening(x)
    assert not model.stem.weight.requires_grad and model.stem.bias.requires_grad
    with torch.no_grad():
        out = torch.nn.functional.conv2d(x, model.stem.weight[:12])  # no bias
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = flat.T @ flat / len(flat)
    # variance lambda / (lambda + eps) per direction: 1 for all but the faintest few directions
    torch.testing.assert_close(cov.diagonal()[:8], torch.ones(8), atol=0.05, rtol=0)
    assert (cov.diagonal() <= 1.0 + 1e-3).all() and (cov.diagonal() > 0.2).all()
    off = cov - torch.diag(cov.diagonal())
    assert off.abs().max() < 0.01
    torch.testing.assert_close(model.stem.weight[12:], -model.stem.weight[:12])


def test_whitening_refuses_a_stem_of_the_wrong_width():
    from cnn.errors import ConfigError

    with pytest.raises(ConfigError, match="Whitening needs a stem of 24 filters"):
        build_model("cifar10_small").init_whitening(torch.randn(4, 3, 32, 32))


def test_tta_translate_averages_shifted_views():
    """A model that reads one pixel sees the image and its two 1-pixel shifts (and mirrors)."""

    class Corner(torch.nn.Module):
        def forward(self, x):
            return x[:, :, 1, 1]  # one pixel, channels as 'logits'

    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float).view(2, 3, 5, 5)
    plain = tta_logits(Corner(), x, Augmentation())
    torch.testing.assert_close(plain, x[:, :, 1, 1])
    shifted = tta_logits(Corner(), x, Augmentation(translate=True))
    expect = (x[:, :, 1, 1] + (x[:, :, 0, 0] + x[:, :, 2, 2]) / 2) / 2
    torch.testing.assert_close(shifted, expect)


def test_evaluation_keeps_the_logits_predictions_get(cifar_small):
    """Scored with flips and shifts, evaluate() also returns the logits without the shifts: those a
    Predictor computes for one image, which temperatures are fitted and ECE measured on."""
    from pathlib import Path

    from cnn.checkpoint import load_checkpoint
    from cnn.data.normalize import Normalizer
    from cnn.evaluation import evaluate
    from cnn.serving.predictor import Predictor

    path = Path(__file__).resolve().parents[1] / "checkpoints" / "cifar10.safetensors"
    model, meta = load_checkpoint(path)
    assert meta["tta_flip"] and meta["tta_translate"]
    norm = Normalizer(meta["normalization"]["mean"], meta["normalization"]["std"], torch.device("cpu"), 3)
    test = cifar_small.test.subset(200)
    ev = evaluate(model, test, norm, 10, EvalPlan(Augmentation(True, True), serving=Augmentation.served(True)))
    flip_only = evaluate(model, test, norm, 10, EvalPlan(Augmentation(flip=True)))
    torch.testing.assert_close(ev.served_logits, flip_only.logits)
    assert (ev.served_logits - ev.logits).abs().max() > 0.05  # the shifts do change the scores
    predictor = Predictor.from_checkpoint(path, backend="pytorch")
    for i in (0, len(test) - 1):
        torch.testing.assert_close(predictor.logits(test.images[i]), ev.served_logits[i], atol=1e-4, rtol=1e-4)


def test_another_model_with_the_airbench_recipe_trains_without_whitening(cifar_small):
    """cifar10_fast's recipe on seed004's SimpleCNN: no whitening stem to set, so none is asked for."""
    from cnn.training import train

    recipe = get_recipe("cifar10_fast").replace(model="seed004_simplecnn", epochs=1, batch_size=500)
    assert not recipe.whiten and get_recipe("cifar10_fast").whiten
    # every image trained on (no temperature slice), as when this bound was set: 10 steps of 500
    end = [ev for ev in train(recipe, cifar_small, device="cpu", evaluate_each_epoch=False, calibration_holdout=0)][-1]
    assert end.status == "finished" and end.test_accuracy > 0.15


def test_stacked_flip_scores_like_two_passes(cifar_small):
    """The Photo tab's Predictor runs an image and its mirror as one batch of two; in eval mode
    that gives the logits of two separate passes (shipped model, real CIFAR-10 test images)."""
    from app_helpers import checkpoint

    from cnn.serving.predictor import Predictor

    photo = Predictor.from_checkpoint(checkpoint("cifar10"))
    assert photo.tta_flip
    with torch.inference_mode():
        for i in range(4):
            image = cifar_small.test.images[i]
            x = photo.normalizer(image[None])
            two = tta_logits(photo.model, x, Augmentation(flip=True))[0]
            torch.testing.assert_close(photo.logits(image), two, rtol=1e-4, atol=1e-4)
            assert not torch.allclose(two, photo.model(x)[0])  # the mirror did change the average


def test_mnist_small_is_mnist_fast_narrower_with_its_recipe():
    """mnist_small: mnist_fast's net at widths 16/32/64 (a quarter of the weights), trained by
    mnist_fast's recipe but for its own number of epochs (chosen by bench/mnist_widths.py)."""
    from cnn.models import count_parameters, get_spec

    small, fast = build_model("mnist_small"), build_model("mnist_fast")
    assert type(small) is type(fast) and dict(get_spec("mnist_small").kwargs) == {"widths": (16, 32, 64)}
    convs = [m.out_channels for m in small.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64] and small.head_scale == fast.head_scale
    assert count_parameters(small) == 24_058 < count_parameters(fast) / 3
    r, f = get_recipe("mnist_small").as_dict(), get_recipe("mnist_fast").as_dict()
    differ = {k for k in r if r[k] != f[k]}
    assert differ <= {"name", "model", "epochs", "reported", "notes"} and r["model"] == "mnist_small"


def test_mnist_drawings_is_mnist_best_on_mnist_mid_with_the_drawing_augmentation():
    """The shipped digit model's recipe (docs/augmentation.md): mnist_best's settings on mnist_fast's net
    at 1.5x its widths, with the augmentation chosen on the drawing styles' tune half."""
    from cnn.models import count_parameters, get_spec

    mid = build_model("mnist_mid")
    assert (
        dict(get_spec("mnist_mid").kwargs) == {"widths": (24, 96, 192)}
        and get_spec("mnist_mid").recipe == "mnist_drawings"
    )
    assert [m.out_channels for m in mid.modules() if isinstance(m, torch.nn.Conv2d)] == [24, 96, 192]
    assert count_parameters(mid) == 189_394
    r, b = get_recipe("mnist_drawings"), get_recipe("mnist_best")
    assert r.augment == "crop=2,thicken=1,blur=1,blocky=2" and r.model == "mnist_mid"
    same = {k for k, v in r.as_dict().items() if v == b.as_dict()[k]}
    assert set(r.as_dict()) - same == {"name", "model", "thicken", "blur", "blocky", "reported"}


def test_mnist_small_learns_a_small_subset(mnist):
    """mnist_small's recipe for 8 epochs of 2,000 training images (256 steps of up to 64, no temperature
    slice) on 500 test images: far above chance (10%). Not timed."""
    from cnn.data import Dataset
    from cnn.training import train

    data = Dataset("mnist", mnist.classes, mnist.train.subset(2000), mnist.test.subset(500))
    recipe = get_recipe("mnist_small").replace(epochs=8)
    events = list(train(recipe, data, device="cpu", evaluate_each_epoch=False, calibration_holdout=0, log_every=1))
    losses = [e.loss for e in events if e.kind == "step"]
    end = events[-1]
    assert len(losses) == 256 and sum(losses[-10:]) < sum(losses[:10]) / 2.5
    assert end.status == "finished" and end.metadata["architecture"] == "mnist_small"
    assert end.test_accuracy > 0.9
