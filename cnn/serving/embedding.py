"""A map of what a model learned: its penultimate features (what its last Linear layer reads) of
test images, projected to 2-D by PCA or t-SNE (scikit-learn). Never imports Gradio.

Each map is cached in memory and on disk (numpy's .npz, never pickled) under the cache directory,
keyed by the SHA-256 of the checkpoint file, the images' sample and the method: an unchanged
checkpoint is mapped once.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..atomic import atomic_path
from ..data import Split, cache_dir
from ..errors import CnnError
from .onnx_export import file_sha256
from .predictor import Predictor

METHODS = ("pca", "tsne")
MAX_POINTS = 5000  # the most images a map may hold (t-SNE's time grows with their square)
DEFAULT_POINTS = 2000
CACHE_VERSION = 1


@dataclass
class FeatureMap:
    """2-D coordinates of test images (N x 2), their true classes, the model's predictions, and
    each image's index in the sampled test split."""

    coords: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    classes: list[str]
    method: str

    @property
    def mistakes(self) -> np.ndarray:
        return self.labels != self.predictions


def penultimate(predictor: Predictor, images: torch.Tensor, batch: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(features N x D: the input of the model's last Linear layer, predictions N) for uint8 images.
    Predictions average the flipped image's logits where the model serves with a flip (as the app)."""
    # its own copy (its own hook), channels-last: oneDNN's convolutions run 2.4x faster so, in batches
    # of 100 (bench/feature_map_speed.py; the features are the same: flatten follows the shape)
    model = copy.deepcopy(predictor.model).cpu().eval().to(memory_format=torch.channels_last)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise CnnError(f"{predictor.describe()} has no Linear layer: there are no penultimate features to map.")
    caught: list[torch.Tensor] = []
    hook = linears[-1].register_forward_pre_hook(lambda _m, args: caught.append(args[0].flatten(1)))
    feats, preds = [], []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            b = predictor.normalizer(images[i : i + batch]).contiguous(memory_format=torch.channels_last)
            logits = model(b)
            feats.append(caught[-1])
            if predictor.tta_flip:
                logits = logits + model(b.flip(-1))
            preds.append(logits.argmax(1))
            caught.clear()
    hook.remove()
    return torch.cat(feats).float().numpy(), torch.cat(preds).numpy()


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """N x D features to N x 2 coordinates: PCA, or t-SNE on the first 50 principal components."""
    from sklearn.decomposition import PCA  # imported when a map is made: the app starts faster

    if method not in METHODS:
        raise CnnError(f"Unknown map method {method!r}: use one of {', '.join(METHODS)}.")
    x = features.astype(np.float32)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float32)
    from sklearn.manifold import TSNE

    k = min(50, x.shape[1], x.shape[0])
    x = PCA(n_components=k, random_state=seed).fit_transform(x) if x.shape[1] > k else x
    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed, max_iter=500, n_jobs=1)
    return tsne.fit_transform(x).astype(np.float32)


def knn_agreement(coords: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """The share of points whose k nearest neighbours on the map (not counting themselves) are
    mostly of their own class: how well the map keeps the classes apart."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords, return_distance=False)[:, 1:]
    same = (labels[idx] == labels[:, None]).sum(1)
    return float((same > k / 2).mean())


_MEMORY: OrderedDict[tuple, FeatureMap] = OrderedDict()
_LOCK = threading.Lock()


def _cache_file(key: tuple) -> Path:
    sha, n, seed, method, dataset = key
    safe = "".join(ch if ch.isalnum() else "_" for ch in dataset)[:40]
    return cache_dir() / "maps" / f"{sha[:32]}-{safe}-{n}-{seed}-{method}-v{CACHE_VERSION}.npz"


def feature_map(
    checkpoint: str, predictor: Predictor, split: Split, dataset: str, method: str, seed: int = 0
) -> FeatureMap:
    """The map of `split` (already sampled: its images in order) for the checkpoint's model, made
    once per checkpoint content, sample and method (in memory, then on disk)."""
    key = (file_sha256(checkpoint), len(split), seed, method, dataset)
    with _LOCK:
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return _MEMORY[key]
    m = _load(key, predictor) or _make(key, predictor, split)
    with _LOCK:
        _MEMORY[key] = m
        while len(_MEMORY) > 8:
            _MEMORY.popitem(last=False)
    return m


def _make(key: tuple, predictor: Predictor, split: Split) -> FeatureMap:
    feats, preds = penultimate(predictor, split.images)
    coords = project(feats, key[3], seed=key[2])
    m = FeatureMap(coords, split.labels.numpy(), preds, list(predictor.classes), key[3])
    with atomic_path(_cache_file(key)) as tmp, open(tmp, "wb") as f:
        np.savez(f, coords=m.coords, labels=m.labels, predictions=m.predictions)
    return m


def _load(key: tuple, predictor: Predictor) -> FeatureMap | None:
    path = _cache_file(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return FeatureMap(z["coords"], z["labels"], z["predictions"], list(predictor.classes), key[3])
    except (OSError, ValueError, KeyError):  # a damaged cache file: made again
        return None
