"""Every run kept, as a table: the runs directory's checkpoints and logs, plus the shipped checkpoints.

`list_runs` pairs each `<stem>.safetensors` with its `<stem>.jsonl` log (cnn.runlog) and says what
it can of each run (model, data set, recipe and the settings changed from its preset, epochs, test
accuracy, training seconds, device, date, status) from the checkpoint's metadata alone (never the
weights) and the log, and names what is missing or damaged: a corrupt log, a log without a
checkpoint, a checkpoint without a log. `delete_run` removes a run's files (never a shipped
checkpoint), `import_checkpoint` brings in an uploaded checkpoint, checked like any other.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_path
from .checkpoint import load_checkpoint, read_metadata
from .errors import CheckpointError, CnnError, ConfigError
from .limits import check_file_size
from .models import model_name
from .runlog import RunHistory, RunLogError, log_path, read_log, run_header
from .training.recipes import get_recipe

SHIPPED = "shipped/"  # the key prefix of a shipped checkpoint ('/' is in no run's name)
SHARED = "shared/"  # the key prefix of a run of the app's own folder, read-only to each browser (ui: per-browser mode)
MAX_IMPORT_BYTES = 50_000_000  # an uploaded checkpoint larger than this is refused
# recipe fields that are labels, not settings; and a design's layers, which the model column names
NOT_SETTINGS = ("name", "reported", "notes", "design")
_DELETING = threading.Lock()


class RunIndexError(CnnError):
    """A run cannot be found, deleted or imported."""


@dataclass
class RunEntry:
    """One row of the table: what is known of a run, and what is missing."""

    key: str  # the run's name (its files' stem), or 'shipped/<stem>'
    checkpoint: Path | None = None  # None: there is no checkpoint file
    log: Path | None = None  # None: there is no log file
    shipped: bool = False
    model: str = ""  # what the table names it: the architecture, or a design's summary
    architecture: str = ""  # the model name to build ('design' for a designed net)
    design: list | None = None  # a designed net's layers
    dataset: str = ""
    recipe: dict = field(default_factory=dict)
    overrides: dict | None = None  # settings changed from the named preset (None: preset unknown)
    epochs: float | None = None
    test_accuracy: float | None = None
    train_seconds: float | None = None
    device: str = ""
    date: str = ""
    status: str = ""
    channels: int | None = None  # the model's input channels (1: the Draw tab, 3: the Photo tab)
    n_train: int | None = None
    n_test: int | None = None
    parent: str | None = None  # the run it continued from (its log's header), if any
    project: str | None = None  # the Teach project it was taught (such runs keep no log)
    train_subset: int | None = None  # a quick run's share of the data (its log's header; None: all)
    test_subset: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """It has a checkpoint whose metadata could be read."""
        return self.checkpoint is not None and self.channels is not None


def recipe_overrides(recipe: dict) -> dict | None:
    """The settings of a run's recipe that differ from its named preset (None for an unknown preset)."""
    try:
        preset = _plain(get_recipe(recipe.get("name", "")).as_dict())
    except ConfigError:
        return None
    return {k: v for k, v in _plain(recipe).items() if k not in NOT_SETTINGS and preset.get(k, v) != v}


def _plain(d: dict) -> dict:
    """As stored in JSON (tuples as lists), so that a recipe and its stored copy compare equal."""
    return json.loads(json.dumps(d, default=str))


def list_runs(runs_dir: str | os.PathLike, shipped: tuple = (), shared_dir=None) -> list[RunEntry]:
    """The shipped checkpoints first, then every run in runs_dir, newest first, then (given a
    shared_dir) the runs there, read-only, as 'shared/<name>'."""
    entries = [_entry(f"{SHIPPED}{Path(p).stem}", Path(p), shipped=True) for p in shipped]
    shared = [] if shared_dir is None else _folder_runs(Path(shared_dir), SHARED)
    return entries + _folder_runs(Path(runs_dir)) + shared


def _folder_runs(runs_dir: Path, prefix: str = "") -> list[RunEntry]:
    stems = (
        sorted(
            {
                p.stem
                for pattern in ("*.safetensors", "*.jsonl")
                for p in runs_dir.glob(pattern)
                if not p.name.startswith(".")
            }
        )
        if runs_dir.is_dir()
        else []
    )
    runs = [_entry(prefix + stem, runs_dir / f"{stem}.safetensors") for stem in stems]
    runs.sort(key=lambda e: e.date, reverse=True)
    return runs


