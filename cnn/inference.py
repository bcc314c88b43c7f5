"""Predictions from a trained model, and a look inside it. Never imports Gradio.

A `Predictor` wraps a model in eval mode with its checkpoint metadata (classes, input shape,
normalisation, test-time flip). It is safe to call from many threads at once: the model is never
changed after construction, every call works on its own tensors, and the forward hooks that
collect feature maps write only into the calling thread's own storage.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from .augment import Normalizer
from .checkpoint import load_checkpoint
from .errors import ImageError
from .evaluation import tta_logits
from .summary import format_table, summarize


@contextlib.contextmanager
def _one_thread():
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
    def __init__(self, model: nn.Module, metadata: dict, *, device: str | torch.device = "cpu",
                 name: str = ""):
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
        self.name = name or metadata.get("architecture", "model")
        self.convs: list[tuple[str, nn.Conv2d]] = [
            (n, m) for n, m in self.model.named_modules() if isinstance(m, nn.Conv2d)]
        self._conv_names = {n for n, _ in self.convs}
        self._local = threading.local()
        for name_, module in self.convs:
            module.register_forward_hook(self._hook(name_))
        # Grad-CAM looks at the last layer that still has a spatial map (after its BN and
        # activation, so the map is what the classifier reads): the last leaf with a 4-D output.
        spatial = [n for n, _t, shape, _p in summarize(self.model, self.input_shape)
                   if len(shape) == 4 and shape[2] * shape[3] > 1]
        self.cam_layer = spatial[-1] if spatial else None
        if self.cam_layer and self.cam_layer not in dict(self.convs):
            dict(self.model.named_modules())[self.cam_layer].register_forward_hook(self._hook(self.cam_layer))

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, expect_channels: int | None = None,
                        expect_classes: int | None = None, device: str = "cpu") -> "Predictor":
        model, meta = load_checkpoint(path, expect_channels=expect_channels,
                                      expect_classes=expect_classes, map_location=device)
        return cls(model, meta, device=device, name=Path(path).stem)

    @classmethod
    def from_model(cls, model: nn.Module, metadata: dict, name: str = "") -> "Predictor":
        """A predictor on a CPU copy of a model (the trainer may still hold the original)."""
        return cls(copy.deepcopy(model).cpu().float(), metadata, name=name)

    # ------------------------------------------------------------ predictions

    def describe(self) -> str:
        acc = self.metadata.get("test_accuracy")
        acc = f", test accuracy {acc:.2%}" if isinstance(acc, (int, float)) else ""
        return (f"{self.metadata.get('architecture', self.name)} trained on "
                f"{self.metadata.get('dataset', '?')}{acc}")

    def _batch(self, x: torch.Tensor) -> torch.Tensor:
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
            x = torch.nn.functional.interpolate(x.float()[None], size=(h, w), mode="bilinear",
                                                antialias=True, align_corners=False)[0]
        return x.round().clamp(0, 255).to(torch.uint8).contiguous()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), _one_thread():
            return tta_logits(self.model, self._batch(x), self.tta_flip, translate=False, stack=True)[0]

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).softmax(0).cpu()

    def predict(self, x: torch.Tensor) -> dict[str, float]:
        """Class name -> probability for one uint8 C x H x W image."""
        p = self.probabilities(x)
        return {name: float(v) for name, v in zip(self.classes, p.tolist())}

    # ------------------------------------------------------------ inside the network

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            sink = getattr(self._local, "sink", None)
            if sink is not None:
                sink[name] = output
        return hook

    def _forward_collecting(self, b: torch.Tensor) -> tuple[torch.Tensor, "OrderedDict[str, torch.Tensor]"]:
        self._local.sink = OrderedDict()
        try:
            out = self.model(b)
            return out, self._local.sink
        finally:
            self._local.sink = None

    def feature_maps(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """(layer name, C x h x w output) of every Conv2d layer, in call order."""
        with torch.inference_mode(), _one_thread():
            _, maps = self._forward_collecting(self._batch(x))
        return [(name, t[0].float().cpu()) for name, t in maps.items() if name in self._conv_names]

    def saliency(self, x: torch.Tensor, target: int | None = None) -> np.ndarray:
        """|d score / d pixel|, max over channels, scaled to [0, 1]: H x W."""
        with torch.enable_grad(), _one_thread():
            b = self._batch(x).detach().requires_grad_(True)
            out = self.model(b)
            t = int(out.argmax(1)) if target is None else int(target)
            (grad,) = torch.autograd.grad(out[0, t], b)
        s = grad[0].abs().amax(0)
        return _unit(s.cpu().numpy())

    def grad_cam(self, x: torch.Tensor, target: int | None = None) -> np.ndarray:
        """Grad-CAM on the last spatial feature map, upsampled to the input: H x W in [0, 1]."""
        if not self.cam_layer:
            return self.saliency(x, target)
        last = self.cam_layer
        with torch.enable_grad(), _one_thread():
            b = self._batch(x).detach().requires_grad_(True)  # so the activations carry a graph
            out, maps = self._forward_collecting(b)
            act = maps[last]
            t = int(out.argmax(1)) if target is None else int(target)
            (grad,) = torch.autograd.grad(out[0, t], act)
        weights = grad[0].mean(dim=(1, 2), keepdim=True)
        cam = torch.relu((weights * act[0]).sum(0)).detach()
        cam = torch.nn.functional.interpolate(cam[None, None], size=self.input_shape[1:],
                                              mode="bilinear", align_corners=False)[0, 0]
        return _unit(cam.cpu().numpy())

    def summary_rows(self) -> list[list]:
        return [[n, t, str((None,) + tuple(s[1:])), p] for n, t, s, p in
                summarize(copy.deepcopy(self.model), self.input_shape)]

    def summary_table(self) -> str:
        return format_table(copy.deepcopy(self.model), self.input_shape, self.describe())


# ---------------------------------------------------------------- pictures

def _unit(a: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(a.astype(np.float32))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _heat_colours(h: np.ndarray) -> np.ndarray:
    """A blue-to-red colour map (no matplotlib needed): H x W in [0,1] -> H x W x 3 uint8."""
    h = np.clip(h, 0, 1)[..., None]
    stops = np.array([[0, 0, 128], [0, 128, 255], [0, 220, 120], [255, 230, 0], [220, 0, 0]], np.float32)
    pos = h * (len(stops) - 1)
    i = np.clip(pos.astype(int), 0, len(stops) - 2)
    f = pos - i
    rgb = stops[i[..., 0]] * (1 - f) + stops[i[..., 0] + 1] * f
    return rgb.astype(np.uint8)


def overlay(image: torch.Tensor, heat: np.ndarray, side: int = 224, alpha: float = 0.5) -> Image.Image:
    """The model's input (uint8 C x H x W) with a heat map over it, enlarged for display."""
    a = image.cpu().numpy()
    base = np.repeat(a, 3, 0) if a.shape[0] == 1 else a[:3]
    base = np.transpose(base, (1, 2, 0)).astype(np.float32)
    mixed = (1 - alpha) * base + alpha * _heat_colours(heat).astype(np.float32)
    im = Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")
    return im.resize((side, side), Image.Resampling.NEAREST)


