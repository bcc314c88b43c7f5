"""What each channel of a convolution looks for: the image that most excites it, grown from noise
(activation maximisation), and the test images that excite it most. Never imports Gradio.

The parameterisation and the transforms are lucent's (github.com/greentfrapp/lucent,
lucent/optvis/param/spatial.py, color.py and transform.py), rewritten here in a few lines:
torch-lucent 0.1.8, the latest, pins kornia<=0.4.1 and installs pytest and coveralls as
run-time dependencies (docs/probe.md). An image is a Fourier spectrum whose high frequencies are
scaled down (1/frequency), so optimising it favours patterns over pixel noise; colour images are
decorrelated with lucent's colour correlation matrix; every step sees the image padded, jittered,
scaled and rotated at random, so only what survives small moves is kept.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..cpu_share import free_threads
from ..errors import CnnError
from .predictor import Predictor

STEPS = 48  # optimisation steps per picture (bench/feature_vis_speed.py: 16 channels within 5 s)
LR = 0.01  # Adam's step (lucent: 0.05; at 48 steps on these small nets 0.05 saturates every pixel)
MAX_CHANNELS = 16  # pictures made at once: a person picks at most this many channels
# lucent's colour correlation (ImageNet), its square root by SVD; normalised as lucent does
_COLOUR = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR = _COLOUR / _COLOUR.norm(dim=0).max()


class _Stop(Exception):
    """Raised by the hook once the layer's output is in: the layers after it need not run."""


def conv_layers(model: nn.Module) -> list[tuple[str, int]]:
    """(name, output channels) of each Conv2d layer, in definition order."""
    return [(n, m.out_channels) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


class LayerProbe:
    """A private copy of a predictor's model that runs only up to one layer and returns its output
    (a copy: its hook cannot disturb predictions served from the shared model at the same time)."""

    def __init__(self, predictor: Predictor, layer: str):
        names = dict(conv_layers(predictor.model))
        if layer not in names:
            raise CnnError(
                f"{predictor.describe()} has no convolution layer {layer!r}; pick one of {', '.join(names)}."
            )
        self.channels = names[layer]
        self.normalizer = predictor.normalizer
        # channels-last: oneDNN's convolutions run faster so on this CPU (bench/feature_vis_speed.py)
        self.model = copy.deepcopy(predictor.model).cpu().eval().to(memory_format=torch.channels_last)
        self._out: torch.Tensor | None = None
        dict(self.model.named_modules())[layer].register_forward_hook(self._catch)

    def _catch(self, _module, _inputs, output):
        self._out = output
        raise _Stop

    def __call__(self, unit: torch.Tensor) -> torch.Tensor:
        """The layer's output (N x C x h x w) for images with values in [0, 1] (N x c x H x W)."""
        try:
            self.model(self.normalizer(unit * 255.0).contiguous(memory_format=torch.channels_last))
        except _Stop:
            pass
        out, self._out = self._out, None
        return out


def spectrum_scale(h: int, w: int, decay: float = 1.0) -> torch.Tensor:
    """1 / frequency (lucent's rfft2d_freqs), so each frequency starts with about equal energy."""
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    freqs = torch.sqrt(fx * fx + fy * fy)
    return (1.0 / freqs.clamp(min=1.0 / max(h, w)) ** decay) * math.sqrt(h * w)


def to_image(spectrum: torch.Tensor, scale: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Fourier parameters (N x c x h x w//2+1 x 2) to images in [0, 1] (N x c x h x w)."""
    c, h, w = shape
    img = torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(h, w), norm="ortho") / 4.0
    if c == 3:  # decorrelated colour (lucent's _linear_decorrelate_color)
        img = torch.einsum("nchw,dc->ndhw", img, _COLOUR)
    return torch.sigmoid(img)


def transform(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """lucent's standard transforms scaled to a small input: pad, jitter, random scale and rotation
    (one affine resampling per image), jitter again."""
    n, _c, h, w = img.shape
    pad = max(1, h // 14)
    x = F.pad(img, (pad,) * 4, mode="constant", value=0.5)
    x = _jitter(x, pad, gen)
    r = torch.rand(n, 2, generator=gen)
    s = 1 + (r[:, 0] - 0.5) * 0.2  # scale 0.9 .. 1.1
    a = (r[:, 1] - 0.5) * math.radians(20)  # rotate -10 .. 10 degrees
    theta = torch.stack(
        [torch.stack([torch.cos(a) / s, -torch.sin(a) / s, torch.zeros(n)], 1),
         torch.stack([torch.sin(a) / s, torch.cos(a) / s, torch.zeros(n)], 1)], 1
    )  # fmt: skip
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    x = _jitter(x, max(1, pad // 2), gen)
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def _jitter(x: torch.Tensor, d: int, gen: torch.Generator) -> torch.Tensor:
    dy, dx = (int(v) for v in torch.randint(0, d + 1, (2,), generator=gen))
    return x[..., dy : x.shape[-2] - d + dy, dx : x.shape[-1] - d + dx]


def visualise(
    predictor: Predictor,
    layer: str,
    channels: list[int],
    *,
    steps: int = STEPS,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """The image that most excites each channel (uint8 N x C x H x W, the model's input shape): all
    channels optimised at once, one image each, the mean of its channel's map maximised."""
    probe = LayerProbe(predictor, layer)
    bad = [c for c in channels if not 0 <= c < probe.channels]
    if bad or not channels or len(channels) > MAX_CHANNELS:
        raise CnnError(
            f"Pick 1 to {MAX_CHANNELS} channels between 0 and {probe.channels - 1} for {layer}"
            + (f" ({', '.join(map(str, bad))} is not one)." if bad else ".")
        )
    shape = predictor.input_shape
    c, h, w = shape
    gen = torch.Generator().manual_seed(seed)
    params = (torch.randn(len(channels), c, h, w // 2 + 1, 2, generator=gen) * 0.01).requires_grad_(True)
    scale = spectrum_scale(h, w)
    opt = torch.optim.Adam([params], lr=LR)
    pick = torch.arange(len(channels)), torch.tensor(channels)
    # the cores free now: on a quiet machine all of them (1.9x), beside busy processes one (feature_vis_speed)
    with torch.enable_grad(), free_threads():
        for i in range(steps):
            opt.zero_grad(set_to_none=True)
            act = probe(transform(to_image(params, scale, shape), gen))
            (-act[pick].mean(dim=(1, 2)).sum()).backward()
            opt.step()
            if progress is not None:
                progress((i + 1) / steps)
    with torch.no_grad():
        return (to_image(params, scale, shape) * 255).round().to(torch.uint8)


def top_images(predictor: Predictor, layer: str, images: torch.Tensor, k: int = 9, batch: int = 100) -> torch.Tensor:
    """For each channel of the layer, the indices (C x k) of the images (uint8 N x c x H x W) whose
    map of that channel has the highest mean: the test images that excite it most."""
    probe = LayerProbe(predictor, layer)
    with torch.inference_mode(), free_threads():
        means = torch.cat(
            [probe(images[i : i + batch].float() / 255.0).mean(dim=(2, 3)) for i in range(0, len(images), batch)]
        )
    return means.topk(min(k, len(images)), dim=0).indices.T.contiguous()
