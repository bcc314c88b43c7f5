"""Data sources: MNIST, Fashion-MNIST, CIFAR-10 and image folders, each as whole uint8 tensors.

Training reads a whole split as one uint8 tensor (N x C x H x W) so the engine can keep it on the
training device and augment there; no per-image DataLoader runs in the hot loop. Image folders are
decoded once (in parallel) and cached on disk as safetensors, keyed by the files' names, sizes and
modification times.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import DataError

NAMED_SOURCES = ("mnist", "fashion-mnist", "cifar10")
DEFAULT_FOLDER_SIZE = 64  # side length for folders whose images differ in size (the Keras seed's 64x64)
HELD_OUT_FRACTION = 0.2   # test share of a folder that has no train/ and test/ sub-folders
CACHE_FORMAT = 1


def resolve_data_dir(flag: str | os.PathLike | None = None) -> Path:
    """--data-dir flag, else $CNN_DATA_DIR, else ./data."""
    return Path(flag or os.environ.get("CNN_DATA_DIR") or "./data").expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("CNN_CACHE_DIR") or Path.home() / ".cache" / "cnn-playground")


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None, seed: int = 0) -> "Split":
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
    name: str              # 'mnist', 'fashion-mnist', 'cifar10' or the folder's path
    classes: list[str]
    train: Split | None
    test: Split
    skipped: list[str] = field(default_factory=list)  # unreadable files that were left out

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.test.images.shape[1:])


def random_dataset(name: str, shape: tuple[int, int, int], n_train: int, n_test: int,
                   num_classes: int = 10, seed: int = 0) -> Dataset:
    """Random uint8 images and labels of a data set's shape: for timing and warming up a device,
    where the pixels do not matter."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n_train + n_test, *shape), dtype=torch.uint8, generator=g)
    y = torch.randint(0, num_classes, (n_train + n_test,), generator=g)
    return Dataset(name, [str(i) for i in range(num_classes)], Split(x[:n_train], y[:n_train]),
                   Split(x[n_train:], y[n_train:]))


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, train: bool = True,
                 allow_any_path: bool = False, image_size: int | None = None) -> Dataset:
    """Load a named data set or an image folder. train=False loads only the test split.

    A folder is given by its path; a relative path is looked up under the data directory, and
    the folder must stay under the data directory unless allow_any_path is set, so a request
    from the app cannot read arbitrary files on the server.
    """
    data_dir = resolve_data_dir(data_dir)
    key = name.strip().lower()
    if key in ("mnist", "fashion-mnist", "fashion_mnist", "fashionmnist"):
        return _load_torchvision_grey("mnist" if key == "mnist" else "fashion-mnist", data_dir, train)
    if key in ("cifar10", "cifar-10"):
        folder = data_dir / "cifar10"
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            ds = load_image_folder(folder, train=train, image_size=image_size)
            ds.name = "cifar10"
            return ds
        return _load_torchvision_cifar10(data_dir, train)
    return load_image_folder(_checked_folder(name, data_dir, allow_any_path), train=train,
                             image_size=image_size)


# ---------------------------------------------------------------- torchvision data sets

DOWNLOAD_CONNECT_TIMEOUT_S = 5  # offline: give up on the download server after this long
DOWNLOAD_TIMEOUT_S = 30        # a download that stalls this long fails instead of hanging


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
        f"CNN_DATA_DIR) to a directory that has it, or run once with internet access.")


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
            socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)),
                                     timeout=DOWNLOAD_CONNECT_TIMEOUT_S).close()
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


# ---------------------------------------------------------------- image folders

def _checked_folder(name: str, data_dir: Path, allow_any_path: bool) -> Path:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = data_dir / path
    real, base = path.resolve(), data_dir.resolve()
    if not allow_any_path and base != real and base not in real.parents:
        raise DataError(
            f"The folder {real} is outside the data directory {base}. Move or copy it under the "
            f"data directory (a symbolic link to it is refused too), or start with "
            f"--allow-any-path to train on folders anywhere.")
    if not real.is_dir():
        known = ", ".join(NAMED_SOURCES)
        raise DataError(f"No data set named {name!r} and no folder {real}. Use one of {known}, "
                        f"or a folder with one sub-folder of images per class.")
    return real