def feature_grid(maps: torch.Tensor, max_channels: int = 16, cell: int = 56) -> Image.Image:
    """Up to max_channels channels of a C x h x w feature map, each scaled to [0, 1], as a grid."""
    maps = maps[:max_channels]
    n = maps.shape[0]
    cols = max(1, math.ceil(math.sqrt(n)))  # square-ish
    rows = (n + cols - 1) // cols
    grid = Image.new("L", (cols * (cell + 2), rows * (cell + 2)), 255)
    for k in range(n):
        a = (_unit(maps[k].numpy()) * 255).astype(np.uint8)
        tile = Image.fromarray(a, "L").resize((cell, cell), Image.Resampling.NEAREST)
        grid.paste(tile, ((k % cols) * (cell + 2) + 1, (k // cols) * (cell + 2) + 1))
    return grid


def confusion_image(confusion: torch.Tensor, classes: list[str], cell: int = 36) -> Image.Image:
    """The confusion matrix as a picture: rows true, columns predicted, darker is more."""
    from PIL import ImageDraw
    n = len(classes)
    c = confusion.float()
    rows = c / c.sum(1, keepdim=True).clamp(min=1)
    margin = 80
    im = Image.new("RGB", (margin + n * cell, margin + n * cell), "white")
    d = ImageDraw.Draw(im)
    for i in range(n):
        d.text((2, margin + i * cell + cell // 3), classes[i][:10], fill="black")
        d.text((margin + i * cell + 2, margin - 14 - (i % 2) * 12), classes[i][:6], fill="black")
        for j in range(n):
            v = float(rows[i, j])
            shade = int(255 - 200 * v)
            colour = (shade, shade, 255) if i == j else (255, shade, shade)
            x0, y0 = margin + j * cell, margin + i * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline=(220, 220, 220))
            d.text((x0 + 3, y0 + cell // 3), str(int(c[i, j])), fill="black" if v < 0.6 else "white")
    d.text((2, 2), "rows: true class\ncolumns: predicted", fill="black")
    return im


# ---------------------------------------------------------------- a cache of loaded checkpoints

_CACHE: "OrderedDict[str, Predictor]" = OrderedDict()
_CACHE_LOCK = threading.Lock()


def cached_predictor(path: str | os.PathLike, *, expect_channels: int | None = None,
                     limit: int = 8) -> Predictor:
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
