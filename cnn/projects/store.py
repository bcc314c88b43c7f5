"""Projects on disk: an image folder under the data directory (<data-dir>/projects/<folder>/), one
sub-folder per class, and project.json (its name, kind, the classes as typed, dates).

A folder made by hand needs only a project.json with its kind, `{"kind": "drawings"}`: its name is
then the folder's, its classes its sub-folders (in name order), and where it has `train/` and
`test/` sub-folders, their class folders are its training and its held-out examples (SPLITS).

Class names are kept as typed in project.json (slashes, dots, spaces, any script); their folders
get safe names (an ASCII slug, made unique). Every change to project.json happens under a lock (a
thread lock and, across processes, an flock on the project's .lock file) and is written atomically;
examples get unique file names, so two sessions adding at once lose nothing. Every call reads the
project afresh, so a project deleted (or changed) elsewhere is noticed with a clear DataError.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_path
from ..data import resolve_data_dir
from ..errors import DataError
from ..owners import USERS_FOLDER, owner_folder
from .examples import KINDS, same_example, stored_bytes

try:
    import fcntl
except ImportError:  # not on Unix: the thread lock alone
    fcntl = None

MANIFEST = "project.json"
SPLITS = ("train", "test")  # a hand-made project's own split folders, when it has both
PROJECTS_FOLDER = "projects"
MAX_NAME = 60
FORMAT = 1
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
_HELD = threading.local()


def projects_root(data_dir: str | os.PathLike | None = None, owner: str | None = None) -> Path:
    """The folder of owner's projects: <data dir>/projects/users/<owner>/ with logins (cnn.owners),
    <data dir>/projects/ without."""
    return owner_folder(resolve_data_dir(data_dir) / PROJECTS_FOLDER, owner)


def clean_name(name, what: str = "class") -> str:
    """A name as typed, trimmed, or a DataError: empty, too long or with control characters."""
    text = " ".join(str(name or "").split())
    if not text:
        raise DataError(f"Give the {what} a name.")
    if len(text) > MAX_NAME:
        raise DataError(f"The {what} name is {len(text)} characters long; use at most {MAX_NAME}.")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise DataError(f"The {what} name {text!r} holds control characters; use letters, digits and punctuation.")
    return text


def slug(name: str) -> str:
    """A safe folder name for a typed name: ASCII letters, digits, '-' and '_'; a short hash of
    the name when nothing Latin is left (a name in another script)."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^A-Za-z0-9_]+", "-", ascii_).strip("-_").lower()[:40]
    return s or f"c-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ClassInfo:
    name: str  # as typed
    folder: str  # its safe folder name
    count: int  # examples in it


