"""ONNX Runtime as an optional second backend for the Predictor's predictions.

onnxruntime (and onnx, which the export needs) are optional: without them everything runs in
PyTorch. A checkpoint is exported once and cached in the cache directory ($CNN_CACHE_DIR, else
~/.cache/cnn-playground) under onnx/, keyed by the SHA-256 of the checkpoint file, so a changed
file (new weights, a new temperature) is exported again and an unchanged one never is. The cache
keeps the MAX_CACHED_EXPORTS latest exports: every run and every imported checkpoint adds one, so
without a bound it would grow for as long as the app serves (one pruned is exported again when
it is next asked for).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..checkpoint import load_checkpoint
from ..data import cache_dir
from ..errors import ConfigError
from .onnx_export import EXPORT_VERSION, export_model, file_sha256

BACKENDS = ("auto", "pytorch", "onnxruntime")
MAX_CACHED_EXPORTS = 64  # a few MB each at most (the largest preset's weights are 9 MB)


def onnxruntime_or_none():
    """The onnxruntime module, or None when it (or onnx, needed to export) cannot be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except Exception:  # ImportError, or a broken install
        return None
    return onnxruntime


def _cached(sha: str) -> Path:
    return cache_dir() / "onnx" / f"{sha[:32]}-v{EXPORT_VERSION}.onnx"


def _export_once(checkpoint: str | os.PathLike, loaded) -> Path:
    """The checkpoint's ONNX export in the cache, keyed by its content; loaded() gives (model,
    metadata) to export from, called only when the file is not there yet (written atomically)."""
    sha = file_sha256(checkpoint)
    out = _cached(sha)
    if not out.is_file():
        export_model(*loaded(), out, sha)
        _prune(out)
    return out


def _prune(keep: Path) -> None:
    """Remove the oldest exports beyond MAX_CACHED_EXPORTS (never `keep`, the one just written)."""
    try:
        files = sorted(keep.parent.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # one removed meanwhile: the next export prunes
        return
    for old in [p for p in files if p != keep][MAX_CACHED_EXPORTS - 1 :]:
        old.unlink(missing_ok=True)


def cached_export(checkpoint: str | os.PathLike, model: nn.Module, metadata: dict) -> Path:
    """The checkpoint's ONNX export in the cache, written on first use from its loaded model."""
    return _export_once(checkpoint, lambda: (model, metadata))


def checkpoint_onnx(checkpoint: str | os.PathLike) -> Path:
    """The checkpoint's ONNX export for a download: the same cached file the Predictor serves from
    (exported once per checkpoint content), loading the checkpoint only when it is not cached yet."""
    try:
        import onnx  # noqa: F401  (the export writes its model with it)
    except Exception:
        raise ConfigError("Exporting to ONNX needs the onnx package: pip install onnx onnxruntime.") from None
    return _export_once(checkpoint, lambda: load_checkpoint(checkpoint))


class OrtRunner:
    """One InferenceSession (run() is thread-safe) on one intra-op thread: normalised float32
    batch -> logits, as torch tensors."""

    def __init__(self, onnx_path: str | os.PathLike, ort=None):
        ort = ort or onnxruntime_or_none()
        if ort is None:
            raise ImportError("onnxruntime is not installed")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(onnx_path)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: x})[0])


def median_ms(fn, x, calls: int = 15, warmup: int = 3) -> float:
    """Median wall time of fn(x) in milliseconds."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
