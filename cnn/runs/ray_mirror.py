"""A run on a Ray worker, mirrored into the app's Run: what changed since the app last asked
(`delta_of`, on the worker), put into the app's Run (`apply_delta`), its log appended as it grows
(`LocalLog`) and its TensorBoard files brought back at the end (`land_files`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..data import Dataset
from .run import Run

MAX_TENSORBOARD_BYTES = 64 * 1024**2  # a run's TensorBoard files brought back, at most


def delta_of(run: Run | None, seen: dict, folder: Path | None) -> dict:
    """What changed since `seen` (counts of what the app has), as plain data Ray can send."""
    if run is None:
        return {"started": False}
    done = run.done  # read first: what follows is then at least as new
    out = {
        "started": True,
        "status": run.status,
        "note": run.note,
        "recipe": run.recipe,
        "start": run.start if not seen["start"] else None,
        "steps": run.steps[seen["steps"] :],
        "epochs": run.epochs[seen["epochs"] :],
        "warnings": run.warnings[seen["warnings"] :],
        "log": _log_bytes(folder, seen["log"]),
    }
    if run.data is not None and not seen["data"]:  # the test split and classes; not the training images
        out["data"] = Dataset(run.data.name, run.data.classes, None, _on_cpu(run.data.test), run.data.skipped)
    if run.panel_images is not None and not seen["panel"]:
        out["panel"] = (run.panel_images.cpu(), run.panel_labels)
    if run.snapshots != seen["snapshots"]:
        out["snapshot"], out["snapshots"] = _on_cpu(run.snapshot), run.snapshots
    if done:
        end = _on_cpu(dataclasses.replace(run.end, model=None)) if run.end is not None else None
        out.update(
            done=True,
            end=end,
            final_step=run.final_step,
            message=run.message,
            checkpoint=str(run.checkpoint) if run.checkpoint else None,
            tensorboard=_files(folder / "tensorboard") if folder is not None else {},
        )
    return out


def apply_delta(run: Run, d: dict, seen: dict, record: LocalLog) -> None:
    """One `delta_of` answer into the app's Run (and its log's new bytes into the runs folder)."""
    if not d.get("started"):
        return
    if d["log"] is not None:
        name, chunk = d["log"]
        record.append(name, chunk)
        seen["log"] += len(chunk)
    if d["start"] is not None:
        run.start, seen["start"] = d["start"], True
    for key in ("steps", "epochs", "warnings"):
        getattr(run, key).extend(d[key])
        seen[key] += len(d[key])
    if "data" in d:
        run.data, seen["data"] = d["data"], True
    if "panel" in d:
        (run.panel_images, run.panel_labels), seen["panel"] = d["panel"], True
    if "snapshot" in d:
        run.snapshot, run.snapshots = d["snapshot"], d["snapshots"]
        seen["snapshots"] = d["snapshots"]
    run.recipe = d["recipe"] or run.recipe
    if not d.get("done"):  # the final status only once the checkpoint is here
        run.status = d["status"]
    if d.get("done") or not run.stop_event.is_set():  # a stop's note (why it stopped) goes to the worker first
        run.note = d["note"]
    run._touch()


def land_files(root: Path, files: dict[str, bytes]) -> None:
    """Files brought back from a worker, each written atomically under root (names stay inside it)."""
    for name, data in files.items():
        path = (root / name).resolve()
        if not path.is_relative_to(root.resolve()):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root by its relative name (at most MAX_TENSORBOARD_BYTES in all)."""
    out, total = {}, 0
    for p in sorted(root.rglob("*")) if root.is_dir() else []:
        if p.is_file() and total + p.stat().st_size <= MAX_TENSORBOARD_BYTES:
            out[str(p.relative_to(root))] = p.read_bytes()
            total += p.stat().st_size
    return out


def _log_bytes(folder: Path | None, offset: int) -> tuple[str, bytes] | None:
    """(the log's name, its bytes from offset), once the run has one."""
    logs = sorted(folder.glob("*.jsonl")) if folder is not None and folder.is_dir() else []
    if not logs:
        return None
    with open(logs[0], "rb") as f:
        f.seek(offset)
        return logs[0].name, f.read()


def _on_cpu(obj):
    """An event, result or split with its tensors (and its dataclass fields' tensors) on the CPU: the
    app's machine may have no GPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        moved = {
            f.name: _on_cpu(v)
            for f in dataclasses.fields(obj)
            if isinstance(v := getattr(obj, f.name), torch.Tensor) or dataclasses.is_dataclass(v)
        }
        return dataclasses.replace(obj, **moved) if moved else obj
    return obj


class LocalLog:
    """The run's log in the app's runs folder, appended with the worker's bytes as they come."""

    def __init__(self, folder: Path):
        self.folder, self.path, self._file = Path(folder), None, None

    def append(self, name: str, chunk: bytes) -> None:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path = self.folder / Path(name).name
            self._file = open(self.path, "ab")
        if chunk:
            self._file.write(chunk)
            self._file.flush()

    def fail(self, message: str) -> None:
        """The run failed on the app's side (a dead worker): the log's last line says so."""
        if self._file is not None:
            self._file.write((json.dumps({"kind": "failed", "message": message}) + "\n").encode())
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
