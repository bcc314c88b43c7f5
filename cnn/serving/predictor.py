"""Predictions from a trained model. Never imports Gradio.

A `Predictor` wraps a model in eval mode with its checkpoint metadata (classes, input shape,
normalisation, test-time flip, temperature). It is safe to call from many threads at once: the model
is never changed after construction and every call works on its own tensors.

Probabilities are softmax(logits / T), T being the checkpoint's fitted temperature (metadata
"temperature", 1.0 for checkpoints without one). A predictor made from a checkpoint file serves
logits(), probabilities() and predict() through ONNX Runtime when onnxruntime is installed and it
measured faster for that model at load (`backend` says which); the look inside the model
(serving/explain.py) always runs the PyTorch `model`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

from ..calibration import calibrated_probabilities
from ..checkpoint import load_checkpoint
from ..data import resolve_data_dir
from ..data.normalize import Normalizer
from ..errors import ConfigError, ImageError
from ..evaluation import SERVED_TRANSLATE, tta_logits
from ..models import model_name
from .onnx_runtime import BACKENDS, OrtRunner, cached_export, median_ms, onnxruntime_or_none


@contextlib.contextmanager
def one_thread():
    """Run one small forward pass on one CPU thread. A single image gains nothing from intra-op
    threads, and on a busy machine their barriers can cost a hundred milliseconds. The setting is
    per thread (and restored), so a training run in another thread keeps its threads."""
    prev = torch.get_num_threads()
    if prev == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


class Predictor:
    def __init__(self, model: nn.Module, metadata: dict, *, device: str | torch.device = "cpu", name: str = ""):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.metadata = dict(metadata)
        self.classes: list[str] = [str(c) for c in metadata["classes"]]
        self.input_shape: tuple[int, int, int] = tuple(int(v) for v in metadata["input_shape"])
        norm = metadata["normalization"]
        self.normalizer = Normalizer(norm["mean"], norm["std"], self.device, self.input_shape[0])
        self.tta_flip = bool(metadata.get("tta_flip", False))
        t = metadata.get("temperature", 1.0)
        self.temperature = float(t) if isinstance(t, (int, float)) and 0 < t < float("inf") else 1.0
        self.name = name or metadata.get("architecture", "model")
        self.backend = "pytorch"  # or "onnxruntime": what serves logits() and predict()
        self.backend_reason = "PyTorch (no checkpoint file to export)"
        self.backend_label = "PyTorch"  # in short, for the page: which backend serves and why
        self.backend_ms: dict[str, float] = {}  # median ms per prediction of each backend, when timed
        self._ort: OrtRunner | None = None
        self.path: Path | None = None  # the checkpoint file, when made from one

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        *,
        expect_channels: int | None = None,
        expect_classes: int | None = None,
        device: str = "cpu",
        backend: str | None = None,
    ) -> Predictor:
        """backend: 'auto' (ONNX Runtime where installed and faster), 'pytorch' or 'onnxruntime';
        by default $CNN_BACKEND, else 'auto'."""
        backend = backend or os.environ.get("CNN_BACKEND") or "auto"
        if backend not in BACKENDS:
            raise ConfigError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
        model, meta = load_checkpoint(
            path, expect_channels=expect_channels, expect_classes=expect_classes, map_location=device
        )
        pred = cls(model, meta, device=device, name=Path(path).stem)
        pred.path = Path(path)
        if backend == "pytorch":
            pred.backend_reason = pred.backend_label = "PyTorch (asked for)"
        if backend != "pytorch":
            pred._choose_backend(Path(path), forced=backend == "onnxruntime")
        return pred

    @classmethod
    def from_model(cls, model: nn.Module, metadata: dict, name: str = "") -> Predictor:
        """A predictor on a CPU copy of a model (the trainer may still hold the original)."""
        return cls(copy.deepcopy(model).cpu().float(), metadata, name=name)

    # ------------------------------------------------------------ predictions

    def source(self, data_dir: str | os.PathLike | None = None) -> str:
        """Where the model's training data comes from: a Teach project's name and folder, or the
        data set (a folder as its path under the data directory, `data_dir` or the default one)."""
        data = shown_path(self.metadata.get("dataset", "?"), data_dir)
        project = self.metadata.get("project")
        if isinstance(project, dict) and project.get("name"):
            return f'the project "{project["name"]}" ({data})'
        return data

    def describe(self, data_dir: str | os.PathLike | None = None) -> str:
        """One line: the model, what it learned from and how well, and its checkpoint file (paths
        under the data directory or the current one shown relative to it)."""
        acc = self.metadata.get("test_accuracy")
        taught = isinstance(self.metadata.get("project"), dict)
        score = "held-out accuracy" if taught else "test accuracy"
        acc = f", {score} {acc:.2%}" if isinstance(acc, (int, float)) else ""
        init = self.metadata.get("init_from")
        init = f", fine-tuned from {init}" if taught and isinstance(init, str) else ""
        where = f"; checkpoint {shown_path(self.path, data_dir)}" if self.path is not None else ""
        return f"{self._model_name()} {'taught' if taught else 'trained on'} {self.source(data_dir)}{acc}{init}{where}"

    def _model_name(self) -> str:
        """The architecture, or a designed net's summary ('Conv6-AvgPool-...-Linear10')."""
        m = self.metadata
        return model_name(m.get("architecture", self.name), m.get("design"), len(self.classes))

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 C x H x W (or 1 x C x H x W) to a normalised float batch of one."""
        if not isinstance(x, torch.Tensor):
            raise ImageError("The model takes an image tensor.")
        if x.ndim == 3:
            x = x.unsqueeze(0)
        c, h, w = self.input_shape
        if x.ndim != 4 or x.shape[0] != 1 or tuple(x.shape[1:]) != (c, h, w):
            raise ImageError(f"The model takes {c} x {h} x {w} images, not {tuple(x.shape[-3:])}.")
        return self.normalizer(x.to(self.device))

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """A uint8 C x H x W image resized and re-channelled to this model's input shape."""
        c, h, w = self.input_shape
        if x.shape[0] != c:
            x = x.float().mean(0, keepdim=True) if c == 1 else x[:1].expand(c, -1, -1)
        if tuple(x.shape[1:]) != (h, w):
            x = torch.nn.functional.interpolate(
                x.float()[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False
            )[0]
        return x.round().clamp(0, 255).to(torch.uint8).contiguous()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The model's logits for one image (flip-averaged where tta_flip), before the temperature."""
        with torch.inference_mode(), one_thread():
            b = self.batch(x)
            return (self._ort(b) if self._ort is not None else self._torch_logits(b))[0]

    def _torch_logits(self, b: torch.Tensor) -> torch.Tensor:
        return tta_logits(self.model, b, self.tta_flip, translate=SERVED_TRANSLATE, stack=True)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """softmax(logits / temperature), on the CPU."""
        return calibrated_probabilities(self.logits(x), self.temperature).cpu()

    def predict(self, x: torch.Tensor) -> dict[str, float]:
        """Class name -> probability for one uint8 C x H x W image."""
        p = self.probabilities(x)
        return {name: float(v) for name, v in zip(self.classes, p.tolist())}

    # ------------------------------------------------------------ backend

    def _choose_backend(self, path: Path, forced: bool) -> None:
        """Serve through ONNX Runtime if it is installed and (unless forced) measures faster on a
        sample image than PyTorch; otherwise stay on PyTorch, saying why in backend_reason."""
        ort = onnxruntime_or_none() if self.device.type == "cpu" else None
        if ort is None:
            why = "onnxruntime is not installed" if self.device.type == "cpu" else f"the model runs on {self.device}"
            if forced:
                raise ConfigError(f"The onnxruntime backend is unavailable: {why} (pip install onnx onnxruntime).")
            self.backend_reason = f"PyTorch ({why})"
            self.backend_label = (
                "PyTorch (onnxruntime not installed)"
                if self.device.type == "cpu"
                else f"PyTorch (on {self.device.type})"
            )
            return
        try:
            runner = OrtRunner(cached_export(path, self.model, self.metadata), ort)
        except Exception as exc:  # a failed export or session: PyTorch still works
            if forced:
                raise ConfigError(f"The model could not be run in ONNX Runtime: {exc}") from exc
            self.backend_reason = f"PyTorch (the ONNX export failed: {str(exc)[:120]})"
            self.backend_label = "PyTorch (the ONNX export failed)"
            return
        sample = torch.randint(0, 256, self.input_shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode(), one_thread():
            b = self.batch(sample)
            self.backend_ms = {"pytorch": median_ms(self._torch_logits, b), "onnxruntime": median_ms(runner, b)}
        ms = ", ".join(f"{k} {v:.2f} ms" for k, v in self.backend_ms.items())
        if forced or self.backend_ms["onnxruntime"] < self.backend_ms["pytorch"]:
            self._ort, self.backend = runner, "onnxruntime"
            self.backend_reason = f"ONNX Runtime ({'asked for' if forced else 'faster'}: {ms} per image)"
            self.backend_label = "ONNX Runtime"
        else:
            self.backend_reason = f"PyTorch (faster: {ms} per image)"
            self.backend_label = "PyTorch (ONNX Runtime measured slower)"


def shown_path(path, data_dir: str | os.PathLike | None = None) -> str:
    """A path as the page shows it: relative to the data directory, else to the current directory,
    when it lies under one of them (no server paths on the page); else its folder and name. A name
    that is not a path (a data set's, 'mnist') stays as it is."""
    text = str(path)
    p = Path(text)
    if not p.is_absolute() and len(p.parts) <= 1:
        return text
    p = p.resolve()
    for base in (resolve_data_dir(data_dir), Path.cwd()):
        with contextlib.suppress(OSError, ValueError):
            return p.relative_to(base.resolve()).as_posix()
    return Path(p.parent.name, p.name).as_posix()


_CACHE: OrderedDict[str, Predictor] = OrderedDict()


_CACHE_LOCK = threading.Lock()


def cached_predictor(path: str | os.PathLike, *, expect_channels: int | None = None, limit: int = 8) -> Predictor:
    """A Predictor for a checkpoint file, loaded once (keyed by path and modification time)."""
    p = Path(path)
    try:
        key = f"{p.resolve()}:{p.stat().st_mtime_ns}:{expect_channels}"
    except OSError:
        key = str(p)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    pred = Predictor.from_checkpoint(p, expect_channels=expect_channels)
    with _CACHE_LOCK:
        _CACHE[key] = pred
        while len(_CACHE) > limit:
            _CACHE.popitem(last=False)
    return pred
