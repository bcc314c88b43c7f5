"""A project as training data, and the one call that loads any training data.

Each example is prepared exactly as its tab prepares what it classifies (cnn.projects.examples:
drawings 1 x 28 x 28, photos 3 x 32 x 32), so the model learns from what it will later see. A share
of each class (at least one example) is held out to check the model; which examples is fixed by
their file names, so a later evaluation (python -m cnn.evaluate) holds out the same ones.
`load_training_data` sends a folder with project.json here and anything else to cnn.data.load_dataset.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from ..data import Dataset, Split, load_dataset, resolve_data_dir
from ..data.sources import NAMED_SOURCES, checked_folder
from ..errors import DataError, ImageError
from .examples import prepare
from .store import MANIFEST, Project

HELD_OUT_FRACTION = 0.2
_MEMO: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # prepared examples, by file and version
_MEMO_LIMIT = 20_000
_MEMO_LOCK = threading.Lock()
_NAMED = set(NAMED_SOURCES) | {"fashion_mnist", "fashionmnist", "cifar-10"}


def load_training_data(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    train: bool = True,
    allow_any_path: bool = False,
    image_size: int | None = None,
) -> Dataset:
    """A project folder (one holding project.json) through `load_project`; a named data set or
    any other image folder through cnn.data.load_dataset (image_size: its images' side)."""
    folder = project_folder(name, data_dir, allow_any_path)
    if folder is not None:
        return load_project(folder, train=train)
    return load_dataset(name, data_dir, train=train, allow_any_path=allow_any_path, image_size=image_size)


def project_folder(name: str, data_dir: str | os.PathLike | None = None, allow_any_path: bool = False) -> Path | None:
    """The project folder `name` names (a path, relative ones under the data directory), or None
    when it names no project. A project outside the data directory is refused unless allow_any_path."""
    key = str(name or "").strip()
    if not key or key.lower() in _NAMED:
        return None
    base = resolve_data_dir(data_dir)
    path = Path(key).expanduser()
    path = path if path.is_absolute() else base / path
    if not (path / MANIFEST).is_file():
        return None
    return checked_folder(key, base, allow_any_path)


def load_project(path: str | os.PathLike, *, train: bool = True) -> Dataset:
    """The project's examples, prepared, in a training split and a held-out split (the test split).
    Refused with a DataError saying what to add: fewer than two classes, a class with no example or
    with only one (one is held out, one is needed to learn from)."""
    project = Project.open(path)
    m = project.manifest()
    kind, classes = m["kind"], m["classes"]
    if len(classes) < 2:
        have = f"only the class {classes[0]['name']!r}" if classes else "no classes yet"
        raise DataError(
            f"The project {m['name']!r} has {have}: teaching needs at least two classes to tell "
            f"apart. Add another class with a few examples."
        )
    parts, skipped = {"train": ([], []), "test": ([], [])}, []

    def readable(files: list[Path]) -> list[tuple[Path, torch.Tensor]]:
        good = []
        for f in files:
            try:
                good.append((f, _prepared(kind, f)))
            except (ImageError, FileNotFoundError) as exc:  # refused, or removed meanwhile
                skipped.append(f"{f}: {exc}")
        return good

    for label, c in enumerate(classes):
        own = project.split_examples(c["name"])  # a hand-made project's train/ and test/
        if own is not None:
            placed = {s: readable(own[s]) for s in ("train", "test")}
            _check_split(c["name"], len(placed["train"]), len(placed["test"]))
        else:
            good = readable(project.examples(c["name"]))
            _check_count(c["name"], len(good))
            held = set(held_out([f.name for f, _ in good]))
            placed = {s: [(f, x) for f, x in good if (f.name in held) == (s == "test")] for s in ("train", "test")}
        for s, examples in placed.items():
            xs, ys = parts[s]
            xs.extend(x for _, x in examples)
            ys.extend([label] * len(examples))
    split = {k: Split(torch.stack(xs), torch.tensor(ys, dtype=torch.long)) for k, (xs, ys) in parts.items()}
    return Dataset(
        str(project.path.resolve()),
        [c["name"] for c in classes],
        split["train"] if train else None,
        split["test"],
        skipped,
        kind=kind,
    )


def _check_count(name: str, n: int) -> None:
    if n == 0:
        raise DataError(
            f"The class {name!r} has no examples yet: add at least two (one is held out to "
            f"check the model, the others are learned from), or delete the class."
        )
    if n == 1:
        raise DataError(
            f"The class {name!r} has only one example: add at least one more. One example "
            f"of each class is held out to check the model, and one is needed to learn from."
        )


def _check_split(name: str, n_train: int, n_test: int) -> None:
    if n_train == 0 or n_test == 0:
        missing = "train" if n_train == 0 else "test"
        raise DataError(
            f"The class {name!r} has no examples in {missing}/{name}/: a project with train/ and test/ "
            f"folders needs examples of every class in both (they are learned from, and checked on)."
        )


def held_out(file_names: list[str]) -> list[str]:
    """The class's examples held out: a fixed share (at least one), picked by a hash of the names,
    so adding examples later rarely moves an old one between the splits."""
    k = max(1, round(len(file_names) * HELD_OUT_FRACTION))
    return sorted(file_names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:k]


def _prepared(kind: str, path: Path) -> torch.Tensor:
    """The example as the model sees it, prepared once per file version (in this process)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, kind)
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    x, _ = prepare(kind, path)
    with _MEMO_LOCK:
        _MEMO[key] = x
        while len(_MEMO) > _MEMO_LIMIT:
            _MEMO.popitem(last=False)
    return x
