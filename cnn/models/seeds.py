"""The tutorial models (../shared/SEEDS.md), layer for layer as their tutorials wrote them."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _side(size: int, *ops: tuple[int, int, int]) -> int:
    """Spatial side after a chain of (kernel, stride, padding) convolutions or poolings."""
    for k, s, p in ops:
        size = (size + 2 * p - k) // s + 1
    return size


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
            *block(in_channels, 16), *block(16, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 128), nn.MaxPool2d(2)
        )
        side = _side(image_size, (3, 1, 0), (3, 1, 0), (2, 2, 0), (3, 1, 0), (3, 1, 0), (2, 2, 0))
        self.classifier = nn.Sequential(
            nn.Linear(128 * side * side, 1024),
            nn.ReLU(),  # 128*4*4 on 28x28
            nn.Linear(1024, 128),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
