"""Image folders (one sub-folder per class): listed, decoded once in parallel, and cached on disk
as safetensors, keyed by the files' names, sizes and modification times."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from safetensors import safe_open
from safetensors.torch import save_file

from ..atomic import atomic_path
from ..cpu_count import usable_cpus
from ..errors import DataError
from ..limits import check_image_size, check_input
from .splits import Dataset, Split

DEFAULT_FOLDER_SIZE = 64  # side length for folders whose images differ in size (the Keras seed's 64x64)


HELD_OUT_FRACTION = 0.2  # test share of a folder that has no train/ and test/ sub-folders


CACHE_FORMAT = 1


def cache_dir() -> Path:
    return Path(os.environ.get("CNN_CACHE_DIR") or Path.home() / ".cache" / "cnn-playground")


def load_image_folder(root: str | os.PathLike, *, train: bool = True, image_size: int | None = None) -> Dataset:
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
    check_input(1, size, len(classes), f"The image folder {root.name}")  # before anything is decoded
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
            f"images in a sub-folder named after the class, e.g. {root}/cat/*.png, {root}/dog/*.png."
        )
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
        raise DataError(f"The image folder {root} holds no files in its class sub-folders ({', '.join(classes)}).")
    key = hashlib.sha256(
        json.dumps(
            [CACHE_FORMAT, str(root.resolve()), size, [(rel, nbytes, mtime) for _, rel, _, nbytes, mtime in files]]
        ).encode()
    ).hexdigest()[:32]
    cached = cache_dir() / f"{key}.safetensors"
    if cached.exists():
        try:
            return _read_cache(cached)
        except Exception:
            pass  # a broken cache is rebuilt below
    paths = [path for path, *_ in files]
    workers = min(usable_cpus(), 8)
    chunk = max(64, len(paths) // (workers * 4) + 1)
    if len(paths) < 2000 or workers == 1:
        arrays = [_decode_one(p, size) for p in paths]
    else:
        with ProcessPoolExecutor(workers) as pool:
            arrays = list(pool.map(_decode_one, paths, [size] * len(paths), chunksize=chunk))
    good = [i for i, a in enumerate(arrays) if a is not None]
    skipped = [paths[i] for i, a in enumerate(arrays) if a is None]
    if not good:
        raise DataError(
            f"None of the {len(paths)} files in {root} could be read as an image "
            f"(for example {paths[0]}). Use PNG, JPEG, BMP, GIF or WebP images."
        )
    x = np.stack([arrays[i] for i in good])  # N x H x W x 3
    if (x[..., :1] == x).all():  # grey images: keep one channel
        x = x[..., :1]
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([files[i][2] for i in good], dtype=torch.long)
    decoded = _Decoded(Split(images, labels), skipped)
    _write_cache(cached, decoded)
    return decoded


def _common_size(files) -> int:
    """The side of the images when all are square and the same size (capped at DEFAULT_FOLDER_SIZE:
    a folder of 420x420 canvases would otherwise train at 420x420), else DEFAULT_FOLDER_SIZE."""
    sizes = Counter()
    for path, *_ in files[:: max(1, len(files) // 200)] or files:  # a sample: headers only, no decoding
        try:
            with Image.open(path) as im:
                sizes[im.size] += 1
        except Exception:
            continue
    if len(sizes) == 1:
        ((w, h),) = sizes
        if w == h:
            return min(w, DEFAULT_FOLDER_SIZE)
    return DEFAULT_FOLDER_SIZE


def _decode_one(path: str, size: int) -> np.ndarray | None:
    """An RGB uint8 array of size x size (centre crop to square, then resize), or None if unreadable
    or over the image limit."""
    try:
        with Image.open(path) as im:
            check_image_size(*im.size)  # over the limit: skipped, from its header (cnn.limits)
            im.seek(0)
            im = ImageOps.exif_transpose(im).convert("RGB")
            if im.size != (size, size):
                im = ImageOps.fit(im, (size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Exception:
        return None


def _write_cache(path: Path, decoded: _Decoded) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(
                {"images": decoded.split.images, "labels": decoded.split.labels},
                tmp,
                metadata={"skipped": json.dumps(decoded.skipped)},
            )
    except OSError:
        pass  # a read-only home: work without the cache


def _read_cache(path: Path) -> _Decoded:
    with safe_open(str(path), framework="pt") as f:
        skipped = json.loads(f.metadata()["skipped"])
        return _Decoded(Split(f.get_tensor("images"), f.get_tensor("labels")), skipped)