class Project:
    """A project folder. Holds only its path: every call reads project.json again."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"

    # ------------------------------------------------------------ create, open, list

    @classmethod
    def create(cls, name, kind: str, data_dir: str | os.PathLike | None = None, owner: str | None = None) -> Project:
        name = clean_name(name, "project")
        if kind not in KINDS:
            raise DataError(f"A project holds drawings or photos, not {kind!r}.")
        root = projects_root(data_dir, owner)
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root):
            taken = {p.name.casefold() for p in list_projects(data_dir, owner)}
            if name.casefold() in taken:
                raise DataError(f"There is already a project named {name!r}; open it, or pick another name.")
            # the users' folder is no project's, even before anyone logs in
            path = root / _unique(slug(name), {e.name.casefold() for e in root.iterdir()} | {USERS_FOLDER})
            path.mkdir()
            manifest = {
                "format": FORMAT,
                "name": name,
                "kind": kind,
                "classes": [],
                "created": _now(),
                "modified": _now(),
            }
            _write_manifest(path, manifest)
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> Project:
        project = cls(path)
        project.manifest()  # a DataError when it is not a project (or no longer there)
        return project

    def manifest(self) -> dict:
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise self._gone() from None
        except (OSError, ValueError) as exc:
            raise DataError(f"The project file {self.path / MANIFEST} is damaged ({exc}).") from None
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            raise DataError(
                f'{self.path / MANIFEST} is not a project file: it needs a kind, "drawings" or "photos" '
                f'(for example {{"kind": "drawings"}}, the classes then being its sub-folders).'
            )
        if "classes" not in data:  # made by hand: the classes are the sub-folders
            data = self._from_folders(data)
        if not isinstance(data.get("classes"), list):
            raise DataError(f"{self.path / MANIFEST} is damaged: its classes are not a list.")
        data.setdefault("name", self.path.name)
        return data

    def _from_folders(self, data: dict) -> dict:
        """A hand-made project's manifest: its classes are the sub-folders of train/ where it has
        train/ and test/, else its own sub-folders (hidden ones and the split folders aside)."""
        split = all((self.path / s).is_dir() for s in SPLITS)
        base = self.path / SPLITS[0] if split else self.path
        folders = sorted(
            e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith(".") and e.name not in SPLITS
        )
        return dict(data, classes=[{"name": f, "folder": f} for f in folders], splits=split)

    def split_examples(self, name: str) -> dict[str, list[Path]] | None:
        """A hand-made project with train/ and test/: the class's {'train': files, 'test': files};
        None for a project that holds its examples in one folder per class (its held-out share is
        then picked by cnn.projects.loading)."""
        m = self.manifest()
        if not m.get("splits"):
            return None
        folder = self._entry(m, name)["folder"]
        return {s: self._files(f"{s}/{folder}") for s in SPLITS}

    def _gone(self) -> DataError:
        return DataError(
            f"The project at {self.path} is gone: its folder was deleted or moved. "
            f"Create a new project or open another one."
        )

    @property
    def name(self) -> str:
        return self.manifest()["name"]

    @property
    def kind(self) -> str:
        return self.manifest()["kind"]

    # ------------------------------------------------------------ classes

    def classes(self) -> list[ClassInfo]:
        return [ClassInfo(c["name"], c["folder"], len(self.examples(c["name"]))) for c in self.manifest()["classes"]]

    def class_names(self) -> list[str]:
        return [c["name"] for c in self.manifest()["classes"]]

    def _entry(self, manifest: dict, name: str) -> dict:
        for c in manifest["classes"]:
            if c["name"] == name:
                return c
        raise DataError(f"The project {manifest['name']!r} has no class {name!r} (any more).")

    def add_class(self, name) -> ClassInfo:
        name = clean_name(name)
        with self._change() as m:
            if any(c["name"].casefold() == name.casefold() for c in m["classes"]):
                raise DataError(f"There is already a class named {name!r}; class names must differ.")
            taken = {c["folder"].casefold() for c in m["classes"]} | {e.name.casefold() for e in self.path.iterdir()}
            folder = _unique(slug(name), taken | set(SPLITS))
            for where in [f"{s}/{folder}" for s in SPLITS] if m.get("splits") else [folder]:
                (self.path / where).mkdir(parents=True)
            m["classes"].append({"name": name, "folder": folder})
        return ClassInfo(name, folder, 0)

    def rename_class(self, old: str, new) -> None:
        new = clean_name(new)
        with self._change() as m:
            entry = self._entry(m, old)
            if any(c is not entry and c["name"].casefold() == new.casefold() for c in m["classes"]):
                raise DataError(f"There is already a class named {new!r}; class names must differ.")
            entry["name"] = new  # the folder keeps its safe name

    def delete_class(self, name: str) -> None:
        with self._change() as m:
            entry = self._entry(m, name)
            m["classes"].remove(entry)
            _remove_tree(self.path / entry["folder"])

    # ------------------------------------------------------------ examples

    def _files(self, folder: str) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.path / folder), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        return [Path(e.path) for e in entries if e.is_file() and not e.name.startswith(".")]

    def examples(self, name: str) -> list[Path]:
        """The class's example files, oldest first (the names start with the time they were added);
        for a hand-made project with train/ and test/, the training examples, then the held-out ones."""
        split = self.split_examples(name)
        if split is not None:
            return split["train"] + split["test"]
        return self._files(self._entry(self.manifest(), name)["folder"])

    def _class_folder(self, m: dict, name: str) -> Path:
        """Where the class's new examples go: its folder, or its train/ folder in a split project."""
        folder = self._entry(m, name)["folder"]
        return self.path / (f"{SPLITS[0]}/{folder}" if m.get("splits") else folder)

    def add_example(self, name: str, image) -> Path:
        """Check the example (cnn.projects.examples.prepare) and store it under a unique name. An
        example with the very pixels of one the class holds is refused (a drawing added twice)."""
        data, _ = stored_bytes(self.manifest()["kind"], image)
        file = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}.png"
        with self._change() as m:
            folder = self._entry(m, name)["folder"]
            held = [p for s in SPLITS for p in self._files(f"{s}/{folder}")] if m.get("splits") else self._files(folder)
            twin = same_example(data, held)
            if twin is not None:
                raise DataError(
                    f"The class {name!r} already holds this very example ({twin.name}); "
                    "draw or pick a new one (each example should add something)."
                )
            target = self._class_folder(m, name) / file
            with atomic_path(target) as tmp:
                Path(tmp).write_bytes(data)
        return target

    def remove_example(self, name: str, file_name: str) -> None:
        with self._change() as m:
            entry = self._entry(m, name)["folder"]
            bare = Path(str(file_name)).name
            folders = [self.path / s / entry for s in SPLITS] if m.get("splits") else [self.path / entry]
            folder = next((f for f in folders if (f / bare).is_file()), folders[0])
            target = folder / bare  # a bare name: nothing outside the class folder
            if not target.is_file() or target.parent != folder:
                raise DataError(f"The class {name!r} has no example {Path(str(file_name)).name!r} (any more).")
            target.unlink()

    def delete(self) -> None:
        """The whole project, its examples and project.json."""
        with _locked(self.path):
            self.manifest()
            _remove_tree(self.path)

    @contextlib.contextmanager
    def _change(self):
        """project.json read, changed by the caller and written back, all under the lock."""
        with _locked(self.path):
            m = self.manifest()
            yield m
            m["modified"] = _now()
            _write_manifest(self.path, m)


