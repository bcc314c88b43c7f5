"""Named architectures: every model of the five seed tutorials, layer for layer, plus the
project's own fast models. `python -m cnn.models [NAME ...]` prints each model's summary table.

Every builder takes (in_channels, num_classes, image_size). On the input its tutorial used, a seed
model is exactly as written there; on another input (a seed CIFAR model on MNIST, say) only the
first layer's channel count and the flattened size change to fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import ConfigError


def _side(size: int, *ops: tuple[int, int, int]) -> int:
    """Spatial side after a chain of (kernel, stride, padding) convolutions or poolings."""
    for k, s, p in ops:
        size = (size + 2 * p - k) // s + 1
    return size


# ---------------------------------------------------------------- seed000 (MNIST)

class Seed000Net(nn.Module):
    """seed000 `NeuralNet`: two valid 3x3 convs, max-pool, two linear layers, log_softmax."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        side = _side(image_size, (3, 1, 0), (3, 1, 0), (2, 2, 0))
        self.fc1 = nn.Linear(64 * side * side, 128)  # 9216 on 28x28
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(F.max_pool2d(x, 2), 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class Seed000Keras(nn.Module):
    """seed000's Keras twin: Conv2D(32, 5x5, relu) > MaxPool > Dropout(0.2) > Dense(128) > Dense(10)."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 32, 5)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.2)
        side = _side(image_size, (5, 1, 0), (2, 2, 0))
        self.fc1 = nn.Linear(32 * side * side, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.drop(self.pool(F.relu(self.conv(x))))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


# ---------------------------------------------------------------- seed001 (CIFAR-10)

class Seed001ConvNet(nn.Module):
    """seed001 `ConvNeuralNet`: four 3x3 convs with no activation between them, two max-pools."""

    def __init__(self, in_channels=3, num_classes=10, image_size=32):
        super().__init__()
        self.conv_layer1 = nn.Conv2d(in_channels, 32, 3)
        self.conv_layer2 = nn.Conv2d(32, 32, 3)
        self.max_pool1 = nn.MaxPool2d(2, 2)
        self.conv_layer3 = nn.Conv2d(32, 64, 3)
        self.conv_layer4 = nn.Conv2d(64, 64, 3)
        self.max_pool2 = nn.MaxPool2d(2, 2)
        side = _side(image_size, (3, 1, 0), (3, 1, 0), (2, 2, 0), (3, 1, 0), (3, 1, 0), (2, 2, 0))
        self.fc1 = nn.Linear(64 * side * side, 128)  # 1600 on 32x32
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.max_pool1(self.conv_layer2(self.conv_layer1(x)))
        x = self.max_pool2(self.conv_layer4(self.conv_layer3(x)))
        return self.fc2(self.relu1(self.fc1(x.reshape(x.size(0), -1))))


# ---------------------------------------------------------------- seed002 (MNIST)

class Seed002Net(nn.Module):
    """seed002 `Net`: two conv-BN-ReLU-pool blocks of 4 channels, one linear layer (2,174 params)."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 4, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2, 2)
        side = _side(image_size, (2, 2, 0), (2, 2, 0))
        self.fc = nn.Linear(4 * side * side, num_classes)  # 4*7*7 on 28x28

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class Seed002Keras(nn.Module):
    """seed002's Keras twin: two valid Conv2D(4, 3x3, relu) + MaxPool, Dense(10) (1,198 params)."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.pool = nn.MaxPool2d(2)
        side = _side(image_size, (3, 1, 0), (2, 2, 0), (3, 1, 0), (2, 2, 0))
        self.fc = nn.Linear(4 * side * side, num_classes)  # 4*5*5 on 28x28

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------- seed003 (MNIST)

class Seed003CNN(nn.Module):
    """seed003 `CNN_NN`: conv > max-pool > ReLU > strided conv > ReLU > flatten > linear."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 3, 3, 1, 1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        side = _side(image_size, (3, 1, 1), (2, 2, 0), (3, 2, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(6 * side * side, num_classes)  # 6*7*7 on 28x28

    def forward(self, x):
        x = F.relu(self.pool(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(self.flatten(x))


# ---------------------------------------------------------------- seed004 (CIFAR-10 and MNIST)

class Seed004SimpleCNN(nn.Module):
    """seed004 `SimpleCNN`: three conv-ReLU-pool blocks (32, 64, 128), then 512 > 64 > 10."""

    def __init__(self, in_channels=3, num_classes=10, image_size=32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, 1, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1, 1)
        self.conv3 = nn.Conv2d(64, 128, 3, 1, 1)
        self.pool = nn.MaxPool2d(2, 2)
        side = _side(image_size, (2, 2, 0), (2, 2, 0), (2, 2, 0))
        self.fc1 = nn.Linear(128 * side * side, 512)  # 2048 on 32x32
        self.fc2 = nn.Linear(512, 64)
        self.fc3 = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Seed004CNN(nn.Module):
    """seed004 `CNN` (MNIST): four valid conv-BN-ReLU layers, two max-pools, 1024 > 128 > 10."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, 16), *block(16, 32), nn.MaxPool2d(2),
            *block(32, 64), *block(64, 128), nn.MaxPool2d(2))
        side = _side(image_size, (3, 1, 0), (3, 1, 0), (2, 2, 0), (3, 1, 0), (3, 1, 0), (2, 2, 0))
        self.classifier = nn.Sequential(
            nn.Linear(128 * side * side, 1024), nn.ReLU(),  # 128*4*4 on 28x28
            nn.Linear(1024, 128), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- the project's fast models

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

    def __init__(self, in_channels=3, num_classes=10, image_size=32, widths=(64, 256, 256),
                 stem=None, head_scale=1 / 9, airbench=False):
        super().__init__()
        stem = stem or 2 * in_channels * 2 * 2  # room for a whitening of 2x2 patches (+ and -)
        bn = _BiasOnlyNorm if airbench else nn.BatchNorm2d
        layers = [nn.Conv2d(in_channels, stem, 2, padding=0, bias=True), nn.GELU()]
        cin = stem
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.MaxPool2d(2),
                       bn(w), nn.GELU(), *_conv_bn(w, w, bn)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes, bias=False)
        self.head_scale = head_scale
        if airbench:
            nn.init.zeros_(self.stem.bias)
            for m in self.features[2:]:
                if isinstance(m, nn.Conv2d):
                    with torch.no_grad():
                        nn.init.dirac_(m.weight[:m.in_channels])

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
            raise ConfigError(f"Whitening needs a stem of {2 * c * kh * kw} filters for {c}-channel "
                              f"images; this model's has {conv.out_channels}.")
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
    later one while doing a sixteenth of their arithmetic (README, "CPU"). The logits are halved,
    as airbench scales its head: at full scale a short run's short warm-up let the first steps
    diverge (loss 2.7 -> 31 in 8 steps), and the app's quick run on 5,000 images ended at 19%."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28, widths=(16, 64, 128), head_scale=0.5):
        super().__init__()
        a, b, c = widths
        self.head_scale = head_scale

        def block(cin, cout, pool):
            conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            return [conv, *([nn.MaxPool2d(2)] if pool else []), nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*block(in_channels, a, True),  # 14x14
                                      *block(a, b, True),            # 7x7
                                      *block(b, c, False))
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.head(torch.amax(self.features(x), dim=(2, 3))) * self.head_scale


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., nn.Module]
    dataset: str            # the data set it was written for
    input_shape: tuple      # (C, H, W) it was written for
    recipe: str             # its default recipe preset
    about: str
    kwargs: tuple = ()      # extra builder arguments, as (key, value) pairs

    def build(self, in_channels=None, num_classes=10, image_size=None) -> nn.Module:
        c, h, _ = self.input_shape
        return self.builder(in_channels or c, num_classes, image_size or h, **dict(self.kwargs))


MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("seed000_net", Seed000Net, "mnist", (1, 28, 28), "seed000",
              "seed000 'Complete guide to build CNN in PyTorch and Keras': NeuralNet"),
    ModelSpec("seed000_keras", Seed000Keras, "mnist", (1, 28, 28), "seed000_keras",
              "seed000's Keras twin, in PyTorch"),
    ModelSpec("seed001_convnet", Seed001ConvNet, "cifar10", (3, 32, 32), "seed001",
              "seed001 'Writing CNNs from scratch in PyTorch': ConvNeuralNet"),
    ModelSpec("seed002_net", Seed002Net, "mnist", (1, 28, 28), "seed002",
              "seed002 'Image classification model in PyTorch and TensorFlow': Net"),
    ModelSpec("seed002_keras", Seed002Keras, "mnist", (1, 28, 28), "seed002_keras",
              "seed002's Keras twin, in PyTorch"),
    ModelSpec("seed003_cnn", Seed003CNN, "mnist", (1, 28, 28), "seed003",
              "seed003 'TensorFlow vs PyTorch: CNN': CNN_NN"),
    ModelSpec("seed004_simplecnn", Seed004SimpleCNN, "cifar10", (3, 32, 32), "seed004_simplecnn",
              "seed004 'nn.Conv2d() and nn.MaxPool2d() in CNNs': SimpleCNN"),
    ModelSpec("seed004_cnn", Seed004CNN, "mnist", (1, 28, 28), "seed004",
              "seed004 'nn.Conv2d() and nn.MaxPool2d() in CNNs': CNN"),
    ModelSpec("mnist_fast", MnistFastNet, "mnist", (1, 28, 28), "mnist_fast",
              "project: small BN net for MNIST, fast on a CPU"),
    ModelSpec("cifar10_fast", FastNet, "cifar10", (3, 32, 32), "cifar10_fast",
              "project: airbench94's net for CIFAR-10 on a GPU", kwargs=(("airbench", True),)),
    ModelSpec("cifar10_small", FastNet, "cifar10", (3, 32, 32), "cifar10_small",
              "project: a narrower airbench-style net that trains on a CPU",
              kwargs=(("widths", (32, 64, 128)), ("stem", 16))),
]}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"Unknown model {name!r}. Choose one of: {', '.join(MODELS)}.") from None


def build_model(name: str, in_channels=None, num_classes=10, image_size=None) -> nn.Module:
    return get_spec(name).build(in_channels, num_classes, image_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    from .summary import main
    main()
