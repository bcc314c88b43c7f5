"""The named data sources (MNIST, Fashion-MNIST, CIFAR-10) and image folders, behind one call,
`load_dataset`, with the data directory resolved from a flag, $CNN_DATA_DIR or ./data."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch

from ..errors import DataError
from .folders import load_image_folder
from .splits import Dataset, Split

NAMED_SOURCES = ("mnist", "fashion-mnist", "cifar10")
# The (C, H, W) of each named data set's images, known before loading it.
NAMED_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
NAMED_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10}
NAMED_TRAIN_IMAGES = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}  # each training split
FOLDER_TRAIN_IMAGES = 5000  # an image folder's training images, about, before it is read (waits, limits)
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}


def named_source(name: str) -> str | None:
    """The named data set `name` stands for ('mnist', 'fashion-mnist', 'cifar10'), or None for a folder."""
    key = str(name or "").strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in NAMED_SHAPES else None


def train_images_about(name: str) -> int:
    """The training images of data set `name` before it is loaded: a named set's training split, a
    folder's about FOLDER_TRAIN_IMAGES (the one figure the queue's limits and the editor's estimate use)."""
    return NAMED_TRAIN_IMAGES.get(named_source(name) or "", FOLDER_TRAIN_IMAGES)


def resolve_data_dir(flag: str | os.PathLike | None = None) -> Path:
    """--data-dir flag, else $CNN_DATA_DIR, else ./data."""
    return Path(flag or os.environ.get("CNN_DATA_DIR") or "./data").expanduser()


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    train: bool = True,
    allow_any_path: bool = False,
    image_size: int | None = None,
) -> Dataset:
    """Load a named data set or an image folder. train=False loads only the test split.

    A folder is given by its path; a relative path is looked up under the data directory, and
    the folder must stay under the data directory unless allow_any_path is set, so a request
    from the app cannot read arbitrary files on the server.
    """
    data_dir = resolve_data_dir(data_dir)
    key = named_source(name)
    if key in ("mnist", "fashion-mnist"):
        return _load_torchvision_grey(key, data_dir, train)
    if key == "cifar10":
        folder = data_dir / "cifar10"
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            ds = load_image_folder(folder, train=train, image_size=image_size)
            ds.name = "cifar10"
            return ds
        return _load_torchvision_cifar10(data_dir, train)
    return load_image_folder(checked_folder(name, data_dir, allow_any_path), train=train, image_size=image_size)


DOWNLOAD_CONNECT_TIMEOUT_S = 5  # offline: give up on the download server after this long


DOWNLOAD_TIMEOUT_S = 30  # a download that stalls this long fails instead of hanging


def _torchvision_dataset(cls, root: Path, train: bool, what: str):
    """Open a torchvision data set, downloading it only if it is not on disk yet. Offline, it fails
    within seconds (the server is tried first, and every socket of the download has a time limit)."""
    try:
        return cls(root=str(root), train=train, download=False)
    except RuntimeError:
        pass
    reason = _unreachable([getattr(cls, "url", None), *getattr(cls, "mirrors", [])])
    if reason is None:
        old_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torchvision's urlopen calls take no timeout
        try:
            return cls(root=str(root), train=train, download=True)
        except Exception as exc:  # a stalled or failed download, disk full, a corrupt file
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        finally:
            socket.setdefaulttimeout(old_timeout)
    raise DataError(
        f"{what} is not in the data directory {root.resolve()} and could not be downloaded "
        f"({reason}). {_WHAT_TO_PUT[what]} Or pass --data-dir (or set "
        f"CNN_DATA_DIR) to a directory that has it, or run once with internet access."
    )


def _unreachable(urls) -> str | None:
    """None when a download server answers (or a proxy is set), else why none does."""
    import urllib.parse
    import urllib.request

    if urllib.request.getproxies():
        return None  # the download goes through the proxy; the time limits still apply
    reason = "no download address known"
    for url in filter(None, urls):
        u = urllib.parse.urlsplit(url)
        try:
            socket.create_connection(
                (u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=DOWNLOAD_CONNECT_TIMEOUT_S
            ).close()
            return None
        except OSError as exc:
            reason = f"no connection to {u.hostname}: {str(exc) or type(exc).__name__}"
    return reason


_WHAT_TO_PUT = {
    "MNIST": "It should contain MNIST/raw/ with the four IDX files (train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).",
    "Fashion-MNIST": "It should contain FashionMNIST/raw/ with the four IDX files "
    "(train-images-idx3-ubyte, ..., t10k-labels-idx1-ubyte).",
    "CIFAR-10": "It should contain cifar10/train/<class>/*.png and cifar10/test/<class>/*.png, "
    "or the torchvision download cifar-10-batches-py/.",
}


def _load_torchvision_grey(key: str, data_dir: Path, train: bool) -> Dataset:
    import torchvision.datasets as tvd

    cls, what = (tvd.MNIST, "MNIST") if key == "mnist" else (tvd.FashionMNIST, "Fashion-MNIST")

    def split(is_train):
        ds = _torchvision_dataset(cls, data_dir, is_train, what)
        return Split(ds.data.unsqueeze(1).contiguous(), ds.targets.long()), list(ds.classes)

    test, classes = split(False)
    if key == "mnist":
        classes = [str(i) for i in range(10)]  # torchvision says '0 - zero'; the app shows digits
    return Dataset(key, classes, split(True)[0] if train else None, test)


def _load_torchvision_cifar10(data_dir: Path, train: bool) -> Dataset:
    import torchvision.datasets as tvd

    def split(is_train):
        ds = _torchvision_dataset(tvd.CIFAR10, data_dir, is_train, "CIFAR-10")
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return Split(images, torch.tensor(ds.targets, dtype=torch.long)), list(ds.classes)

    test, classes = split(False)
    return Dataset("cifar10", classes, split(True)[0] if train else None, test)


def checked_folder(name: str, data_dir: Path, allow_any_path: bool) -> Path:
    """The image folder `name` names (a relative path is under the data directory), refused with a
    message that says why: it does not exist, it is not a folder, or (unless allow_any_path) it is
    outside the data directory."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = data_dir / path
    real, base = path.resolve(), data_dir.resolve()
    known = ", ".join(NAMED_SOURCES)
    if not real.exists():
        if _looks_like_a_path(name):
            raise DataError(f"The folder {real} does not exist. Check the path, or use one of {known}.")
        raise DataError(
            f"No data set named {name!r} and no folder {real}. Use one of {known}, "
            f"or a folder with one sub-folder of images per class."
        )
    if not allow_any_path and base != real and base not in real.parents:
        raise DataError(
            f"The folder {real} is outside the data directory {base}. Move or copy it under the "
            f"data directory (a symbolic link to it is refused too), or start with "
            f"--allow-any-path to train on folders anywhere."
        )
    if not real.is_dir():
        raise DataError(f"{real} is a file, not a folder. Give a folder with one sub-folder of images per class.")
    return real


def _looks_like_a_path(name: str) -> bool:
    """Whether `name` was written as a path (a/b, /a, ~/a, ./a) rather than as a bare name."""
    name = name.strip()
    return "/" in name or "\\" in name or name.startswith(("~", "."))
