"""CUDA-only checks, skipped on machines without a GPU: a step recorded as a CUDA graph trains
like the eager step, partial batches included. (The same comparison ran on the H100 as a smoke
script, on other random data: per-epoch losses agreed within 0.3% for these two recipes.)
A recording that fails fails the test (it would otherwise warn and compare eager with eager)."""

import warnings

import pytest
import torch

from cnn.data import Dataset, Split
from cnn.training import train
from cnn.training.graphed import GraphedStep
from cnn.training.recipes import get_recipe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _fake(channels, side, n):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, channels, side, side), dtype=torch.uint8, generator=g)
    y = (x.float().mean((1, 2, 3)) > 127.5).long() + 2 * (x[:, 0, 0, 0] > 127).long()  # learnable
    return Dataset("fake", [str(i) for i in range(10)], Split(x, y), Split(x[:1000], y[:1000]))


@pytest.fixture()
def graphed_steps(monkeypatch):
    """Every GraphedStep a run builds, to check that its recording took."""
    steps, real = [], GraphedStep.__init__

    def init(self, *a, **k):
        real(self, *a, **k)
        steps.append(self)

    monkeypatch.setattr(GraphedStep, "__init__", init)
    return steps


RECIPES = {
    "cifar10_fast": get_recipe("cifar10_fast"),
    "mnist_fast": get_recipe("mnist_fast"),
    # a Teach photos run with SGD: the colour augmentation inside the recorded step
    "teach_photos, SGD": get_recipe("teach_photos").replace(
        optimizer="sgd", lr=0.05, momentum=0.9, batch_size=128, head_only_epochs=0, colour=0.2
    ),
}


@pytest.mark.parametrize(
    "recipe,channels,side,n",
    [("cifar10_fast", 3, 32, 8192), ("mnist_fast", 1, 28, 4100), ("teach_photos, SGD", 3, 32, 4100)],
)
def test_graphed_and_eager_steps_train_alike(recipe, channels, side, n, graphed_steps):
    data = _fake(channels, side, n)  # 4100 / 128: every epoch ends with a partial, eager batch
    losses = {}
    for graphs in (True, False):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="CUDA graph capture failed")  # a failed recording fails
            end = [ev for ev in train(RECIPES[recipe].replace(epochs=4), data, device="cuda", cuda_graphs=graphs)][-1]
        assert end.status == "finished", end.message
        losses[graphs] = [h.train_loss for h in end.history]
        if graphs:  # the step was recorded and replayed: the comparison is graphed against eager
            assert len(graphed_steps) == 1 and graphed_steps[0].graph is not None and not graphed_steps[0].failed
    assert losses[True] == pytest.approx(losses[False], rel=0.02)
    assert losses[True][-1] < losses[True][0]
