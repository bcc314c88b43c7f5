"""The test images the probes look at (what each channel looks for, the map of what a model
learned): a fixed sample of the test split of the data the model learned from, loaded once."""

from __future__ import annotations

import functools

from cnn.data import Split, load_dataset
from cnn.data.sources import named_source
from cnn.serving.predictor import Predictor

from .common import AppContext


@functools.lru_cache(maxsize=4)
def _sample(dataset: str, data_dir: str | None, allow_any: bool, size: int | None, n: int, seed: int) -> Split:
    data = load_dataset(dataset, data_dir, train=False, allow_any_path=allow_any, image_size=size)
    return data.test.subset(n, seed=seed)


def test_sample(ctx: AppContext, predictor: Predictor, n: int, seed: int = 0) -> tuple[Split, str]:
    """(n test images of the predictor's data set, a fixed sample by seed; the data set's name).
    A folder (a Teach project, a folder data set) stays under the data directory unless the app
    was started to allow any path, as for training."""
    dataset = str(predictor.metadata.get("dataset") or "")
    size = None if named_source(dataset) else predictor.input_shape[1]
    r = ctx.runs
    data_dir = None if r.data_dir is None else str(r.data_dir)
    return _sample(dataset, data_dir, r.allow_any_path, size, n, seed), dataset
