"""A look inside a Predictor's model: the feature maps of every convolution, Grad-CAM and saliency
for one image, and the layer table. Never imports Gradio.

An `Explainer` hooks the model's layers once. The hooks write only into the calling thread's own
storage, so many threads can explain (and predict) with one model at the same time.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from ..models.summary import format_table, summarize
from .predictor import Predictor, one_thread
from .render import unit_range


class Explainer:
    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        model = predictor.model
        self.convs: list[tuple[str, nn.Conv2d]] = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        self._conv_names = {n for n, _ in self.convs}
        self._local = threading.local()
        for name, module in self.convs:
            module.register_forward_hook(self._hook(name))
        # Grad-CAM looks at the last layer that still has a spatial map (after its BN and
        # activation, so the map is what the classifier reads): the last leaf with a 4-D output.
        spatial = [
            n
            for n, _t, shape, _p in summarize(model, predictor.input_shape)
            if len(shape) == 4 and shape[2] * shape[3] > 1
        ]
        self.cam_layer = spatial[-1] if spatial else None
        if self.cam_layer and self.cam_layer not in self._conv_names:
            dict(model.named_modules())[self.cam_layer].register_forward_hook(self._hook(self.cam_layer))

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            sink = getattr(self._local, "sink", None)
            if sink is not None:
                sink[name] = output

        return hook

    def _forward_collecting(self, b: torch.Tensor) -> tuple[torch.Tensor, OrderedDict[str, torch.Tensor]]:
        self._local.sink = OrderedDict()
        try:
            out = self.predictor.model(b)
            return out, self._local.sink
        finally:
            self._local.sink = None

    def feature_maps(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """(layer name, C x h x w output) of every Conv2d layer, in call order."""
        with torch.inference_mode(), one_thread():
            _, maps = self._forward_collecting(self.predictor.batch(x))
        return [(name, t[0].float().cpu()) for name, t in maps.items() if name in self._conv_names]

    def saliency(self, x: torch.Tensor, target: int | None = None) -> np.ndarray:
        """|d score / d pixel|, max over channels, scaled to [0, 1]: H x W."""
        with torch.enable_grad(), one_thread():
            b = self.predictor.batch(x).detach().requires_grad_(True)
            out = self.predictor.model(b)
            t = int(out.argmax(1)) if target is None else int(target)
            (grad,) = torch.autograd.grad(out[0, t], b)
        s = grad[0].abs().amax(0)
        return unit_range(s.cpu().numpy())

    def grad_cam(self, x: torch.Tensor, target: int | None = None) -> np.ndarray:
        """Grad-CAM on the last spatial feature map, upsampled to the input: H x W in [0, 1]."""
        if not self.cam_layer:
            return self.saliency(x, target)
        with torch.enable_grad(), one_thread():
            b = self.predictor.batch(x).detach().requires_grad_(True)  # so the activations carry a graph
            out, maps = self._forward_collecting(b)
            act = maps[self.cam_layer]
            t = int(out.argmax(1)) if target is None else int(target)
            (grad,) = torch.autograd.grad(out[0, t], act)
        weights = grad[0].mean(dim=(1, 2), keepdim=True)
        cam = torch.relu((weights * act[0]).sum(0)).detach()
        cam = torch.nn.functional.interpolate(
            cam[None, None], size=self.predictor.input_shape[1:], mode="bilinear", align_corners=False
        )[0, 0]
        return unit_range(cam.cpu().numpy())

    def grad_cams(self, xs: torch.Tensor, targets: list[int]) -> np.ndarray:
        """grad_cam for a batch (uint8 N x C x H x W) at once, each image for its own target class:
        N x H x W, each in [0, 1]. In eval mode the images do not mix, so one backward pass gives
        every image's gradient (a cell of mistakes in one go, not one pass per image)."""
        if not self.cam_layer:
            return np.stack([self.saliency(x, t) for x, t in zip(xs, targets)])
        with torch.enable_grad(), one_thread():
            b = self.predictor.normalizer(xs.to(self.predictor.device)).detach().requires_grad_(True)
            out, maps = self._forward_collecting(b)
            act = maps[self.cam_layer]
            picked = out.gather(1, torch.as_tensor(targets, device=out.device).view(-1, 1))
            (grad,) = torch.autograd.grad(picked.sum(), act)
        cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1, keepdim=True)).detach()
        cam = torch.nn.functional.interpolate(
            cam, size=self.predictor.input_shape[1:], mode="bilinear", align_corners=False
        )[:, 0]
        return np.stack([unit_range(c) for c in cam.cpu().numpy()])

    def summary_rows(self) -> list[list]:
        """[layer, type, output shape, parameters] for each leaf layer (worked out once: it copies
        the model and runs it, a quarter of a second of every Inside view on a 2-core CPU)."""
        p = self.predictor
        if getattr(self, "_rows", None) is None:
            self._rows = [
                [n, t, str((None,) + tuple(s[1:])), k]
                for n, t, s, k in summarize(copy.deepcopy(p.model), p.input_shape)
            ]
        return [list(r) for r in self._rows]

    def summary_table(self) -> str:
        p = self.predictor
        return format_table(copy.deepcopy(p.model), p.input_shape, p.describe())


_EXPLAINERS: weakref.WeakKeyDictionary[Predictor, Explainer] = weakref.WeakKeyDictionary()
_EXPLAINERS_LOCK = threading.Lock()


def explainer_for(predictor: Predictor) -> Explainer:
    """The one Explainer of a predictor (its hooks are registered once)."""
    with _EXPLAINERS_LOCK:
        ex = _EXPLAINERS.get(predictor)
        if ex is None:
            ex = _EXPLAINERS[predictor] = Explainer(predictor)
        return ex