def load_image_folder(root: str | os.PathLike, *, train: bool = True,
                      image_size: int | None = None) -> Dataset:
    """ImageFolder layout: one sub-folder per class, with train/ and test/ sub-folders when present,
    else a fixed random 20% of each class is held out as the test split."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"The image folder {root} does not exist.")
    has_splits = (root / "train").is_dir() and (root / "test").is_dir()
    base = root / "train" if has_splits else root
    classes = _classes(base)
    base_files = _list_files(base, classes)  # listed once: for the image size and for decoding
    size = image_size or _common_size(base_files)
    if has_splits:
        test = _decode_folder(root / "test", classes, size)
        tr = _decode_folder(base, classes, size, base_files) if train else None
        skipped = (tr.skipped if tr else []) + test.skipped
        return Dataset(str(root), classes, tr.split if tr else None, test.split, skipped)
    whole = _decode_folder(root, classes, size, base_files)
    tr, te = _held_out(whole.split, len(classes))
    return Dataset(str(root), classes, tr if train else None, te, whole.skipped)


def _classes(root: Path) -> list[str]:
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if len(classes) < 2:
        raise DataError(
            f"The image folder {root} has {len(classes)} class sub-folder(s) "
            f"({', '.join(classes) or 'none'}); a classifier needs at least two. Put each class's "
            f"images in a sub-folder named after the class, e.g. {root}/cat/*.png, {root}/dog/*.png.")
    return classes


def _held_out(split: Split, n_classes: int) -> tuple[Split, Split]:
    """A fixed, per-class 20% test split, so every class appears in both halves."""
    g = torch.Generator().manual_seed(0)
    test_idx = []
    for c in range(n_classes):
        idx = (split.labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = max(1, round(len(idx) * HELD_OUT_FRACTION)) if len(idx) > 1 else 0
        test_idx.append(idx[:k])
    test_idx = torch.cat(test_idx)
    mask = torch.ones(len(split), dtype=torch.bool)
    mask[test_idx] = False
    return Split(split.images[mask], split.labels[mask]), Split(split.images[test_idx], split.labels[test_idx])


@dataclass
class _Decoded:
    split: Split
    skipped: list[str]


_File = tuple[str, str, int, int, int]  # path, "class/name" (for the cache key), label, size, mtime_ns


def _list_files(root: Path, classes: list[str]) -> list[_File]:
    """Every file in the class folders, in a fixed order. One stat per file and plain tuples: the
    cache key is built from these, so loading cached CIFAR-10 (60,000 files) costs little more than
    the stats."""
    out = []
    for label, cls in enumerate(classes):
        folder = root / cls
        if not folder.is_dir():
            continue
        for e in sorted(os.scandir(folder), key=lambda e: e.name):
            if e.is_file() and not e.name.startswith("."):
                st = e.stat()
                out.append((e.path, f"{cls}/{e.name}", label, st.st_size, st.st_mtime_ns))
    return out


def _decode_folder(root: Path, classes: list[str], size: int, files: list[_File] | None = None) -> _Decoded:
    files = _list_files(root, classes) if files is None else files
    if not files:
        raise DataError(f"The image folder {root} holds no files in its class sub-folders "
                        f"({', '.join(classes)}).")
    key = hashlib.sha256(json.dumps([CACHE_FORMAT, str(root.resolve()), size,
                                     [(rel, nbytes, mtime) for _, rel, _, nbytes, mtime in files]]).encode()).hexdigest()[:32]
    cached = cache_dir() / f"{key}.safetensors"
    if cached.exists():
        try:
            return _read_cache(cached)
        except Exception:
            pass  # a broken cache is rebuilt below
    paths = [path for path, *_ in files]
    workers = min(os.cpu_count() or 1, 8)
    chunk = max(64, len(paths) // (workers * 4) + 1)
    if len(paths) < 2000 or workers == 1:
        arrays = [_decode_one(p, size) for p in paths]
    else:
        with ProcessPoolExecutor(workers) as pool:
            arrays = list(pool.map(_decode_one, paths, [size] * len(paths), chunksize=chunk))
    good = [i for i, a in enumerate(arrays) if a is not None]
    skipped = [paths[i] for i, a in enumerate(arrays) if a is None]
    if not good:
        raise DataError(f"None of the {len(paths)} files in {root} could be read as an image "
                        f"(for example {paths[0]}). Use PNG, JPEG, BMP, GIF or WebP images.")
    x = np.stack([arrays[i] for i in good])  # N x H x W x 3
    if (x[..., :1] == x).all():  # grey images: keep one channel
        x = x[..., :1]
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([files[i][2] for i in good], dtype=torch.long)
    decoded = _Decoded(Split(images, labels), skipped)
    _write_cache(cached, decoded)
    return decoded


def _common_size(files) -> int:
    """The side of the images when all are square and the same size, else DEFAULT_FOLDER_SIZE."""
    from PIL import Image
    sizes = Counter()
    for path, *_ in files[:: max(1, len(files) // 200)] or files:  # a sample: headers only, no decoding
        try:
            with Image.open(path) as im:
                sizes[im.size] += 1
        except Exception:
            continue
    if len(sizes) == 1:
        (w, h), = sizes
        if w == h:
            return w
    return DEFAULT_FOLDER_SIZE


def _decode_one(path: str, size: int) -> np.ndarray | None:
    """An RGB uint8 array of size x size (centre crop to square, then resize), or None if unreadable."""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as im:
            im.seek(0)
            im = ImageOps.exif_transpose(im).convert("RGB")
            if im.size != (size, size):
                im = ImageOps.fit(im, (size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Exception:
        return None


def _write_cache(path: Path, decoded: _Decoded) -> None:
    from safetensors.torch import save_file
    from .atomic import atomic_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"images": decoded.split.images, "labels": decoded.split.labels}, tmp,
                      metadata={"skipped": json.dumps(decoded.skipped)})
    except OSError:
        pass  # a read-only home: work without the cache


def _read_cache(path: Path) -> _Decoded:
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        skipped = json.loads(f.metadata()["skipped"])
        return _Decoded(Split(f.get_tensor("images"), f.get_tensor("labels")), skipped)