def find_run(runs_dir: str | os.PathLike, key: str, shipped: tuple = (), shared_dir=None) -> RunEntry:
    """The run named key (as list_runs names it), or a message that it is not there."""
    if not key:
        raise RunIndexError("Choose a run first.")
    if key.startswith(SHIPPED):
        for p in shipped:
            if f"{SHIPPED}{Path(p).stem}" == key:
                return _entry(key, Path(p), shipped=True)
        raise RunIndexError(f"There is no shipped checkpoint called {key[len(SHIPPED) :]}.")
    prefix = ""
    if key.startswith(SHARED) and shared_dir is not None:  # a run of the shared folder, looked up there alone
        prefix, runs_dir, key = SHARED, shared_dir, key[len(SHARED) :]
    ckpt = Path(runs_dir) / f"{_checked_name(key)}.safetensors"
    if not ckpt.exists() and not log_path(ckpt).exists():
        raise RunIndexError(
            f"The run {prefix}{key} is not there any more (deleted from another page?). Refresh the table."
        )
    return _entry(prefix + key, ckpt)


def _checked_name(key: str) -> str:
    if not key or key != Path(key).name or key.startswith(".") or "\x00" in key:
        raise RunIndexError(f"{key!r} is not the name of a run.")
    return key


def _entry(key: str, ckpt: Path, shipped: bool = False) -> RunEntry:
    log = log_path(ckpt)
    e = RunEntry(key, ckpt if ckpt.is_file() else None, log if log.is_file() else None, shipped)
    history = None
    if e.log is not None:
        try:
            history = _cached_log(str(e.log), *_stamp(e.log))
        except (RunLogError, OSError) as exc:
            e.problems.append(f"log unreadable: {exc}")
    if history is not None:
        _fill_from_log(e, history)
    if e.checkpoint is not None:
        try:
            _fill_from_metadata(e, read_metadata(e.checkpoint))
        except CheckpointError as exc:
            e.problems.append(f"checkpoint unreadable: {str(exc).replace(str(ckpt), ckpt.name)}")
            e.status = e.status or "damaged"
    elif shipped:
        e.problems.append(f"shipped checkpoint missing: {ckpt}")
    else:
        e.problems.append(_no_checkpoint(history))
    if e.log is None and not shipped and e.project is None:  # a Teach run writes no log
        e.problems.append("no log (its training history is missing)")
    if e.recipe:
        e.overrides = recipe_overrides(e.recipe)
    if not e.date:
        e.date = _mtime(e.checkpoint or e.log)
    return e


def _no_checkpoint(history: RunHistory | None) -> str:
    if history is not None and history.failure is not None:
        return f"no checkpoint: the run failed ({history.failure})"
    if history is not None and history.end is not None:
        return "no checkpoint: its file is missing (deleted, or the save failed)"
    return "no checkpoint (the run was killed, or is still training)"


def _fill_from_log(e: RunEntry, h: RunHistory) -> None:
    e.problems += h.problems()
    header, end = h.header or {}, h.end or {}
    meta = end.get("metadata") or {}
    e.recipe = meta.get("recipe") or header.get("recipe") or {}
    e.architecture = meta.get("architecture") or (h.start.model if h.start else "") or e.recipe.get("model", "")
    _name(e, meta.get("design") or e.recipe.get("design"), meta)
    e.dataset = meta.get("dataset") or header.get("dataset", "")
    e.date = meta.get("date") or header.get("created", "")
    e.parent = header.get("parent") or meta.get("parent")
    e.train_subset, e.test_subset = header.get("train_subset"), header.get("test_subset")
    if h.start is not None:
        e.device, e.n_train, e.n_test = h.start.device, h.start.n_train, h.start.n_test
    if h.steps:
        e.epochs = round(h.steps[-1].epoch, 3)
    if h.epochs:
        e.test_accuracy, e.train_seconds = h.epochs[-1].test_accuracy, round(h.epochs[-1].train_seconds, 2)
    if end:
        e.test_accuracy = end.get("test_accuracy", e.test_accuracy)
        e.status = end.get("status", "")
    elif h.failure is not None:
        e.status = "failed"
    elif not h.imported:
        e.status = "incomplete"


def _fill_from_metadata(e: RunEntry, meta: dict) -> None:
    """The checkpoint's metadata: it wins over the log where both say something."""
    e.architecture, e.dataset = meta["architecture"], meta.get("dataset", e.dataset)
    _name(e, meta.get("design"), meta)
    e.recipe = meta.get("recipe") or e.recipe
    e.channels = int(meta["input_shape"][0])
    if isinstance(meta.get("project"), dict):
        e.project = str(meta["project"].get("name") or "")
    for name in ("test_accuracy", "train_seconds", "device", "date", "status"):
        if meta.get(name) is not None:
            setattr(e, name, meta[name])
    if meta.get("epochs_completed") is not None:
        e.epochs = meta["epochs_completed"]


