"""A data set in memory: each split one uint8 tensor (N x C x H x W) and its labels.

Training reads a whole split as one uint8 tensor so the engine can keep it on the training device
and augment there; no per-image DataLoader runs in the hot loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None, seed: int = 0) -> Split:
        """A fixed random sample of n images (all classes represented), or self when n is None."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return Split(self.images[idx], self.labels[idx])

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the images scaled to [0, 1]."""
        x = self.images.float().div_(255).transpose(0, 1).reshape(self.images.shape[1], -1)
        return x.mean(1).tolist(), x.std(1).tolist()


@dataclass
class Dataset:
    name: str  # 'mnist', 'fashion-mnist', 'cifar10' or the folder's path
    classes: list[str]
    train: Split | None
    test: Split
    skipped: list[str] = field(default_factory=list)  # unreadable files that were left out
    kind: str | None = None  # a project's kind ('drawings' or 'photos'); None for other data

    @property
    def preparation(self) -> str:
        """How the app prepares an image for a model of this data (IMAGE_PREPARATIONS)."""
        return image_preparation(self.input_shape[0], self.kind)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.test.images.shape[1:])


# How an image is prepared for a model: 'mnist_digit', a drawing prepared as MNIST was made (the Draw
# tab, cnn.serving.digits), or 'centre_crop', a photo centre-cropped and resized (the Photo tab).
IMAGE_PREPARATIONS = ("mnist_digit", "centre_crop")


def image_preparation(channels: int, kind: str | None = None) -> str:
    """The preparation for a model: a drawings project's is the drawing's, a photos project's the
    photo's; any other data's follows its channels, as the app serves it (every one-channel model
    on the Draw tab: MNIST, Fashion-MNIST, a grey image folder; a colour one on the Photo tab)."""
    if kind in ("drawings", "photos"):
        return "mnist_digit" if kind == "drawings" else "centre_crop"
    return "mnist_digit" if int(channels) == 1 else "centre_crop"


def random_dataset(
    name: str, shape: tuple[int, int, int], n_train: int, n_test: int, num_classes: int = 10, seed: int = 0
) -> Dataset:
    """Random uint8 images and labels of a data set's shape: for timing and warming up a device,
    where the pixels do not matter."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n_train + n_test, *shape), dtype=torch.uint8, generator=g)
    y = torch.randint(0, num_classes, (n_train + n_test,), generator=g)
    return Dataset(
        name, [str(i) for i in range(num_classes)], Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:])
    )
