"""The project's fast nets: airbench94's FastNet (and a narrower one for the CPU) and MnistFastNet."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError


def _conv_bn(cin, cout, bn=None):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), (bn or nn.BatchNorm2d)(cout), nn.GELU()]


class _BiasOnlyNorm(nn.BatchNorm2d):
    """airbench's batch norm: scale fixed at 1 (only the bias learns), eps 1e-12, and a fast-moving
    running average (PyTorch momentum 0.4), which suits runs of a few hundred steps."""

    def __init__(self, num_features):
        super().__init__(num_features, eps=1e-12, momentum=0.4)
        self.weight.requires_grad_(False)


class FastNet(nn.Module):
    """The project's fast net, after airbench (arXiv 2404.00498): a 2x2 conv stem, then blocks of
    conv > max-pool > BN > GELU > conv > BN > GELU, global max-pool and a scaled linear head.

    With airbench=True it is airbench94's net exactly: bias-only batch norm, block convolutions
    that start as identity maps (dirac) on their first channels, and a stem of 2*C*2*2 filters
    that `init_whitening` sets from the data and freezes.
    """

    def __init__(
        self,
        in_channels=3,
        num_classes=10,
        image_size=32,
        widths=(64, 256, 256),
        stem=None,
        head_scale=1 / 9,
        airbench=False,
    ):
        super().__init__()
        stem = stem or 2 * in_channels * 2 * 2  # room for a whitening of 2x2 patches (+ and -)
        bn = _BiasOnlyNorm if airbench else nn.BatchNorm2d
        layers = [nn.Conv2d(in_channels, stem, 2, padding=0, bias=True), nn.GELU()]
        cin = stem
        for w in widths:
            layers += [
                nn.Conv2d(cin, w, 3, padding=1, bias=False),
                nn.MaxPool2d(2),
                bn(w),
                nn.GELU(),
                *_conv_bn(w, w, bn),
            ]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes, bias=False)
        self.head_scale = head_scale
        if airbench:
            nn.init.zeros_(self.stem.bias)
            for m in self.features[2:]:
                if isinstance(m, nn.Conv2d):
                    with torch.no_grad():
                        nn.init.dirac_(m.weight[: m.in_channels])

    @property
    def stem(self) -> nn.Conv2d:
        return self.features[0]

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the stem to whiten 2x2 patches of `images` (normalised, N x C x H x W): its filters
        are the patch covariance's eigenvectors over sqrt(eigenvalue), and their negatives. The
        weights are then frozen; the stem's bias still learns."""
        conv = self.stem
        c, (kh, kw) = images.shape[1], conv.kernel_size
        if conv.out_channels != 2 * c * kh * kw:
            raise ConfigError(
                f"Whitening needs a stem of {2 * c * kh * kw} filters for {c}-channel "
                f"images; this model's has {conv.out_channels}."
            )
        patches = images.unfold(2, kh, 1).unfold(3, kw, 1).transpose(1, 3).reshape(-1, c * kh * kw)
        patches = patches.float()
        cov = (patches.T @ patches / len(patches)).double().cpu()  # 12 x 12: quickest on the CPU
        eigenvalues, eigenvectors = torch.linalg.eigh(cov, UPLO="U")
        eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)
        eigenvectors = eigenvectors.T.reshape(c * kh * kw, c, kh, kw).flip(0)
        scaled = (eigenvectors / torch.sqrt(eigenvalues + eps)).to(conv.weight)
        conv.weight.copy_(torch.cat((scaled, -scaled)))
        conv.weight.requires_grad_(False)

    def forward(self, x):
        x = self.features(x)
        x = torch.amax(x, dim=(2, 3))
        return self.head(x) * self.head_scale


class MnistFastNet(nn.Module):
    """A small BN net for MNIST-sized grey images: three conv blocks, global max-pool, linear.
    As in airbench, the first two blocks pool right after the convolution, so their batch norm
    and activation run on a quarter of the pixels; with ReLU that trains 1.4x the images per
    second of conv-BN-GELU-pool on a 2-core CPU, for the same accuracy. The first convolution,
    the only one at full resolution, has 16 channels: at 32 it cost a CPU as much time as each
    later one while doing a sixteenth of their arithmetic (docs/performance-cpu.md). The logits are halved,
    as airbench scales its head: at full scale a short run's short warm-up let the first steps
    diverge (loss 2.7 -> 31 in 8 steps), and the app's quick run on 5,000 images ended at 19%."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28, widths=(16, 64, 128), head_scale=0.5):
        super().__init__()
        a, b, c = widths
        self.head_scale = head_scale

        def block(cin, cout, pool):
            conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            return [conv, *([nn.MaxPool2d(2)] if pool else []), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, a, True),  # 14x14
            *block(a, b, True),  # 7x7
            *block(b, c, False),
        )
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.head(torch.amax(self.features(x), dim=(2, 3))) * self.head_scale