def list_projects(data_dir: str | os.PathLike | None = None, owner: str | None = None) -> list[Project]:
    """owner's projects (everyone's without logins: owner None), by name."""
    root = projects_root(data_dir, owner)
    found = []
    for e in sorted(os.scandir(root), key=lambda e: e.name) if root.is_dir() else []:
        if e.is_dir() and not e.name.startswith(".") and (Path(e.path) / MANIFEST).is_file():
            found.append(Project(e.path))
    named = []
    for p in found:
        with contextlib.suppress(DataError):
            named.append((p.name.casefold(), p))
    return [p for _, p in sorted(named, key=lambda t: t[0])]


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name.casefold() in taken or name.startswith("."):
        name, k = f"{base}-{k}", k + 1
    return name


def _write_manifest(folder: Path, manifest: dict) -> None:
    with atomic_path(folder / MANIFEST) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")


def _remove_tree(path: Path) -> None:
    """Move aside at once (readers never see half a folder), then delete."""
    if not path.exists():
        return
    trash = path.with_name(f".deleted-{uuid.uuid4().hex[:8]}-{path.name}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path):
    """The folder's lock: one thread of this process at a time (re-entrant), and one process."""
    key = str(folder.resolve())
    held = _HELD.__dict__.setdefault("keys", set())
    if key in held:
        yield
        return
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.RLock())
    with lock:
        try:
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            raise Project(folder)._gone() from None
        held.add(key)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            held.discard(key)
            os.close(fd)