def _name(e: RunEntry, design, meta: dict) -> None:
    """The entry's design (a designed net's) and the name the table shows: its summary."""
    e.design = design if e.architecture == "design" and isinstance(design, list) else None
    classes = meta.get("classes")
    e.model = model_name(e.architecture, e.design, len(classes) if isinstance(classes, list) else None)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=256)
def _cached_log(path: str, size: int, mtime_ns: int) -> RunHistory:
    """A log read once per version of the file (size, mtime): a refresh rereads only what changed."""
    return read_log(path)


def load_history(entry: RunEntry) -> RunHistory | None:
    """The run's log read back (cached), or None when it has none."""
    if entry.log is None:
        return None
    try:
        return _cached_log(str(entry.log), *_stamp(entry.log))
    except (RunLogError, OSError):
        return None


def _mtime(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    except OSError:
        return ""


def delete_run(runs_dir: str | os.PathLike, key: str, protected: tuple = ()) -> list[Path]:
    """Delete a run's checkpoint and log; the shipped checkpoints (and any path in protected) are
    refused. A run already gone (deleted from another page) gives a message."""
    if key.startswith(SHIPPED):
        raise RunIndexError(f"{key[len(SHIPPED) :]} is a shipped checkpoint; it cannot be deleted.")
    if key.startswith(SHARED):
        raise RunIndexError(f"{key} belongs to the app's shared runs, read-only here; it cannot be deleted.")
    ckpt = Path(runs_dir) / f"{_checked_name(key)}.safetensors"
    files = (ckpt, log_path(ckpt))
    guarded = {Path(p).resolve() for p in protected}
    if any(f.resolve() in guarded for f in files):
        raise RunIndexError(f"{key} is a shipped checkpoint; it cannot be deleted.")
    removed = []
    with _DELETING:  # two pages deleting the same run at once: one deletes it, the other is told
        for f in files:
            try:
                f.unlink()
                removed.append(f)
            except FileNotFoundError:
                pass
    if not removed:
        raise RunIndexError(f"The run {key} is already gone (deleted from another page?). Refresh the table.")
    return removed


def safe_stem(name: str) -> str:
    """A file stem made of letters, digits, '-' and '_' only (at most 60 of them)."""
    stem = Path(str(name).replace("\\", "/")).name
    stem = stem[: -len(".safetensors")] if stem.lower().endswith(".safetensors") else Path(stem).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60] or "checkpoint"


def write_import_log(checkpoint: Path, metadata: dict, original_name: str) -> Path:
    """The one-line log of a checkpoint imported from elsewhere (it has no training history here)."""
    header = run_header(
        metadata.get("recipe") or {}, metadata.get("dataset", ""), "import", imported_from=original_name
    )
    path = log_path(checkpoint)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(header, default=str) + "\n", encoding="utf-8")
    return path


def import_checkpoint(
    upload: str | os.PathLike,
    runs_dir: str | os.PathLike,
    original_name: str | None = None,
    max_bytes: int = MAX_IMPORT_BYTES,
    protected: tuple = (),
) -> Path:
    """Copy an uploaded checkpoint into runs_dir (atomically, under a safe unused name), after
    checking it like any other: a size cap, no pickles, weights that fit the model it names."""
    upload = Path(upload)
    shown = original_name or upload.name
    check_file_size(
        upload,
        max_bytes,
        f"The upload {shown} is not there any more; upload it again.",
        lambda size: f"{shown} is {size / 1e6:.1f} MB; checkpoints of up to {max_bytes / 1e6:.0f} MB can be imported.",
        RunIndexError,
    )
    try:
        _, meta = load_checkpoint(upload)
    except CheckpointError as exc:
        raise CheckpointError(str(exc).replace(str(upload), shown)) from None
    runs_dir = Path(runs_dir)
    stem, n = safe_stem(shown), 1
    guarded = {Path(p).resolve() for p in protected}
    while True:
        dest = runs_dir / f"{stem if n == 1 else f'{stem}-{n}'}.safetensors"
        if not dest.exists() and not log_path(dest).exists() and dest.resolve() not in guarded:
            break
        n += 1
    with atomic_path(dest) as tmp:
        shutil.copyfile(upload, tmp)
    write_import_log(dest, meta, shown)
    return dest
